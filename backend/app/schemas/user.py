"""Pydantic schemas for users and profiles. The rules are :mod:`app.rules`.

Self-service schemas (:class:`UserCreate`, :class:`UserUpdate`) carry only what a visitor may
choose; roles and account flags are set through the admin schemas
(:class:`AdminUserCreate`, :class:`AdminUserUpdate`) and the repository's ``admin_*`` methods.
Every text field's length is checked on the raw input, before any validator normalises it.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import AfterValidator, BaseModel, Field, SecretStr, field_validator
from pydantic.networks import validate_email

from app import rules
from app.models.user import UserRole
from app.schemas.common import READ_CONFIG, WRITE_CONFIG, not_blank, storable
from app.text import identifiers
from app.text import storable as text_storable


def _username(value: str) -> str:
    """NFKC form, no look-alike tricks; the raw length was bounded before this runs."""
    storable(value)
    name = identifiers.nfkc(value)
    if not rules.USERNAME_MIN <= len(name) <= rules.USERNAME_MAX:
        raise ValueError(
            f"must have {rules.USERNAME_MIN} to {rules.USERNAME_MAX} characters in NFKC form"
        )
    if (reason := identifiers.username_problem(name)) is not None:
        raise ValueError(reason)
    return name


def _email(value: str) -> str:
    storable(value)
    return validate_email(value)[1]


def _password_encodable(value: SecretStr) -> SecretStr:
    if (reason := text_storable.encoding_problem(value.get_secret_value())) is not None:
        raise ValueError(reason)
    return value


Username = Annotated[
    str,
    Field(min_length=rules.USERNAME_MIN, max_length=rules.USERNAME_MAX),
    AfterValidator(_username),
]
Email = Annotated[str, Field(max_length=rules.EMAIL_MAX), AfterValidator(_email)]
FullName = Annotated[
    str, Field(max_length=rules.FULL_NAME_MAX), AfterValidator(storable), AfterValidator(not_blank)
]
Password = Annotated[
    SecretStr,
    Field(min_length=rules.PASSWORD_MIN, max_length=rules.PASSWORD_MAX),
    AfterValidator(_password_encodable),
]
HttpUrlStr = Annotated[
    str, Field(max_length=rules.URL_MAX, pattern=r"^https?://\S+$"), AfterValidator(storable)
]


class _NewAccount(BaseModel):
    model_config = WRITE_CONFIG

    username: Username
    email: Email
    password: Password
    full_name: FullName


class UserCreate(_NewAccount):
    """Self-registration: only what a visitor may choose. The account is an active,
    unverified student; any other field (``role``, ``is_active``…) is refused.

    The password is a ``SecretStr``: never shown in a repr.
    """


class AdminUserCreate(_NewAccount):
    """An account made by an administrator, who may choose its role and flags."""

    role: UserRole = UserRole.STUDENT
    is_active: bool = True
    is_verified: bool = False


class _AccountChanges(BaseModel):
    model_config = WRITE_CONFIG

    email: Email | None = None
    full_name: FullName | None = None


class UserUpdate(_AccountChanges):
    """Fields a user may change on their own account; unset fields are left alone."""


class AdminUserUpdate(_AccountChanges):
    """Fields an administrator may change, role and flags included."""

    role: UserRole | None = None
    is_active: bool | None = None
    is_verified: bool | None = None


class UserRead(BaseModel):
    """A user as the API shows it: ``password_hash`` is not a field, so it cannot leak."""

    model_config = READ_CONFIG

    id: int
    username: str
    email: str
    full_name: str
    role: UserRole
    is_active: bool
    is_verified: bool
    created_at: dt.datetime
    updated_at: dt.datetime | None
    deleted_at: dt.datetime | None


class ProfileUpdate(BaseModel):
    """Profile fields a user may change; unset fields are left alone."""

    model_config = WRITE_CONFIG

    bio: Annotated[str, Field(max_length=rules.BIO_MAX), AfterValidator(storable)] | None = None
    avatar_url: HttpUrlStr | None = None
    location: (
        Annotated[str, Field(max_length=rules.LOCATION_MAX), AfterValidator(storable)] | None
    ) = None
    website: Annotated[HttpUrlStr, Field(max_length=rules.WEBSITE_MAX)] | None = None
    preferred_language: rules.Language | None = None
    theme: rules.Theme | None = None

    @field_validator("preferred_language", "theme", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.lower() if isinstance(value, str) else value


class ProfileRead(BaseModel):
    model_config = READ_CONFIG

    user_id: int
    bio: str | None
    avatar_url: str | None
    location: str | None
    website: str | None
    level: int
    xp: int
    preferred_language: str
    theme: str
