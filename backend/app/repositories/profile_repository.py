"""User profiles (``user_profiles``): one row per user, created with the account.

``level`` is derived from ``xp`` by the database; ``xp`` only grows through
:meth:`app.repositories.user_repository.UserRepository.add_xp` (one atomic statement), so
neither is an input here.
"""

from __future__ import annotations

from app.models.user import UserProfile
from app.repositories.base import RepositoryBase
from app.schemas.user import ProfileUpdate


class ProfileCreate(ProfileUpdate):
    """A profile for an existing user; the other fields as :class:`ProfileUpdate`."""

    user_id: int


class ProfileRepository(RepositoryBase[UserProfile, int]):
    """``get``, ``list``, ``create``, ``update`` and ``delete`` of profiles, by ``user_id``."""

    model = UserProfile
    create_schema = ProfileCreate
    update_schema = ProfileUpdate
    id_field = "user_id"
