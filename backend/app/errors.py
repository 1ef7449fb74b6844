"""One small error hierarchy: everything this layer raises on purpose.

Each error names the ``field`` at fault and the ``rule`` it broke, so an API layer can turn it
into a 4xx response without parsing strings. Database errors are translated into these in one
place (:func:`app.db.errors.translate`), never shown raw.
"""

from __future__ import annotations


class BahrDataError(Exception):
    """Base class of every error raised on purpose by the data layer."""

    def __init__(self, message: str, *, field: str | None = None, rule: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field
        self.rule = rule

    def __str__(self) -> str:
        return self.message


class InvalidInput(BahrDataError):  # noqa: N818 - the issue names the class
    """The input breaks a rule (length, alphabet, range, …)."""


class SearchTooBroad(InvalidInput):
    """A search would take longer than ``search_timeout_ms``: the query matches too much.

    ``field`` is ``"query"``, ``rule`` is ``"too_broad"``; narrow the query (more words, a
    quoted phrase, a user or meter filter) and try again.
    """


class AlreadyExists(BahrDataError):  # noqa: N818
    """A unique rule would be broken (username, email, meter name, …)."""


class NotFound(BahrDataError):  # noqa: N818
    """The row asked for does not exist (or is not visible to the caller)."""


class DatabaseUnavailable(BahrDataError):  # noqa: N818
    """The server could not be reached, the pool ran dry, or a statement timed out."""


class ReadOnlySession(BahrDataError):  # noqa: N818
    """A write was attempted through a read-only session (``ReadSessionLocal``)."""


class PermissionDenied(BahrDataError):  # noqa: N818
    """The database refused the operation to the connected role (SQLSTATE 42501): the
    application role writing reference data, say. ``rule`` is ``"permission"``."""


class UnitOfWorkError(BahrDataError):
    """Something other than the unit of work tried to commit its transaction
    (:func:`app.db.database.unit_of_work`)."""


class PostgresNotFound(BahrDataError):  # noqa: N818
    """No usable PostgreSQL (≥ 15) binaries were found for the embedded cluster."""
