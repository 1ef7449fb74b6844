"""16 threads × mixed operations through the production pool (5 + 10): no deadlock, no lost
update, and unique-key races end in AlreadyExists."""

from __future__ import annotations

import random
import threading
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session

from app.errors import AlreadyExists
from app.models.analysis import AnalysisHistory
from app.models.user import UserProfile
from app.repositories.analysis_repository import AnalysisRepository
from app.repositories.user_repository import UserRepository
from app.schemas.user import UserCreate
from tests.reliability.conftest import STRESS, ReliabilityDb
from tests.reliability.report import record

THREADS = 16
OPS_PER_THREAD = 500 if STRESS else 40
VERSES = [
    "قفا نبك من ذكرى حبيب ومنزل",
    "الخيل والليل والبيداء تعرفني",
    "ألا ليت الشباب يعود يوما",
    "إذا الشعب يوما أراد الحياة",
]


@dataclass
class Ledger:
    """What each thread did, to check against the database afterwards."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    xp: Counter[int] = field(default_factory=Counter)
    events: dict[uuid.UUID, int] = field(default_factory=lambda: defaultdict(int))
    live: set[uuid.UUID] = field(default_factory=set)
    ops: Counter[str] = field(default_factory=Counter)
    races: int = 0
    skipped: int = 0
    unexpected: list[BaseException] = field(default_factory=list)


def worker(n: int, db: ReliabilityDb, users: list[int], ledger: Ledger) -> None:
    rng = random.Random(n)
    mine: list[uuid.UUID] = []
    with Session(db.app, expire_on_commit=False) as session:
        users_repo = UserRepository(session)
        analyses = AnalysisRepository(session)
        for i in range(OPS_PER_THREAD):
            op = rng.choices(
                ["register", "create", "update", "search", "xp", "delete"],
                weights=[3, 25, 20, 20, 22, 10],
            )[0]
            target_missing = not mine
            try:
                if op == "register":
                    # Half the registrations race for a name another thread also wants.
                    name = f"race_{i % 7}" if rng.random() < 0.5 else f"solo_{n}_{i}"
                    try:
                        users_repo.register(
                            UserCreate(
                                username=name,
                                email=f"{name}.{n}.{i}@example.com",
                                password="stress password",
                                full_name="ضغط",
                            )
                        )
                    except AlreadyExists:
                        with ledger.lock:
                            ledger.races += 1
                elif op == "create":
                    owner = rng.choice(users)
                    created = analyses.create(
                        {
                            "original_text": rng.choice(VERSES),
                            "pattern": "//o/o",
                            "detected_meter": rng.choice(["الطويل", "البسيط", None]),
                        },
                        user_id=owner,
                    )
                    mine.append(created.id)
                    with ledger.lock:
                        ledger.events[created.id] += 1
                        ledger.live.add(created.id)
                elif op == "update" and mine:
                    target = rng.choice(mine)
                    # A new value every time: an update that changes nothing is no event.
                    with ledger.lock:
                        feet = ledger.events[target]
                    analyses.update_result(target, {"pattern": "//o/o " + "/o" * feet})
                    with ledger.lock:
                        ledger.events[target] += 1
                elif op == "search":
                    analyses.search(rng.choice(["ليل", "الشباب", "حبيب or خيل"]), limit=5)
                elif op == "xp":
                    target_user = rng.choice(users)
                    users_repo.add_xp(target_user, 7)
                    with ledger.lock:
                        ledger.xp[target_user] += 7
                elif op == "delete" and mine:
                    target = mine.pop(rng.randrange(len(mine)))
                    assert analyses.delete(target) is True
                    with ledger.lock:
                        ledger.events[target] += 1
                        ledger.live.discard(target)
                with ledger.lock:
                    if op in {"update", "delete"} and target_missing:
                        ledger.skipped += 1
                    else:
                        ledger.ops[op] += 1
            except Exception as exc:  # collected and asserted empty by the test
                ledger.unexpected.append(exc)
                session.rollback()


def register_load_users(engine: Engine, prefix: str, count: int = 6) -> list[int]:
    """The users the mix adds XP to, committed."""
    with Session(engine) as session:
        repo = UserRepository(session)
        return [
            repo.register(
                UserCreate(
                    username=f"{prefix}_{k}",
                    email=f"{prefix}{k}@example.com",
                    password="stress password",
                    full_name="حمل",
                )
            ).id
            for k in range(count)
        ]


def run_mix(db: ReliabilityDb, users: list[int], *, timeout: float = 600) -> Ledger:
    """``THREADS`` workers of the mix on ``db.app``; every thread must finish."""
    ledger = Ledger()
    threads = [
        threading.Thread(target=worker, args=(n, db, users, ledger), daemon=True)
        for n in range(THREADS)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=timeout)
    assert not any(t.is_alive() for t in threads), "a worker is stuck (deadlock?)"
    return ledger


def assert_ledger_adds_up(owner: Engine, users: list[int], ledger: Ledger) -> None:
    """XP, history events and surviving analyses in the database are exactly the ledger's."""
    with Session(owner) as session:
        xp = dict(
            session.execute(
                select(UserProfile.user_id, UserProfile.xp).where(UserProfile.user_id.in_(users))
            ).all()
        )
        assert xp == {u: ledger.xp[u] for u in users}
        history = dict(
            session.execute(
                select(AnalysisHistory.analysis_id, func.count())
                .where(AnalysisHistory.analysis_id.in_(list(ledger.events)))
                .group_by(AnalysisHistory.analysis_id)
            ).all()
        )
        assert history == dict(ledger.events)
        live = set(
            session.execute(
                text("SELECT id FROM analyses WHERE id = ANY(:ids)"), {"ids": list(ledger.events)}
            ).scalars()
        )
        assert live == ledger.live


def test_mixed_load_adds_up_exactly(reliability_db: ReliabilityDb) -> None:
    db = reliability_db
    users = register_load_users(db.app, "load")
    ledger = run_mix(db, users)
    assert ledger.unexpected == []
    assert_ledger_adds_up(db.owner, users, ledger)

    with Session(db.owner) as session:
        winners = session.execute(
            text("SELECT count(*) FROM users WHERE username LIKE 'race\\_%'")
        ).scalar_one()
    total = sum(ledger.ops.values())
    # Every iteration ran an operation, except updates and deletes drawn before the thread
    # had an analysis of its own.
    assert total + ledger.skipped == THREADS * OPS_PER_THREAD
    record(
        "concurrency",
        threads=THREADS,
        operations=total,
        by_kind=dict(ledger.ops),
        unique_races_lost=ledger.races,
        race_winners=winners,
        failures=len(ledger.unexpected),
        analyses_checked=len(ledger.events),
        users_checked=len(users),
    )
