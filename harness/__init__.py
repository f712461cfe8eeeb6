"""se-conformance harness: bring a storage element up, drive it over HTTP, inspect it read-only."""

from harness.errors import ConfigurationError, HarnessError, TargetNotReady

__all__ = ["ConfigurationError", "HarnessError", "TargetNotReady"]
__version__ = "0.1.0"
