"""Helpers shared by the suite's test modules (data, HTTP checks, file operations, SE lifecycles)."""
