"""Fixtures of this area that live in ``suites.support.inspect``."""

from suites.support.inspect import sidecar_v1_schema, sidecar_v2_schema

__all__ = ["sidecar_v1_schema", "sidecar_v2_schema"]
