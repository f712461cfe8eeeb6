"""Tests of the reference storage element: a real PostgreSQL, the service as a real process."""
