"""The shipped JSON Schemas are valid and agree with the shipped sidecar samples."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"


def load(rel: str) -> dict[str, object]:
    data = json.loads((FIXTURES / rel).read_text())
    assert isinstance(data, dict)
    return data


@pytest.mark.parametrize("name", sorted(p.name for p in (FIXTURES / "schemas").glob("*.schema.json")))
def test_schema_is_a_valid_draft_2020_12_schema(name: str) -> None:
    jsonschema.Draft202012Validator.check_schema(load(f"schemas/{name}"))


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_sample_sidecar_matches_its_schema(version: str) -> None:
    jsonschema.validate(load(f"sidecars/{version}-example.attr.json"), load(f"schemas/sidecar-{version}.schema.json"))


def test_v2_schema_requires_what_v1_lacks() -> None:
    # A v1 sidecar (no schema_version, no custom_attributes) is not a v2 sidecar: readers must convert it.
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(load("sidecars/v1-example.attr.json"), load("schemas/sidecar-v2.schema.json"))


def test_v2_schema_refuses_a_wrong_checksum_shape() -> None:
    sample = load("sidecars/v2-example.attr.json")
    sample["checksum"] = "NOT-HEX"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(sample, load("schemas/sidecar-v2.schema.json"))
