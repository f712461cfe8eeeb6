"""se-conformance harness: bring a storage element up, drive it over HTTP, inspect it read-only."""

from harness.errors import HarnessError, TargetNotReady, ConfigurationError

__all__ = ["ConfigurationError", "HarnessError", "TargetNotReady"]
__version__ = "0.1.0"
