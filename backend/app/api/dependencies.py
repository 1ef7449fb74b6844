"""Request dependencies: sessions, the current user, the admin check.

Thin on purpose: each one is a few lines over :mod:`app.db.base`, so that the data layer's
own session management can change behind them without touching a route.

* :data:`DbSession` — the spec's :func:`~app.db.base.get_db`: a session per request; each
  repository write commits.
* :data:`ReadDbSession` — :func:`~app.db.base.get_read_db`: read-only, autocommit.
* :data:`Transaction` — one unit of work for the whole request
  (:meth:`app.db.database.Database.transaction_dependency`): repositories only flush;
  everything commits together when the route returns, or nothing does.
* :data:`CurrentUser` — the host application's authentication. Unless the host overrides
  :func:`current_user`, it answers 401; it never falls back to a default user.
* :data:`AdminUser` — by default the current user with the ``admin`` role; a host may
  override :func:`require_admin` with its own check.
* :data:`OwnerDbSession` — the admin path to reference data (meters): one unit of work as
  the schema owner (``MIGRATION_DATABASE_URL``); the application role may only read meters.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache
from typing import Annotated

from fastapi import Depends
from sqlalchemy.orm import Session

from app.api.problems import HTTPProblem
from app.db.base import get_db, get_read_db
from app.db.database import Database, get_database
from app.models.user import User, UserRole

DbSession = Annotated[Session, Depends(get_db)]
ReadDbSession = Annotated[Session, Depends(get_read_db)]


def get_transaction() -> Iterator[Session]:
    """A session whose whole request is one unit of work, committed once when the route
    returns (repositories on it only flush); on any error nothing is committed."""
    yield from get_database().transaction_dependency()


#: ``scope="function"``: the commit happens before the response is sent, so a failed commit
#: is the response, not a log line after a 201.
Transaction = Annotated[Session, Depends(get_transaction, scope="function")]


def current_user() -> User:
    """The authenticated user. The host application provides it by overriding this function::

        app.dependency_overrides[current_user] = my_current_user

    Left alone, every route that needs a user answers 401.
    """
    raise HTTPProblem(
        401,
        "no authenticated user: the host application must override "
        "app.api.dependencies.current_user with its own authentication",
        rule="authentication",
        headers={"WWW-Authenticate": "Bearer"},
    )


CurrentUser = Annotated[User, Depends(current_user)]


def require_admin(user: CurrentUser) -> User:
    """The admin check for reference data: the ``admin`` role. Hosts may override it."""
    if user.role != UserRole.ADMIN:
        raise HTTPProblem(403, "only an admin may change the meters", rule="admin")
    return user


AdminUser = Annotated[User, Depends(require_admin)]


@cache
def _owner_database() -> Database:
    # Created on first use: a process that never uses the admin path never connects as the
    # owner.
    return Database.for_owner()


def get_owner_db() -> Iterator[Session]:
    """A unit of work as the schema owner, for the meter admin routes only."""
    yield from _owner_database().transaction_dependency()


OwnerDbSession = Annotated[Session, Depends(get_owner_db, scope="function")]
