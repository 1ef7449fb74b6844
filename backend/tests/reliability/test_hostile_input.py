"""A corpus of hostile inputs in every field: each is rejected with a typed error, or stored
and read back byte for byte; table counts show nothing extra."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy import text
from sqlalchemy.orm import Session

from app.errors import BahrDataError
from app.repositories.analysis_repository import AnalysisRepository
from app.repositories.user_repository import UserRepository
from app.schemas.user import ProfileUpdate, UserCreate
from tests.reliability.conftest import ReliabilityDb
from tests.reliability.report import record

MB = 1024 * 1024
_deep: dict[str, Any] = {}
_cursor = _deep
for _ in range(200):
    _cursor["x"] = {}
    _cursor = _cursor["x"]

TEXTS = {
    "nul": "قفا\x00نبك",
    "lone_surrogate": "قفا\ud800نبك",
    "one_megabyte": "ب" * MB,
    "rtl_override": "\u202eقفا نبك\u202c evil",
    "bidi_isolates": "\u2067قفا\u2069 \u200fنبك",
    "sql_injection": "'; DROP TABLE users; -- قفا",
    "sql_injection_2": 'قفا" OR 1=1; SELECT pg_sleep(10); --',
    "format_string": "%s %(x)s {0} قفا",
    "zalgo": "ق" + "\u0651\u064e" * 50 + "فا",
    "emoji": "قفا 🐪 نبك",
    "json_like": '{"a": [1, 2]} قفا',
    "backslashes": "قفا\\\\نبك\\'",
    "control": "قفا\x07\x1b[31mنبك",
    "empty": "",
    "spaces": "   \t\n ",
}
METADATA = {
    "nested_200": _deep,
    "huge": {"x": "a" * MB},
    "nul_key": {"a\x00b": 1},
    "surrogate_value": {"a": "\udfff"},
    "array": [1, 2, 3],
    "injection": {"'; DROP TABLE analyses; --": "x"},
    "nan": {"x": float("nan")},
    "fine": {"engine_version": "1.2", "poet": "امرؤ القيس"},
}
CONFIDENCE = {
    "nan": "NaN",
    "inf": float("inf"),
    "-inf": "-Infinity",
    "big": 1e308,
    "neg": -0.0001,
    "many_decimals": "0.123456",
    "string": "high",
    "ok": "0.5",
}
UUIDS = ["not-a-uuid", "", "' OR 1=1 --", "00000000-0000-0000-0000-00000000000g", "\x00"]


def counts(session: Session) -> dict[str, int]:
    return {
        t: session.execute(text(f"SELECT count(*) FROM {t}")).scalar_one()
        for t in ("users", "user_profiles", "analyses", "analysis_history")
    }


class Outcome:
    def __init__(self) -> None:
        self.rejected = 0
        self.stored = 0

    def attempt(
        self, session: Session, write: Callable[[], Any], read_back: Callable[[Any], None]
    ) -> None:
        """The write either raises a typed error (and nothing changes) or round-trips."""
        before = counts(session)
        try:
            result = write()
        except (ValidationError, BahrDataError):
            session.rollback()
            assert counts(session) == before
            self.rejected += 1
            return
        read_back(result)
        self.stored += 1


@pytest.fixture
def session(reliability_db: ReliabilityDb) -> Iterator[Session]:
    with Session(reliability_db.app, expire_on_commit=True) as session:
        yield session


def test_hostile_text_in_every_user_and_profile_field(session: Session) -> None:
    repo = UserRepository(session)
    outcome = Outcome()
    serial = itertools.count()
    for value in TEXTS.values():
        for field in ("username", "email", "full_name", "password"):
            n = next(serial)
            data = {
                "username": f"h{n}",
                "email": f"h{n}@example.com",
                "password": "a long password",
                "full_name": "Hostile",
            }
            data[field] = value if field != "email" else f"{value}@example.com"

            def check(user: Any, field: str = field, data: dict[str, Any] = data) -> None:
                session.expire_all()
                fresh = repo.get_by_id(user.id)
                assert fresh is not None
                if field != "password":
                    # What the schema accepted: EmailStr normalises an address (NFC, domain
                    # case); every other field is kept exactly as given.
                    accepted = getattr(UserCreate.model_validate(data), field)
                    assert getattr(fresh, field).encode() == accepted.encode()
                    if field != "email":
                        assert accepted == data[field]
                assert repo.authenticate(fresh.username, data["password"]) is not None

            outcome.attempt(session, lambda data=data: repo.register(data), check)
        user = repo.register(
            {
                "username": f"prof{next(serial)}",
                "email": f"prof{next(serial)}@example.org",
                "password": "a long password",
                "full_name": "P",
            }
        )
        for field in ("bio", "location", "website", "avatar_url"):

            def write(field: str = field, user_id: int = user.id, value: str = value) -> Any:
                return repo.update_profile(user_id, ProfileUpdate.model_validate({field: value}))

            def check_profile(profile: Any, field: str = field, value: str = value) -> None:
                session.expire_all()
                fresh = repo.get_profile(profile.user_id)
                assert getattr(fresh, field).encode() == value.encode()

            outcome.attempt(session, write, check_profile)
    record("hostile_users", rejected=outcome.rejected, stored=outcome.stored)
    assert outcome.rejected
    assert outcome.stored


def test_hostile_input_in_every_analysis_field(session: Session) -> None:
    repo = AnalysisRepository(session)
    outcome = Outcome()
    base = {"original_text": "قفا نبك من ذكرى حبيب", "pattern": "//o/o"}

    def check_equal(data: dict[str, Any]) -> Callable[[Any], None]:
        def check(analysis: Any) -> None:
            session.expire_all()
            fresh = repo.get(analysis.id)
            assert fresh is not None
            assert fresh.original_text.encode() == data["original_text"].encode()
            assert fresh.pattern == data["pattern"]
            if "metadata" in data:
                assert fresh.meta == data["metadata"]
            label = data.get("detected_meter")
            # A blank label means "no meter", by design.
            assert fresh.detected_meter == (label if label and label.strip() else None)
            if data.get("confidence") is not None:
                assert fresh.confidence == Decimal(str(data["confidence"]))

        return check

    cases: list[dict[str, Any]] = []
    cases += [{**base, "original_text": v} for v in TEXTS.values()]
    cases += [{**base, "pattern": v} for v in TEXTS.values()]
    cases += [{**base, "detected_meter": v} for v in TEXTS.values()]
    cases += [{**base, "metadata": v} for v in METADATA.values()]
    cases += [{**base, "confidence": v} for v in CONFIDENCE.values()]
    for data in cases:
        outcome.attempt(session, lambda data=data: repo.create(data), check_equal(data))
    for bad in UUIDS:
        with pytest.raises(BahrDataError):
            repo.get(bad)
        with pytest.raises(BahrDataError):
            repo.delete(bad)
    for query in list(TEXTS.values()):
        try:
            repo.search(query)
            repo.search_fragment(query)
        except BahrDataError:
            outcome.rejected += 1
    record(
        "hostile_analyses",
        cases=len(cases),
        rejected=outcome.rejected,
        stored=outcome.stored,
        uuids_rejected=len(UUIDS) * 2,
    )
    assert outcome.rejected
    assert outcome.stored
