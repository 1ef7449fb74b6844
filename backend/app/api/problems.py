"""The error hierarchy as HTTP: RFC 9457 ``application/problem+json`` bodies.

One handler set for the whole API (:func:`add_problem_handlers`):

* :class:`~app.errors.InvalidInput` (and its subclasses, e.g. a search that is too broad),
  pydantic's ``ValidationError`` and FastAPI's request validation → 422;
* :class:`~app.errors.NotFound` → 404, :class:`~app.errors.AlreadyExists` → 409;
* :class:`~app.errors.PermissionDenied` (the database refused the operation to the role) →
  403, without the database's message;
* :class:`~app.errors.DatabaseUnavailable` (pool exhausted, timeouts, server down) → 503 with
  ``Retry-After``;
* :class:`~app.errors.ReadOnlySession` and any other error → 500 and a log line: they are
  programming or configuration errors, and the client learns nothing about the internals.

Every body has ``type``, ``title``, ``status``, ``detail``, and ``field`` and ``rule`` from the
error; validation problems list each failure in ``errors``. Input values are never echoed, so a
rejected password does not come back in a response.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Mapping, Sequence
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ValidationError
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException
from starlette.routing import Match

from app.db.errors import translate
from app.errors import (
    AlreadyExists,
    BahrDataError,
    DatabaseUnavailable,
    InvalidInput,
    NotFound,
    PermissionDenied,
)

log = logging.getLogger("bahr.api")

MEDIA_TYPE = "application/problem+json"

#: Seconds a client should wait before retrying a 503, by the rule of the error.
RETRY_AFTER = {"pool_timeout": 1, "lock_timeout": 1}
RETRY_AFTER_DEFAULT = 5

#: What a 503 says, by rule: the driver's own message may name hosts, sockets or roles.
_UNAVAILABLE = {
    "pool_timeout": "no database connection became free in time; try again shortly",
    "statement_timeout": "the query took too long and was cancelled; try again or narrow it",
    "lock_timeout": "the data was locked by another request for too long; try again",
}
_UNAVAILABLE_DEFAULT = "the database is unavailable; try again shortly"
_INTERNAL = "the server could not complete the request; the error has been logged"


class Problem(BaseModel):
    """An RFC 9457 problem. ``field`` and ``rule`` come from the error; ``errors`` lists every
    failure of a validation problem."""

    type: str
    title: str
    status: int
    detail: str
    field: str | None = None
    rule: str | None = None
    errors: list[dict[str, str | None]] | None = None


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:  # a status outside the standard's list
        return "Error"


def _problem_type(slug: str) -> str:
    return f"urn:bahr-db:problem:{slug}"


def problem_response(
    status: int,
    detail: str,
    *,
    slug: str,
    field: str | None = None,
    rule: str | None = None,
    errors: list[dict[str, str | None]] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    body = Problem(
        type=_problem_type(slug),
        title=_phrase(status),
        status=status,
        detail=detail,
        field=field,
        rule=rule,
        errors=errors,
    )
    return JSONResponse(
        body.model_dump(exclude_none=True),
        status_code=status,
        media_type=MEDIA_TYPE,
        headers=headers,
    )


def _data_error(request: Request, exc: BahrDataError) -> Response:
    if isinstance(exc, InvalidInput):
        return problem_response(
            422, exc.message, slug="invalid-input", field=exc.field, rule=exc.rule
        )
    if isinstance(exc, NotFound):
        return problem_response(404, exc.message, slug="not-found", field=exc.field, rule=exc.rule)
    if isinstance(exc, AlreadyExists):
        return problem_response(
            409, exc.message, slug="already-exists", field=exc.field, rule=exc.rule
        )
    if isinstance(exc, PermissionDenied):
        log.warning("%s %s: permission denied: %s", request.method, request.url.path, exc.message)
        return problem_response(
            403,
            "the database does not allow this operation to this connection's role",
            slug="permission-denied",
            rule="permission",
        )
    if isinstance(exc, DatabaseUnavailable):
        rule = exc.rule or "unavailable"
        log.warning("%s %s: database unavailable (%s)", request.method, request.url.path, rule)
        return problem_response(
            503,
            _UNAVAILABLE.get(rule, _UNAVAILABLE_DEFAULT),
            slug="database-unavailable",
            rule=rule,
            headers={"Retry-After": str(RETRY_AFTER.get(rule, RETRY_AFTER_DEFAULT))},
        )
    # ReadOnlySession (a write through get_read_db) and the rest (an unexpected database
    # error) are bugs or misconfiguration, not the client's.
    log.error(
        "%s %s: %s (%s): %s",
        request.method,
        request.url.path,
        type(exc).__name__,
        exc.rule,
        exc.message,
    )
    return problem_response(500, _INTERNAL, slug="internal", rule="internal")


def _validation_items(errors: Sequence[Any], *, drop_location: bool) -> list[dict[str, str | None]]:
    items: list[dict[str, str | None]] = []
    for error in errors:
        loc = [str(part) for part in error.get("loc", ())]
        if drop_location and len(loc) > 1:
            loc = loc[1:]  # "body", "query", "path": the field name is enough
        items.append(
            {"field": ".".join(loc) or None, "rule": error.get("type"), "message": error["msg"]}
        )
    return items


def _validation_problem(items: list[dict[str, str | None]]) -> Response:
    first = items[0]
    more = f" (and {len(items) - 1} more)" if len(items) > 1 else ""
    where = first["field"] or "input"
    return problem_response(
        422,
        f"{where}: {first['message']}{more}",
        slug="invalid-input",
        field=first["field"],
        rule=first["rule"],
        errors=items,
    )


async def _handle(request: Request, exc: Exception) -> Response:
    """The one handler: dispatch on the kind of error."""
    if isinstance(exc, BahrDataError):
        return _data_error(request, exc)
    if isinstance(exc, RequestValidationError):
        return _validation_problem(_validation_items(exc.errors(), drop_location=True))
    if isinstance(exc, ValidationError):
        return _validation_problem(_validation_items(exc.errors(), drop_location=False))
    if isinstance(exc, DBAPIError | PoolTimeout):
        # A database error outside a repository (e.g. a commit at the end of a request).
        return _data_error(request, translate(exc))
    if isinstance(exc, HTTPException):
        if exc.status_code < 200 or exc.status_code in {204, 304}:
            return Response(status_code=exc.status_code, headers=exc.headers)
        phrase = _phrase(exc.status_code)
        detail = exc.detail if isinstance(exc.detail, str) else phrase
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            headers["Allow"] = _allowed_methods(request)
        return problem_response(
            exc.status_code,
            detail,
            slug=phrase.lower().replace(" ", "-"),
            rule=getattr(exc, "rule", None),
            headers=headers,
        )
    log.exception("%s %s: unexpected error", request.method, request.url.path, exc_info=exc)
    return problem_response(500, _INTERNAL, slug="internal", rule="internal")


def _allowed_methods(request: Request) -> str:
    """Every method of every route at this path (Starlette lists only the first route's)."""
    methods: set[str] = set()
    for route in request.app.router.routes:
        if route.matches(request.scope)[0] is not Match.NONE:
            methods |= set(getattr(route, "methods", None) or ())
    return ", ".join(sorted(methods))


def add_problem_handlers(app: FastAPI) -> None:
    """Install the handler set on ``app`` (one line in the host application)."""
    for kind in (
        BahrDataError,
        RequestValidationError,
        ValidationError,
        DBAPIError,
        PoolTimeout,
        HTTPException,
        Exception,
    ):
        app.add_exception_handler(kind, _handle)


@contextlib.contextmanager
def renamed(fields: Mapping[str, str]) -> Iterator[None]:
    """Report a repository's :class:`InvalidInput` under the request parameter's own name
    (the repository says ``before``; the API's parameter is ``cursor``)."""
    try:
        yield
    except InvalidInput as exc:
        name = fields.get(exc.field or "")
        if name is None:
            raise
        message = f"{name}: {exc.message.removeprefix(f'{exc.field}: ')}"
        raise type(exc)(message, field=name, rule=exc.rule) from exc


class HTTPProblem(HTTPException):
    """An HTTP error raised by this API's own dependencies, with a ``rule`` for the body."""

    def __init__(
        self, status_code: int, detail: str, *, rule: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(status_code, detail, headers)
        self.rule = rule


# -- OpenAPI ------------------------------------------------------------------------------
_DESCRIPTIONS = {
    400: "the body is not JSON",
    401: "no user: the host application has not authenticated the request",
    403: "the user may not do this",
    404: "no such row (or not yours)",
    409: "a unique rule would be broken",
    422: "the input breaks a rule (`field` and `rule` name it)",
    500: "a programming or configuration error (logged)",
    503: "the database is unavailable, the pool is exhausted or a query timed out",
}


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for the given error statuses, as ``application/problem+json``.

    The schema is inlined so that the declaration works in any host application's OpenAPI
    document, whatever else it mounts.
    """
    schema = Problem.model_json_schema()
    declared: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        entry: dict[str, Any] = {
            "description": _DESCRIPTIONS[status],
            "content": {MEDIA_TYPE: {"schema": schema}},
        }
        if status == 503:
            entry["headers"] = {
                "Retry-After": {
                    "description": "seconds to wait before trying again",
                    "schema": {"type": "string", "pattern": "^[0-9]+$"},
                }
            }
        declared[status] = entry
    return declared
