"""Schemathesis against every route in each service's OpenAPI document, as every kind of caller.

Each operation gets schema-valid and schema-violating inputs (path, query, headers, body),
sent over real HTTP to the running service by a caller drawn from: no token, a malformed
token, a well-formed unknown token, and a valid token of each role. Every response must be
no 5xx, a status the document declares for the operation, the declared content type, and
a body matching the declared schema. Failures are collected (with a curl line to reproduce)
rather than raised, so one route's bug does not hide the others'.
"""

from __future__ import annotations

from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.fuzz.conftest import examples
from tests.fuzz.platform import SERVICES, Platform
from tests.fuzz.tally import TALLY

# Generous: the first test also waits for the platform to start on a loaded machine.
pytestmark = [pytest.mark.fuzz, pytest.mark.timeout(900)]

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
# Inputs per operation and generation mode, at MODELBUS_FUZZ_SCALE=1.
PER_OPERATION = 100


def callers(platform: Platform) -> list[tuple[str, dict[str, str]]]:
    """Who sends: nobody, liars, and each role."""
    found: list[tuple[str, dict[str, str]]] = [
        ("anonymous", {}),
        ("malformed", {"Authorization": "Bearer not-a-token"}),
        ("unknown", {"Authorization": f"Bearer mb_{'0' * 12}_{'A' * 43}"}),
        ("basic", {"Authorization": "Basic YWRtaW46YWRtaW4="}),
    ]
    found += [(role, {"Authorization": f"Bearer {t}"}) for role, t in platform.tokens.items()]
    return found


@pytest.mark.parametrize("service", SERVICES)
def test_every_route_answers_hostile_callers_within_its_contract(
    platform: Platform, service: str
) -> None:
    schema = schemathesis.openapi.from_dict(platform.apps[service].openapi())
    base_url = platform.url(service)
    session = requests.Session()
    who = callers(platform)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert operations, f"{service} documents no operation"

    for operation in operations:
        label = f"{service} {operation.method.upper()} {operation.path}"
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            try:
                fuzz(operation.as_strategy(generation_mode=mode), label, base_url, session, who)
            except Unsatisfiable:
                # Nothing in this operation can be made invalid (no parameters, no body).
                assert mode is GenerationMode.NEGATIVE, label

    failures = {k: v for k, v in TALLY.failures.items() if k[1].startswith(f"{service} ")}
    assert not failures, _describe(failures)


def fuzz(
    strategy: Any,
    label: str,
    base_url: str,
    session: requests.Session,
    who: list[tuple[str, dict[str, str]]],
) -> None:
    @settings(max_examples=examples(PER_OPERATION))
    @given(case=strategy, caller=st.sampled_from(who))
    def send(case: Any, caller: tuple[str, dict[str, str]]) -> None:
        TALLY.tried("http", label)
        try:
            response = case.call(base_url=base_url, session=session, headers=caller[1], timeout=30)
            case.validate_response(response, checks=CHECKS, headers=caller[1])
        except (Exception, FailureGroup) as exc:  # failed checks, a dropped connection
            TALLY.failed("http", label, f"as {caller[0]}: {exc}"[:3000])

    send()


def _describe(failures: dict[tuple[str, str], list[str]]) -> str:
    lines = []
    for (_, target), found in failures.items():
        lines.append(f"{target}: {len(found)} failing inputs; first:\n{found[0]}")
    return "\n\n".join(lines)
