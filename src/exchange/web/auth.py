"""Who is asking: a browser session (cookie + CSRF header) or a program (API key).

Browser sessions use two cookies. `session` is HttpOnly (scripts cannot read it) and
SameSite=Strict (other sites' pages cannot send it), and Secure when served over https.
`csrf` is readable by the page, which echoes it in `X-CSRF-Token` on every change; a
cross-site form can neither read it nor set that header, so a change made with the
session cookie must carry it (double submit, checked against the session's own token).
API keys come in `Authorization: Bearer <key>` and need no CSRF token: browsers never
send that header on their own.
"""

import time
from dataclasses import dataclass

from fastapi import Request, Response

from exchange.services.accounts import SESSION_TTL_MS, Accounts
from exchange.web.errors import ApiError

SESSION_COOKIE = "session"
CSRF_COOKIE = "csrf"
CSRF_HEADER = "x-csrf-token"
_UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@dataclass(frozen=True, slots=True)
class Principal:
    user: int
    session_token: str | None  # None when an API key authenticated the request


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def identify(accounts: Accounts, cookies: dict[str, str], authorization: str | None,
             method: str, csrf_header: str | None) -> Principal:
    """Return who sent the request, or raise 401 (no or wrong credentials) or 403 (CSRF)."""
    if authorization is not None:
        scheme, _, key = authorization.partition(" ")
        user = accounts.authenticate_key(key.strip()) if scheme.lower() == "bearer" else None
        if user is None:
            raise ApiError(401, "unauthenticated", "the API key is not valid")
        return Principal(user, None)
    token = cookies.get(SESSION_COOKIE)
    session = accounts.session(token, now_ms()) if token else None
    if session is None or token is None:
        raise ApiError(401, "unauthenticated", "log in or send an API key")
    if method in _UNSAFE and csrf_header != session.csrf:
        raise ApiError(403, "csrf", f"send the csrf cookie's value in the {CSRF_HEADER} header")
    return Principal(session.user, token)


async def current(request: Request) -> Principal:
    """FastAPI dependency: the principal of an authenticated request."""
    accounts: Accounts = request.app.state.ctx.accounts
    return identify(accounts, dict(request.cookies), request.headers.get("authorization"),
                    request.method, request.headers.get(CSRF_HEADER))


def set_session_cookies(request: Request, response: Response, token: str, csrf: str) -> None:
    secure = request.url.scheme == "https"
    max_age = SESSION_TTL_MS // 1000
    response.set_cookie(SESSION_COOKIE, token, max_age=max_age, httponly=True,
                        samesite="strict", secure=secure, path="/")
    response.set_cookie(CSRF_COOKIE, csrf, max_age=max_age, httponly=False,
                        samesite="strict", secure=secure, path="/")


def clear_session_cookies(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/", samesite="strict", httponly=True)
    response.delete_cookie(CSRF_COOKIE, path="/", samesite="strict")
