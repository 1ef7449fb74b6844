"""Pydantic schemas for users and profiles. The rules are :mod:`app.models.rules`."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, EmailStr, Field, SecretStr, field_validator

from app.models import rules
from app.models.user import UserRole
from app.schemas.common import READ_CONFIG, WRITE_CONFIG, NonBlankStr, StorableStr, storable

_USERNAME_FORBIDDEN = re.compile(rules.USERNAME_FORBIDDEN)


def _username(value: str) -> str:
    storable(value)
    if _USERNAME_FORBIDDEN.search(value):
        raise ValueError("must not contain whitespace or control characters")
    return value


Username = Annotated[
    str,
    Field(min_length=rules.USERNAME_MIN, max_length=rules.USERNAME_MAX),
    AfterValidator(_username),
]
Email = Annotated[EmailStr, Field(max_length=rules.EMAIL_MAX), AfterValidator(storable)]
FullName = Annotated[NonBlankStr, Field(max_length=rules.FULL_NAME_MAX)]
Password = Annotated[SecretStr, Field(min_length=rules.PASSWORD_MIN, max_length=rules.PASSWORD_MAX)]
HttpUrlStr = Annotated[StorableStr, Field(max_length=500, pattern=r"^https?://\S+$")]


def _password_storable(value: SecretStr) -> SecretStr:
    storable(value.get_secret_value())
    return value


class UserCreate(BaseModel):
    """What a new account needs. The password is a ``SecretStr``: never shown in a repr."""

    model_config = WRITE_CONFIG

    username: Username
    email: Email
    password: Annotated[Password, AfterValidator(_password_storable)]
    full_name: FullName
    role: UserRole = UserRole.STUDENT


class UserUpdate(BaseModel):
    """Fields an account may change; unset fields are left alone."""

    model_config = WRITE_CONFIG

    email: Email | None = None
    full_name: FullName | None = None
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

    bio: Annotated[StorableStr, Field(max_length=rules.BIO_MAX)] | None = None
    avatar_url: HttpUrlStr | None = None
    location: Annotated[StorableStr, Field(max_length=100)] | None = None
    website: Annotated[HttpUrlStr, Field(max_length=255)] | None = None
    preferred_language: Literal["ar", "en"] | None = None
    theme: Literal["light", "dark", "system"] | None = None

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
