"""Users and their profiles (the spec's ``users`` and ``user_profiles``)."""

from __future__ import annotations

import datetime as dt
import enum
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Enum,
    FetchedValue,
    ForeignKey,
    Identity,
    Index,
    Integer,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from app import rules
from app.db.base import Base
from app.errors import InvalidInput
from app.models.types import ArabicSortable, CreatedAt
from app.text import identifiers, storable

if TYPE_CHECKING:
    from app.models.analysis import Analysis


class UserRole(enum.StrEnum):
    """User role enumeration; the database stores the lowercase values."""

    STUDENT = "student"
    POET = "poet"
    TEACHER = "teacher"
    ADMIN = "admin"


user_role_enum = Enum(
    UserRole,
    name="user_role",
    values_callable=lambda e: [m.value for m in e],
    validate_strings=True,
)


class User(Base):
    """A user account. ``deleted_at`` marks a soft delete."""

    __tablename__ = "users"
    # Fetch trigger-maintained columns (updated_at) in the UPDATE's RETURNING clause.
    __mapper_args__ = {"eager_defaults": True}  # noqa: RUF012
    __table_args__ = (
        CheckConstraint(
            f"char_length(username) BETWEEN {rules.USERNAME_MIN} AND {rules.USERNAME_MAX} "
            f"AND username !~ '{rules.USERNAME_FORBIDDEN_SQL}'",
            name="username_format",
        ),
        # A login containing '@' is an email, so no username may look like one.
        CheckConstraint("strpos(username, '@') = 0", name="username_no_at"),
        CheckConstraint("username IS NFKC NORMALIZED", name="username_nfkc"),
        CheckConstraint(f"email ~ '{rules.EMAIL_SQL}'", name="email_format"),
        CheckConstraint("btrim(full_name) <> ''", name="full_name_not_blank"),
        CheckConstraint(
            "deleted_at IS NULL OR deleted_at >= created_at", name="deleted_after_created"
        ),
        Index("uq_users_username_lower", func.lower(text("username")), unique=True),
        Index("uq_users_email_lower", func.lower(text("email")), unique=True),
        # Look-alike usernames (UTS #39): the error names ``username``, not the skeleton.
        Index(
            "uq_users_username_skeleton",
            "username_skeleton",
            unique=True,
            info={"field": "username", "rule": "not_confusable"},
        ),
        Index("ix_users_role", "role"),
    )

    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    username: Mapped[str] = mapped_column(String(rules.USERNAME_MAX))
    email: Mapped[str] = mapped_column(String(rules.EMAIL_MAX))
    password_hash: Mapped[str] = mapped_column(String(rules.PASSWORD_HASH_MAX))
    full_name: Mapped[str] = mapped_column(ArabicSortable(rules.FULL_NAME_MAX))
    role: Mapped[UserRole] = mapped_column(
        user_role_enum, default=UserRole.STUDENT, server_default=UserRole.STUDENT.value
    )
    is_active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=text("true"))
    is_verified: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    created_at: Mapped[CreatedAt]
    #: Kept current by the ``users_set_updated_at`` trigger, so raw SQL updates count too.
    updated_at: Mapped[dt.datetime | None] = mapped_column(server_onupdate=FetchedValue())
    deleted_at: Mapped[dt.datetime | None]
    #: The UTS #39 confusable skeleton of the username (:func:`app.text.identifiers.skeleton`),
    #: set whenever ``username`` is. PostgreSQL cannot compute it, so a raw-SQL writer must
    #: supply it; a row without one is outside the look-alike check.
    username_skeleton: Mapped[str | None] = mapped_column(Text)

    analyses: Mapped[list[Analysis]] = relationship(
        back_populates="user", passive_deletes=True, lazy="raise_on_sql"
    )
    profile: Mapped[UserProfile | None] = relationship(
        back_populates="user",
        uselist=False,
        cascade="all, delete-orphan",
        passive_deletes=True,
        lazy="joined",
    )

    def __init__(self, **kwargs: Any) -> None:
        # Column defaults apply at flush; the spec expects them on a transient object too.
        kwargs.setdefault("role", UserRole.STUDENT)
        kwargs.setdefault("is_active", True)
        kwargs.setdefault("is_verified", False)
        super().__init__(**kwargs)

    @validates("username")
    def _set_skeleton(self, _key: str, username: object) -> object:
        if isinstance(username, str):
            if len(username) > rules.USERNAME_MAX:
                raise InvalidInput(
                    f"username: must have at most {rules.USERNAME_MAX} characters",
                    field="username",
                    rule="max_length",
                )
            # Unstorable text gets its typed error at flush (app.db.errors), not here.
            unstorable = storable.encoding_problem(username) is not None
            self.username_skeleton = None if unstorable else identifiers.skeleton(username)
        return username

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None

    def __repr__(self) -> str:
        role = self.role.value if isinstance(self.role, UserRole) else self.role
        return f"<User(id={self.id}, username='{self.username}', role='{role}')>"


class UserProfile(Base):
    """Extended profile, one row per user, deleted with the user."""

    __tablename__ = "user_profiles"
    __mapper_args__ = {"eager_defaults": True}  # noqa: RUF012
    __table_args__ = (
        CheckConstraint("level >= 1", name="level_positive"),
        CheckConstraint("xp >= 0", name="xp_not_negative"),
        CheckConstraint(f"char_length(bio) <= {rules.BIO_MAX}", name="bio_length"),
        CheckConstraint(
            f"preferred_language IN ({rules.sql_list(rules.LANGUAGES)})",
            name="preferred_language_known",
        ),
        CheckConstraint(f"theme IN ({rules.sql_list(rules.THEMES)})", name="theme_known"),
        CheckConstraint("avatar_url IS NULL OR avatar_url ~ '^https?://'", name="avatar_url_http"),
        CheckConstraint("website IS NULL OR website ~ '^https?://'", name="website_http"),
    )

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    bio: Mapped[str | None] = mapped_column(Text)
    avatar_url: Mapped[str | None] = mapped_column(String(rules.URL_MAX))
    location: Mapped[str | None] = mapped_column(String(rules.LOCATION_MAX))
    website: Mapped[str | None] = mapped_column(String(rules.WEBSITE_MAX))

    #: Derived from ``xp`` by the ``user_profiles_derive_level`` trigger
    #: (:func:`app.rules.level_for_xp`), so it can never disagree with ``xp``.
    level: Mapped[int] = mapped_column(
        Integer, default=1, server_default=text("1"), server_onupdate=FetchedValue()
    )
    xp: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))

    preferred_language: Mapped[str] = mapped_column(
        String(5), default="ar", server_default=text("'ar'")
    )
    theme: Mapped[str] = mapped_column(String(10), default="light", server_default=text("'light'"))

    user: Mapped[User] = relationship(back_populates="profile", lazy="raise_on_sql")

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("level", 1)
        kwargs.setdefault("xp", 0)
        kwargs.setdefault("preferred_language", "ar")
        kwargs.setdefault("theme", "light")
        super().__init__(**kwargs)

    def __repr__(self) -> str:
        return f"<UserProfile(user_id={self.user_id}, level={self.level}, xp={self.xp})>"
