"""Accounts and profiles. Keeps the spec's methods (``get_by_id``, ``get_by_email``,
``get_by_username``, ``create``, ``update``, ``delete``, ``authenticate``).

Built on :class:`app.repositories.base.RepositoryBase`: every write commits on a plain session
(the spec's behaviour) and only flushes inside a unit of work, which commits once; errors are
translated once, by the base. Profiles are written through
:class:`app.repositories.profile_repository.ProfileRepository`.

Lookups by username or email are case-insensitive and served by the ``lower(…)`` unique
indexes; a username is looked up in NFKC form, as it is stored. A login containing ``@`` is
an email and anything else a username (no username may contain ``@``), so a login names at
most one account. Malformed keys, logins and passwords raise :class:`InvalidInput` naming the
field before any lookup, so the answer never depends on whether an account exists.

Soft-deleted users are still returned by the ``get_by_*`` lookups (an admin may restore
them) but are refused by :meth:`UserRepository.authenticate` and hidden from
:meth:`UserRepository.list_users`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from pydantic import BaseModel, SecretStr, TypeAdapter
from sqlalchemy import bindparam, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from app import rules
from app.errors import InvalidInput
from app.models.user import User, UserProfile, UserRole
from app.passwords import PasswordHasher, hasher
from app.repositories.base import DEFAULT_LIMIT, Input, RepositoryBase, encode_key
from app.repositories.profile_repository import ProfileCreate, ProfileRepository
from app.schemas.user import (
    AdminUserCreate,
    AdminUserUpdate,
    Password,
    ProfileUpdate,
    UserCreate,
    UserUpdate,
)
from app.text import identifiers, storable

#: Largest single XP award; keeps ``xp`` far from the integer limit.
XP_AWARD_MAX = 1_000_000

# Statements are built once; only their parameters change per call.
_BY_ID = select(User).where(User.id == bindparam("user_id"))
_BY_USERNAME = select(User).where(func.lower(User.username) == func.lower(bindparam("name")))
_BY_EMAIL = select(User).where(func.lower(User.email) == func.lower(bindparam("email")))
_PASSWORD = TypeAdapter(Password)


def _text_key(value: object, field: str, max_length: int) -> str | None:
    """``value`` checked as a lookup key: a typed error for what cannot be sent, None for
    what is too long to name any row (checked before anything normalises it)."""
    if not isinstance(value, str):
        raise InvalidInput(f"{field}: must be a string", field=field, rule="type")
    if len(value) > max_length:
        return None
    if (reason := storable.encoding_problem(value)) is not None:
        raise InvalidInput(f"{field}: {reason}", field=field, rule="storable_text")
    return value


def _login_password(value: object, field: str = "password") -> str:
    """A password offered at login, checked for shape only (never against a rule that an
    old account might not meet), so the check cannot depend on the account."""
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    if not isinstance(value, str):
        raise InvalidInput(f"{field}: must be a string", field=field, rule="type")
    if len(value) > rules.PASSWORD_MAX:
        raise InvalidInput(
            f"{field}: must have at most {rules.PASSWORD_MAX} characters",
            field=field,
            rule="max_length",
        )
    if (reason := storable.encoding_problem(value)) is not None:
        raise InvalidInput(f"{field}: {reason}", field=field, rule="storable_text")
    return value


_ROLES = {role.value: role for role in UserRole}


def _role(value: object) -> UserRole:
    role = _ROLES.get(value.lower()) if isinstance(value, str) else None
    if role is None:
        known = ", ".join(_ROLES)
        raise InvalidInput(f"role: must be one of {known}", field="role", rule="known_role")
    return role


M = TypeVar("M", bound=BaseModel)


def _validated(schema: type[M], data: M | Mapping[str, Any]) -> M:
    """``data`` as exactly ``schema``: another schema's instance (say an admin schema given
    to a self-service method) is validated like a mapping, and refused."""
    return data if type(data) is schema else schema.model_validate(data)


class UserRepository(RepositoryBase[User, int]):
    """Repository for user accounts and their profiles."""

    model = User
    create_schema = UserCreate
    update_schema = UserUpdate
    id_field = "user_id"

    def __init__(self, db: Session, *, password_hasher: PasswordHasher | None = None) -> None:
        super().__init__(db)
        self.hasher = password_hasher or hasher

    # -- the spec's methods ---------------------------------------------------------------
    def get_by_id(self, user_id: int) -> User | None:
        return self.db.execute(_BY_ID, {"user_id": user_id}).scalar_one_or_none()

    def get_by_email(self, email: str) -> User | None:
        key = _text_key(email, "email", rules.EMAIL_MAX)
        if key is None:
            return None
        return self.db.execute(_BY_EMAIL, {"email": key}).scalar_one_or_none()

    def get_by_username(self, username: str) -> User | None:
        key = _text_key(username, "username", rules.USERNAME_MAX)
        if key is None:
            return None
        name = identifiers.nfkc(key)
        return self.db.execute(_BY_USERNAME, {"name": name}).scalar_one_or_none()

    def create(self, user: User | Input, /) -> User:
        """Insert a ready-made ``User`` (the spec's form: its ``password_hash`` already
        hashed), or register an account from :class:`UserCreate` data (:meth:`register`).
        The database's values (``id``, timestamps) are fetched by the INSERT itself."""
        if not isinstance(user, User):
            # Any other schema's instance is refused by register's own validation.
            return self.register(cast("UserCreate | Mapping[str, Any]", user))
        self.db.add(user)
        self._save()
        return user

    def update(self, user_or_id: User | int, data: Input | None = None, /) -> User:
        """Save the changes made to ``user`` (the spec's form), or apply ``data`` to the
        user with that id as :meth:`update_user` does (self-service fields only)."""
        if isinstance(user_or_id, User) and data is None:
            self.db.add(user_or_id)
            self._save()
            return user_or_id
        user_id = user_or_id.id if isinstance(user_or_id, User) else user_or_id
        return self.update_user(user_id, cast("UserUpdate | Mapping[str, Any]", data or {}))

    def delete(self, user_id: int, /) -> bool:
        """Hard delete: the profile goes with the user; their analyses stay, anonymous."""
        return super().delete(user_id)

    # -- accounts -------------------------------------------------------------------------
    def register(self, data: UserCreate | Mapping[str, Any]) -> User:
        """Self-registration: validate, hash the password and create the user with its
        profile, atomically. The account is an active, unverified student: a visitor
        cannot choose a role or a flag (:class:`UserCreate` refuses them)."""
        data = _validated(UserCreate, data)
        return self._create_account(data, role=UserRole.STUDENT, is_active=True, is_verified=False)

    def admin_create(self, data: AdminUserCreate | Mapping[str, Any]) -> User:
        """An account made by an administrator, with the role and flags it gives."""
        data = _validated(AdminUserCreate, data)
        return self._create_account(
            data, role=data.role, is_active=data.is_active, is_verified=data.is_verified
        )

    def authenticate(self, login: str, password: str) -> User | None:
        """The user whose username or email is ``login`` and whose password matches.

        ``login`` is an email when it contains ``@`` and a username otherwise; each is unique,
        so at most one account matches. Malformed input is refused before the lookup; after
        it, an unknown login costs one hash verification too, so neither the answer nor the
        time tells whether an account exists. Soft-deleted and inactive users are refused.
        A bcrypt hash, or an argon2 hash weaker than today's, is upgraded on success.
        """
        password = _login_password(password)
        key = _text_key(login, "login", rules.LOGIN_MAX)
        if key is None:
            raise InvalidInput(
                f"login: must have at most {rules.LOGIN_MAX} characters",
                field="login",
                rule="max_length",
            )
        if "@" in key:
            user = self.db.execute(_BY_EMAIL, {"email": key}).scalar_one_or_none()
        else:
            name = identifiers.nfkc(key)
            user = self.db.execute(_BY_USERNAME, {"name": name}).scalar_one_or_none()
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
        old = _login_password(old, "old_password")
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

    def update_user(self, user_id: int, data: UserUpdate | Mapping[str, Any], /) -> User:
        """Changes a user may make to their own account (not the role or the flags)."""
        return self._apply(user_id, _validated(UserUpdate, data))

    def admin_update(self, user_id: int, data: AdminUserUpdate | Mapping[str, Any]) -> User:
        """Changes an administrator may make, role and flags included."""
        return self._apply(user_id, _validated(AdminUserUpdate, data))

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
        limit: int = DEFAULT_LIMIT,
        after: int | None = None,
    ) -> list[User]:
        """Users by ascending id, keyset-paginated: pass the last id seen as ``after``;
        ``limit`` from 1 to 100 (the base's one rule)."""
        stmt = select(User)
        if role is not None:
            stmt = stmt.where(User.role == _role(role))
        if active is not None:
            stmt = stmt.where(User.is_active.is_(active))
        if not include_deleted:
            stmt = stmt.where(User.deleted_at.is_(None))
        cursor = None if after is None else encode_key([after])
        return list(self._page(stmt, limit=limit, after=cursor).items)

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
        profile = self.db.scalars(stmt, execution_options={"populate_existing": True}).one()
        self._save()
        return profile

    def get_profile(self, user_id: int) -> UserProfile | None:
        return self.db.get(UserProfile, user_id)

    def update_profile(self, user_id: int, data: ProfileUpdate | Mapping[str, Any]) -> UserProfile:
        """Change a user's profile (created if the account has none), through
        :class:`ProfileRepository`; bad input raises pydantic's ``ValidationError``."""
        data = data if isinstance(data, ProfileUpdate) else ProfileUpdate.model_validate(data)
        self._require(user_id)
        profiles = ProfileRepository(self.db)
        if profiles.get(user_id) is None:
            changes = data.model_dump(exclude_unset=True)
            return profiles.create(ProfileCreate.model_validate({**changes, "user_id": user_id}))
        return profiles.update(user_id, data)

    def _create_account(
        self,
        data: UserCreate | AdminUserCreate,
        *,
        role: UserRole,
        is_active: bool,
        is_verified: bool,
    ) -> User:
        user = User(
            username=data.username,
            email=data.email,
            password_hash=self.hasher.hash(data.password.get_secret_value()),
            full_name=data.full_name,
            role=role,
            is_active=is_active,
            is_verified=is_verified,
        )
        user.profile = UserProfile()
        return self.create(user)

    def _apply(self, user_id: int, data: UserUpdate | AdminUserUpdate) -> User:
        user = self._require(user_id)
        for key, value in data.model_dump(exclude_unset=True).items():
            setattr(user, key, value)
        return self.update(user)
