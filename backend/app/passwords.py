"""Password hashing: argon2id at OWASP's parameters; old bcrypt hashes still verify.

OWASP Password Storage Cheat Sheet, argon2id: m = 19 MiB, t = 2, p = 1. A bcrypt hash (the
spec's original choice) verifies and is replaced by an argon2id hash on the next successful
login (:meth:`PasswordHasher.verify_and_update`).
"""

from __future__ import annotations

from functools import cached_property

from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from pwdlib.hashers.bcrypt import BcryptHasher

ARGON2_MEMORY_KIB = 19_456
ARGON2_TIME_COST = 2
ARGON2_PARALLELISM = 1


class PasswordHasher:
    """Hash and verify passwords; never logs or stores the plain text."""

    def __init__(self) -> None:
        self._hash = PasswordHash(
            (
                Argon2Hasher(
                    time_cost=ARGON2_TIME_COST,
                    memory_cost=ARGON2_MEMORY_KIB,
                    parallelism=ARGON2_PARALLELISM,
                ),
                BcryptHasher(),
            )
        )

    def hash(self, password: str) -> str:
        return self._hash.hash(password)

    def verify_and_update(self, password: str, hashed: str) -> tuple[bool, str | None]:
        """(valid, new hash or None): a new hash when the stored one is outdated."""
        try:
            return self._hash.verify_and_update(password, hashed)
        except Exception:  # an unknown or corrupt hash format verifies nothing
            return False, None

    @cached_property
    def _dummy(self) -> str:
        return self.hash("an unknown user takes as long as a wrong password")

    def burn_time(self, password: str) -> None:
        """Spend one verification's time, so an unknown login cannot be told by timing."""
        self._hash.verify(password, self._dummy)


#: One shared hasher: construction is cheap, the dummy hash is computed once.
hasher = PasswordHasher()
