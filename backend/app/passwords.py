"""Password hashing: argon2id at OWASP's parameters; old bcrypt hashes still verify.

OWASP Password Storage Cheat Sheet, argon2id: m = 19 MiB, t = 2, p = 1. A bcrypt hash (the
spec's original choice) verifies and is replaced by an argon2id hash on the next successful
login (:meth:`PasswordHasher.verify_and_update`). An argon2 hash is rewritten only when one of
its parameters is weaker than today's, and then with the stronger of the stored and today's
value of each, so a login never weakens a hash.
"""

from __future__ import annotations

from functools import cached_property

import argon2
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from pwdlib.hashers.bcrypt import BcryptHasher

ARGON2_MEMORY_KIB = 19_456
ARGON2_TIME_COST = 2
ARGON2_PARALLELISM = 1


def _argon2id(memory_kib: int, time_cost: int, parallelism: int) -> Argon2Hasher:
    return Argon2Hasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism)


class PasswordHasher:
    """Hash and verify passwords; never logs or stores the plain text."""

    def __init__(self) -> None:
        self._argon2 = _argon2id(ARGON2_MEMORY_KIB, ARGON2_TIME_COST, ARGON2_PARALLELISM)
        self._hash = PasswordHash((self._argon2, BcryptHasher()))

    def hash(self, password: str) -> str:
        return self._hash.hash(password)

    def verify_and_update(self, password: str, hashed: str) -> tuple[bool, str | None]:
        """(valid, new hash or None): a new hash only when the stored one is weaker."""
        try:
            if not self._hash.verify(password, hashed):
                return False, None
        except Exception:  # an unknown or corrupt hash format verifies nothing
            return False, None
        if not self._argon2.identify(hashed):
            return True, self.hash(password)  # bcrypt: upgrade to argon2id
        return True, self._strengthened(password, hashed)

    def _strengthened(self, password: str, hashed: str) -> str | None:
        """A hash at least as strong as both ``hashed`` and today's parameters, or None
        when ``hashed`` already is."""
        stored = argon2.extract_parameters(hashed)  # it has just verified, so it parses
        weaker = (
            stored.type is not argon2.Type.ID
            or stored.version < argon2.low_level.ARGON2_VERSION
            or stored.memory_cost < ARGON2_MEMORY_KIB
            or stored.time_cost < ARGON2_TIME_COST
            or stored.parallelism < ARGON2_PARALLELISM
            or stored.hash_len < argon2.DEFAULT_HASH_LENGTH
            or stored.salt_len < argon2.DEFAULT_RANDOM_SALT_LENGTH
        )
        if not weaker:
            return None
        stronger = _argon2id(
            max(stored.memory_cost, ARGON2_MEMORY_KIB),
            max(stored.time_cost, ARGON2_TIME_COST),
            max(stored.parallelism, ARGON2_PARALLELISM),
        )
        return stronger.hash(password)

    @cached_property
    def _dummy(self) -> str:
        return self.hash("an unknown user takes as long as a wrong password")

    def burn_time(self, password: str) -> None:
        """Spend one verification's time, so an unknown login cannot be told by timing."""
        self._hash.verify(password, self._dummy)


#: One shared hasher: construction is cheap, the dummy hash is computed once.
hasher = PasswordHasher()
