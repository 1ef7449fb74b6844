"""schemathesis, a property-based fuzzer nobody here wrote, drives the API from its OpenAPI.

In-process over ASGI, each operation its own test on the real test database (rolled back),
acting as an admin so that the meter admin routes are exercised too. Its checks: no 5xx for
any generated input, every response conforms to the declared schema, content type and
headers, and every status code is one the operation declares.

``positive_data_acceptance`` is left out: it expects every schema-valid request to succeed,
but some rules cannot be said in JSON Schema (a verse must contain Arabic letters, a meter
name must be known, a search must match something, an id must exist), and those answer 4xx.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from app.api import create_app, current_user
from app.models.user import User
from tests.api.conftest import FORBIDDEN_KEYS, keys_anywhere

#: Examples per operation: small by default so ``make test`` stays fast; raise it locally
#: with ``BAHR_FUZZ_EXAMPLES=500``.
EXAMPLES = int(os.environ.get("BAHR_FUZZ_EXAMPLES", "12"))

APP = create_app()
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)


@pytest.fixture(autouse=True)
def _test_sessions(sessions: Callable[[FastAPI], FastAPI], admin: User) -> Iterator[None]:
    sessions(APP)
    APP.dependency_overrides[current_user] = lambda: admin
    yield
    APP.dependency_overrides.clear()


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_api_conforms_to_its_openapi(case: schemathesis.Case) -> None:
    response = case.call_and_validate(excluded_checks=[positive_data_acceptance])
    content_type = response.headers.get("content-type", [""])[0]
    if content_type.startswith("application/json"):
        assert not keys_anywhere(response.json()) & FORBIDDEN_KEYS
