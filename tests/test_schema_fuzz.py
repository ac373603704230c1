"""schemathesis against /openapi.json: no 5xx and every response matches the documented schema.

Checks: `not_a_server_error` and `response_schema_conformance`. Left out: `status_code_conformance`
(every error is documented under `default`, so it can never fail), `negative_data_rejection` and
`positive_data_acceptance` (their notion of valid data is the schema's, but the service validates more
than the schema says: the configurable text limit, control characters in names, URL schemes).
Positive mode (valid bodies) and negative mode (schema-violating ones) each get EXAMPLES cases per
operation, derandomized, without shrinking, so the run is bounded and repeatable.

schemathesis' own pytest fixture loader (`schemathesis.pytest.from_fixture`) fails under pytest 9
(`'Function' object has no attribute '_nodeid'`), so each operation's strategy is driven here with
hypothesis directly; failures of every operation are collected and reported together.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import response_schema_conformance

from tests.helpers import auth, comment

EXAMPLES = 25
CHECKS = [not_a_server_error, response_schema_conformance]


def _fuzz(schema: Any, headers: dict[str, str], comment_id: str, mode: GenerationMode) -> list[str]:
    """Run EXAMPLES cases per operation in mode; return one line per failing operation."""
    failures: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        strategy = operation.as_strategy(generation_mode=mode)
        if "{comment_id}" in operation.path:
            # Half the cases name a real comment, so the 200 paths are exercised, not only 404.
            known = operation.as_strategy(generation_mode=mode, path_parameters={"comment_id": comment_id})
            strategy = st.one_of(strategy, known)

        @given(case=strategy)
        @settings(
            max_examples=EXAMPLES, derandomize=True, deadline=None, database=None,
            suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate],
        )  # fmt: skip
        def run(case: Any) -> None:
            case.call_and_validate(headers=headers, checks=CHECKS)

        try:
            run()
        except Unsatisfiable:
            # Negative mode on an operation with nothing to get wrong (no body, no parameters).
            assert mode is GenerationMode.NEGATIVE, operation.label
        except (Exception, FailureGroup) as exc:  # noqa: BLE001 - report every operation, not only the first
            detail = "\n".join(str(exc).splitlines()[:12])
            failures.append(f"{operation.method.upper()} {operation.path}: {detail}")
    return failures


@pytest.fixture
def fuzz_schema(app: Any) -> Any:
    """The app's own OpenAPI document, loaded and called over WSGI."""
    return schemathesis.openapi.from_wsgi("/openapi.json", app)


@pytest.fixture
def known_comment(client: Any, keys: dict[str, str]) -> str:
    response = client.post("/v1/comments", json=comment(), headers=auth(keys["client"]))
    assert response.status_code == 201
    return response.json["id"]


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=str)
def test_every_operation_answers_without_5xx_and_as_documented(
    fuzz_schema: Any, keys: dict[str, str], known_comment: str, mode: GenerationMode
) -> None:
    failures = _fuzz(fuzz_schema, auth(keys["admin"]), known_comment, mode)
    assert not failures, "\n\n".join(failures)
