"""Property-based API test: schemathesis generates requests from the service's own /openapi.json
(with a valid service-account token) and checks there is no 5xx and that every response conforms
to the published schema (status code, content type, headers, body). Positive examples follow the
schema; negative ones break it on purpose (and must still get a documented 4xx)."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.reference.conftest import SEFactory
from tests.reference.jwt_helper import Tokens
from tests.reference.seproc import SEProcess

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_headers_conformance, response_schema_conformance]  # fmt: skip


@pytest.fixture(scope="module")
def fuzz_se(se_factory: SEFactory) -> SEProcess:
    return se_factory("fuzz", capacity=64 * 1024 * 1024)


@pytest.mark.slow
def test_api_conforms_to_its_schema(fuzz_se: SEProcess, tokens: Tokens) -> None:
    # Driven through schemathesis' Python API rather than its pytest integration, whose lazy
    # fixture loader does not work with pytest 9 (AttributeError: 'Function' has no '_nodeid').
    api = schemathesis.openapi.from_url(fuzz_se.url + "/openapi.json")
    headers = {"Authorization": f"Bearer {tokens.service}"}
    failures: list[str] = []
    operations = [result.ok() for result in api.get_all_operations()]  # type: ignore[union-attr]
    assert len(operations) >= 15
    plan = [(op, GenerationMode.POSITIVE, 12) for op in operations]
    plan += [(op, GenerationMode.NEGATIVE, 8) for op in operations]
    for operation, mode, examples in plan:

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=examples,
            deadline=None,
            database=None,  # no .hypothesis/ directory in the repository
            suppress_health_check=list(HealthCheck),
            derandomize=True,  # the same examples every run: a failure here is reproducible
            phases=[Phase.explicit, Phase.generate],  # no shrinking: report, do not minimise
        )
        def run(case: Any) -> None:
            case.call_and_validate(base_url=fuzz_se.url, headers=headers, checks=CHECKS, timeout=30)

        try:
            run()
        except Unsatisfiable:  # nothing to negate (an operation without parameters)
            continue
        except Exception as exc:
            failures.append(f"{operation.label} ({mode.value}): {exc}")
    assert failures == [], "\n\n".join(failures)
