"""Read-your-writes across requests: a client that wrote reads what it wrote.

With replicas (``READ_DATABASE_URL``), a response to a request that committed carries the
commit's token (:mod:`app.db.read_your_writes`):

* the cookie ``bahr_read_after`` (``HttpOnly``, ``SameSite=Lax``, one minute), which a
  browser sends back by itself;
* the header ``Bahr-Commit-LSN``, for clients without cookies: they send it back as the
  request header ``Bahr-Read-After``.

A later request that brings the token back reads (``get_read_db``) from a replica that has
replayed that commit, or from the primary. The header wins over the cookie; a value that is
not an LSN is ignored. Without replicas no token is made, and nothing is added to a response.

Pure ASGI middleware: the token lives in a context variable for the whole request, which
FastAPI copies into the threads its sync routes and dependencies run in.
"""

from __future__ import annotations

from http.cookies import SimpleCookie

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.db.read_your_writes import carry, format_lsn

COOKIE = "bahr_read_after"
REQUEST_HEADER = "Bahr-Read-After"
RESPONSE_HEADER = "Bahr-Commit-LSN"
#: Long enough for any replica within ``replica_max_lag_s`` to have replayed the commit.
COOKIE_MAX_AGE_S = 60


class ReadYourWritesMiddleware:
    """Carries the read-your-writes token from a write's response to the next reads."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        token = headers.get(REQUEST_HEADER) or _cookie(headers.get("cookie"))
        with carry(token) as tokens:

            async def send_token(message: Message) -> None:
                if message["type"] == "http.response.start" and tokens.committed is not None:
                    value = format_lsn(tokens.committed)
                    out = MutableHeaders(scope=message)
                    out.append(RESPONSE_HEADER, value)
                    out.append(
                        "set-cookie",
                        f"{COOKIE}={value}; Max-Age={COOKIE_MAX_AGE_S}; Path=/; HttpOnly; "
                        "SameSite=Lax",
                    )
                await send(message)

            await self.app(scope, receive, send_token)


def _cookie(header: str | None) -> str | None:
    if not header:
        return None
    cookies: SimpleCookie = SimpleCookie()
    try:
        cookies.load(header)
    except Exception:  # a malformed Cookie header from a client: no token
        return None
    morsel = cookies.get(COOKIE)
    return morsel.value if morsel is not None else None


__all__ = [
    "COOKIE",
    "COOKIE_MAX_AGE_S",
    "REQUEST_HEADER",
    "RESPONSE_HEADER",
    "ReadYourWritesMiddleware",
]
