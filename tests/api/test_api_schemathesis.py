"""Schemathesis against the live server's /api/v1/openapi.json, with a valid bearer token.

- every operation, schema-valid (positive) and schema-violating (negative) inputs: no server
  error, and every response conforms to the document (status code, content type, headers,
  body schema); schema-valid inputs must be accepted except where the engine's own rules
  (an application file's content, a guard) refuse them with 422 by contract;
- stateful: sequences that follow the document's links from the case list to a case, its
  history, actions, previews and transitions, over cases seeded in several states.

The server runs for the module on a frozen clock over a fresh SQLite file. Schemathesis'
pytest integration (`schemathesis.pytest.from_fixture`) does not run under pytest 9, so each
operation is its own Hypothesis test built from ``operation.as_strategy()``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
import time_machine
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from tests.api.apikit import Api, move, new_case, serve_store
from tests.conftest import FROZEN_AT

pytestmark = pytest.mark.slow  # about 30 s for the module

EXAMPLES = 40  # per operation and generation mode
# A login costs an argon2 check (~0.1-0.3 s), whatever the username: fewer of them.
EXAMPLES_OF = {"POST /api/v1/auth/token": 10}
# The fuzzing officer holds every role a case can be acted in, so that generated moves get
# past the account check to the engine's guards more often than not.
FUZZER = "fuzz.officer"
FUZZER_ROLES = ("caseworker", "supervisor", "committee", "auditor")
OTHERS = {
    "applicant": "officer.wong",
    "caseworker": "officer.wong",
    "committee": "committee.cheung",
    "supervisor": "supervisor.ho",
}
OPERATIONS = [
    "GET /api/v1/cases",
    "POST /api/v1/cases",
    "GET /api/v1/cases/{ref}",
    "GET /api/v1/cases/{ref}/history",
    "GET /api/v1/cases/{ref}/actions",
    "POST /api/v1/cases/{ref}/preview",
    "POST /api/v1/cases/{ref}/transitions",
    "GET /api/v1/audit/verify",
    "POST /api/v1/auth/token",
]
# Operations with an input that can be made schema-violating (a path's ``ref`` is any text).
NEGATABLE = set(OPERATIONS) - {
    "GET /api/v1/cases/{ref}/history",
    "GET /api/v1/cases/{ref}/actions",
    "GET /api/v1/audit/verify",
}
POSITIVE, NEGATIVE = schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE
# Schema-valid but refused by the engine's rules, by contract (422 with reasons): a random
# application file, a random move on a random case, a random login.
BUSINESS_RULES = {
    "POST /api/v1/cases",
    "POST /api/v1/cases/{ref}/preview",
    "POST /api/v1/cases/{ref}/transitions",
}
SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,  # nothing written to .hypothesis/
    suppress_health_check=list(HealthCheck),
)


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    folder = tmp_path_factory.mktemp("schemathesis")
    with time_machine.travel(FROZEN_AT, tick=False), serve_store(folder / "api.db") as api:
        api.add_account(FUZZER, *FUZZER_ROLES)
        for upto in (None, "submit", "issue_file_number", "shortlist", "allot_quota", "pay_fee"):
            case_id = new_case(api.store)
            if upto:
                move(api.store, case_id, upto, OTHERS)
        yield api


def load(live: Api) -> Any:
    schema = schemathesis.openapi.from_url(live.url + "/api/v1/openapi.json")
    schema.config.update(headers={"Authorization": f"Bearer {live.token(FUZZER)}"})
    return schema


def test_the_operations_here_are_the_documents(live: Api) -> None:
    document = live.anonymous().get("/openapi.json").json()
    found = {f"{m.upper()} {p}" for p, ops in document["paths"].items() for m in ops}
    assert found == set(OPERATIONS)


@pytest.mark.parametrize(
    ("label", "mode"),
    [pytest.param(op, POSITIVE, id=f"{op} positive") for op in OPERATIONS]
    + [pytest.param(op, NEGATIVE, id=f"{op} negative") for op in OPERATIONS if op in NEGATABLE],
)
def test_each_operation(live: Api, label: str, mode: schemathesis.GenerationMode) -> None:
    method, path = label.split(" ")
    operation = load(live)[path][method]
    excluded = [positive_data_acceptance] if label in BUSINESS_RULES else []

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(SETTINGS, max_examples=EXAMPLES_OF.get(label, EXAMPLES))
    def run(case: schemathesis.Case) -> None:
        case.call_and_validate(excluded_checks=excluded)

    run()


def test_stateful_sequences_follow_the_links(live: Api) -> None:
    schema = load(live)
    schema.config.generation.update(modes=[POSITIVE])
    seen: dict[tuple[str, int], int] = {}

    class Sequences(schema.as_state_machine()):  # type: ignore[misc]
        def after_call(self, response: Any, case: schemathesis.Case) -> None:
            super().after_call(response, case)
            key = (f"{case.method} {case.path}", response.status_code)
            seen[key] = seen.get(key, 0) + 1

        def validate_response(
            self, response: Any, case: schemathesis.Case, additional_checks: Any = None, **kw: Any
        ) -> None:
            excluded = [positive_data_acceptance] if _label(case) in BUSINESS_RULES else []
            case.validate_response(
                response,
                excluded_checks=excluded,
                transport_kwargs=kw or None,
                recorder=getattr(self, "recorder", None),
            )

    Sequences.run(settings=settings(SETTINGS, stateful_step_count=6))
    # the links were followed: real cases were read and moved, not only random refs
    assert seen.get(("GET /api/v1/cases/{ref}", 200), 0) > 0, seen
    moves = {"POST /api/v1/cases/{ref}/preview", "POST /api/v1/cases/{ref}/transitions"}
    assert any(op in moves and code != 404 for op, code in seen), seen


def _label(case: schemathesis.Case) -> str:
    return f"{case.method} {case.path}"
