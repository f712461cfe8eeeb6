"""ArtStore reference storage element: the implementation the conformance suite is measured against."""

__version__ = "0.1.0"
