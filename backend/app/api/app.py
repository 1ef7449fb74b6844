"""The ready-made application: every router, the problem handlers, nothing else.

``bahr-db serve`` runs it, and the tests fuzz it. A host application builds its own
``FastAPI()`` instead and mounts what it wants, one line each (see README).
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI

from app.api import analyses, meters, ops, search, users
from app.api.dependencies import ReadDbSession, current_user
from app.api.problems import HTTPProblem, add_problem_handlers
from app.api.read_your_writes import ReadYourWritesMiddleware
from app.models.user import User
from app.repositories.user_repository import UserRepository

ROUTERS = (analyses.router, search.router, meters.router, users.router, ops.router)


def create_app(*, demo_user: str | None = None) -> FastAPI:
    """The API with every router. ``demo_user``: every request acts as that user (for
    ``bahr-db serve --demo-user``; never a default)."""
    app = FastAPI(
        title="bahr-db",
        summary="Arabic verse analyses, the classical meters, users and Arabic search.",
        version="0.1.0",
    )
    add_problem_handlers(app)
    app.add_middleware(ReadYourWritesMiddleware)
    for router in ROUTERS:
        app.include_router(router)
    if demo_user is not None:
        app.dependency_overrides[current_user] = demo_current_user(demo_user)
    return app


def demo_current_user(username: str) -> Callable[..., User]:
    """A ``current_user`` override that is always the user called ``username``."""

    def current_demo_user(db: ReadDbSession) -> User:
        user = UserRepository(db).get_by_username(username)
        if user is None:
            raise HTTPProblem(401, f"the demo user {username!r} does not exist", rule="demo_user")
        return user

    return current_demo_user


__all__ = ["ROUTERS", "create_app", "demo_current_user"]
