"""Accounts and profiles. Keeps the spec's methods; every write commits.

Lookups by username or email are case-insensitive and served by the ``lower(…)`` unique
indexes. Soft-deleted users are still returned by the ``get_by_*`` lookups (an admin may
restore them) but are refused by :meth:`UserRepository.authenticate` and hidden from
:meth:`UserRepository.list_users`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import SecretStr, TypeAdapter
from sqlalchemy import bindparam, func, or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from app.db.errors import translate_errors, translated
from app.errors import InvalidInput, NotFound
from app.models.user import User, UserProfile, UserRole
from app.passwords import PasswordHasher, hasher
from app.schemas.user import Password, ProfileUpdate, UserCreate, UserUpdate

#: Largest single XP award; keeps ``xp`` far from the integer limit.
XP_AWARD_MAX = 1_000_000

# Statements are built once; only their parameters change per call.
_BY_ID = select(User).where(User.id == bindparam("user_id"))
_BY_USERNAME = select(User).where(func.lower(User.username) == func.lower(bindparam("name")))
_BY_EMAIL = select(User).where(func.lower(User.email) == func.lower(bindparam("email")))
_BY_LOGIN = select(User).where(
    or_(
        func.lower(User.username) == func.lower(bindparam("login")),
        func.lower(User.email) == func.lower(bindparam("login")),
    )
)
_PASSWORD = TypeAdapter(Password)


@translate_errors
class UserRepository:
    """Repository for user accounts and their profiles."""

    def __init__(self, db: Session, *, password_hasher: PasswordHasher | None = None) -> None:
        self.db = db
        self.hasher = password_hasher or hasher

    # -- the spec's methods ---------------------------------------------------------------
    def get_by_id(self, user_id: int) -> User | None:
        return self.db.execute(_BY_ID, {"user_id": user_id}).scalar_one_or_none()

    def get_by_email(self, email: str) -> User | None:
        return self.db.execute(_BY_EMAIL, {"email": email}).scalar_one_or_none()

    def get_by_username(self, username: str) -> User | None:
        return self.db.execute(_BY_USERNAME, {"name": username}).scalar_one_or_none()

    def create(self, user: User) -> User:
        """Insert a ready-made ``User`` (its ``password_hash`` already hashed)."""
        with translated(self.db):
            self.db.add(user)
            self.db.commit()
        self.db.refresh(user)
        return user

    def update(self, user: User) -> User:
        """Commit the changes made to ``user``."""
        with translated(self.db):
            self.db.add(user)
            self.db.commit()
        self.db.refresh(user)
        return user

    def delete(self, user_id: int) -> bool:
        """Hard delete: the profile goes with the user; their analyses stay, anonymous."""
        user = self.get_by_id(user_id)
        if user is None:
            return False
        with translated(self.db):
            self.db.delete(user)
            self.db.commit()
        return True

    # -- accounts -------------------------------------------------------------------------
    def register(self, data: UserCreate | Mapping[str, Any]) -> User:
        """Validate, hash the password and create the user with its profile, atomically."""
        data = data if isinstance(data, UserCreate) else UserCreate.model_validate(data)
        user = User(
            username=data.username,
            email=data.email,
            password_hash=self.hasher.hash(data.password.get_secret_value()),
            full_name=data.full_name,
            role=data.role,
        )
        user.profile = UserProfile()
        return self.create(user)

    def authenticate(self, login: str, password: str) -> User | None:
        """The user whose username or email is ``login`` and whose password matches.

        An unknown login costs one hash verification too, so timing does not tell whether
        an account exists. Soft-deleted and inactive users are refused. A bcrypt hash is
        upgraded to argon2id on success.
        """
        user = self.db.execute(_BY_LOGIN, {"login": login}).scalars().first()
        if user is None:
            self.hasher.burn_time(password)
            return None
        valid, new_hash = self.hasher.verify_and_update(password, user.password_hash)
        if not valid or user.deleted_at is not None or not user.is_active:
            return None
        if new_hash is not None:
            user.password_hash = new_hash
            self.update(user)
        return user

    def change_password(self, user_id: int, old: str, new: str | SecretStr) -> User:
        user = self._require(user_id)
        valid, _ = self.hasher.verify_and_update(old, user.password_hash)
        if not valid:
            raise InvalidInput(
                "old_password: does not match the current password",
                field="old_password",
                rule="matches_current",
            )
        new_secret = _PASSWORD.validate_python(new)
        user.password_hash = self.hasher.hash(new_secret.get_secret_value())
        return self.update(user)

    def update_user(self, user_id: int, data: UserUpdate) -> User:
        user = self._require(user_id)
        for key, value in data.model_dump(exclude_unset=True).items():
            setattr(user, key, value)
        return self.update(user)

    def soft_delete(self, user_id: int) -> User:
        """Hide the user and refuse their logins; all their data stays."""
        user = self._require(user_id)
        if user.deleted_at is None:
            user.deleted_at = self.db.execute(select(func.now())).scalar_one()
        return self.update(user)

    def restore(self, user_id: int) -> User:
        user = self._require(user_id)
        user.deleted_at = None
        return self.update(user)

    def list_users(
        self,
        *,
        role: UserRole | str | None = None,
        active: bool | None = None,
        include_deleted: bool = False,
        limit: int = 50,
        after: int | None = None,
    ) -> list[User]:
        """Users by ascending id, keyset-paginated: pass the last id seen as ``after``."""
        if not 1 <= limit <= 500:
            raise InvalidInput("limit: must be between 1 and 500", field="limit", rule="range")
        stmt = select(User).order_by(User.id).limit(limit)
        if role is not None:
            stmt = stmt.where(User.role == UserRole(role))
        if active is not None:
            stmt = stmt.where(User.is_active.is_(active))
        if not include_deleted:
            stmt = stmt.where(User.deleted_at.is_(None))
        if after is not None:
            stmt = stmt.where(User.id > after)
        return list(self.db.scalars(stmt))

    # -- profiles -------------------------------------------------------------------------
    def add_xp(self, user_id: int, amount: int) -> UserProfile:
        """Add ``amount`` xp in one atomic statement; ``level`` follows from ``xp``.

        Concurrent calls never lose an increment: the addition happens inside PostgreSQL
        (``xp = xp + amount``), under the row lock of the UPDATE.
        """
        if isinstance(amount, bool) or not isinstance(amount, int):
            raise InvalidInput("amount: must be an integer", field="amount", rule="integer")
        if not 0 <= amount <= XP_AWARD_MAX:
            raise InvalidInput(
                f"amount: must be between 0 and {XP_AWARD_MAX} (xp never decreases)",
                field="amount",
                rule="range",
            )
        upsert = insert(UserProfile).values(user_id=user_id, xp=amount)
        stmt = upsert.on_conflict_do_update(
            index_elements=[UserProfile.user_id], set_={"xp": UserProfile.xp + upsert.excluded.xp}
        ).returning(UserProfile)
        with translated(self.db):
            profile = self.db.scalars(stmt, execution_options={"populate_existing": True}).one()
            self.db.commit()
        return profile

    def get_profile(self, user_id: int) -> UserProfile | None:
        return self.db.get(UserProfile, user_id)

    def update_profile(self, user_id: int, data: ProfileUpdate | Mapping[str, Any]) -> UserProfile:
        data = data if isinstance(data, ProfileUpdate) else ProfileUpdate.model_validate(data)
        self._require(user_id)
        profile = self.get_profile(user_id)
        if profile is None:
            profile = UserProfile(user_id=user_id)
            self.db.add(profile)
        for key, value in data.model_dump(exclude_unset=True).items():
            setattr(profile, key, value)
        with translated(self.db):
            self.db.commit()
        self.db.refresh(profile)
        return profile

    def _require(self, user_id: int) -> User:
        user = self.get_by_id(user_id)
        if user is None:
            raise NotFound(f"user_id: no user with id {user_id}", field="user_id", rule="exists")
        return user
