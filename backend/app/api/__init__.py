"""FastAPI for bahr-db (the ``api`` extra: ``pip install 'bahr-db[api]'``).

Mount what you need, one line each::

    app.include_router(analyses_router)
    add_problem_handlers(app)
    app.dependency_overrides[current_user] = my_current_user

The core library never imports this package.
"""

from __future__ import annotations

from app.api.analyses import router as analyses_router
from app.api.app import create_app
from app.api.dependencies import (
    AdminUser,
    CurrentUser,
    DbSession,
    OwnerDbSession,
    ReadDbSession,
    Transaction,
    current_user,
    get_owner_db,
    get_transaction,
    require_admin,
)
from app.api.meters import router as meters_router
from app.api.ops import router as ops_router
from app.api.problems import Problem, add_problem_handlers
from app.api.search import router as search_router
from app.api.users import authenticate
from app.api.users import router as users_router

__all__ = [
    "AdminUser",
    "CurrentUser",
    "DbSession",
    "OwnerDbSession",
    "Problem",
    "ReadDbSession",
    "Transaction",
    "add_problem_handlers",
    "analyses_router",
    "authenticate",
    "create_app",
    "current_user",
    "get_owner_db",
    "get_transaction",
    "meters_router",
    "ops_router",
    "require_admin",
    "search_router",
    "users_router",
]
