"""Cheap test data: valid inputs with overridable fields."""

from __future__ import annotations

import itertools
from typing import Any

from sqlalchemy.orm import Session

from app.models.user import User
from app.repositories.user_repository import UserRepository
from app.schemas.user import AdminUserCreate, UserCreate

_seq = itertools.count(1)

PASSWORD = "correct horse battery"


def user_create(**overrides: Any) -> UserCreate:
    n = next(_seq)
    fields: dict[str, Any] = {
        "username": f"user{n}",
        "email": f"user{n}@example.com",
        "password": PASSWORD,
        "full_name": f"مستخدم {n}",
    }
    fields.update(overrides)
    return UserCreate(**fields)


#: Fields only the admin path may set (self-registration refuses them).
ADMIN_FIELDS = frozenset({"role", "is_active", "is_verified"})


def make_user(db: Session, **overrides: Any) -> User:
    admin = {k: overrides.pop(k) for k in ADMIN_FIELDS & overrides.keys()}
    data = user_create(**overrides)
    repo = UserRepository(db)
    if admin:
        return repo.admin_create(AdminUserCreate(**data.model_dump(), **admin))
    return repo.register(data)
