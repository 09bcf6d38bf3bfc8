"""Limits that keep one client from hurting the others: body size and password work.

A request body is at most `MAX_BODY` bytes (an order is a few hundred): a bigger one is
refused with 413 before the app reads it, not parsed into memory first.

Password hashing (argon2id) costs tens to hundreds of milliseconds of CPU on purpose, so
sign-up and log-in are the cheapest way to load the server. `PasswordGate` runs at most a
few hashes at a time and lets a bounded number wait; beyond that it answers 429 at once
rather than let a queue grow. A log-in attempt that got `failures` wrong passwords in a
row (counted per user id and client address, so one guesser cannot lock the user out
everywhere) is locked for `lockout` seconds, its password not even checked meanwhile,
which makes guessing slow. The counts live in the store, so that every gateway of a
cluster sees the same: a guesser gains nothing by spreading guesses over them.
"""

import asyncio
import math
from collections.abc import Callable
from typing import TypeVar

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from exchange.store.port import Store
from exchange.web.auth import now_ms
from exchange.web.errors import ApiError
from exchange.web.responses import Json

MAX_BODY = 64 * 1024

_KEEP_MS = 24 * 3600 * 1000  # wrong passwords count as in a row for a day (or a success)

T = TypeVar("T")
Attempt = tuple[int, str]  # what log-in failures are counted by: user id, client address


class BodyLimit:
    """ASGI middleware: refuse an HTTP request whose body is over `limit` bytes."""

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope["headers"]).get(b"content-length", b"")
        if length.isdigit() and int(length) > self.limit:
            await self._too_large()(scope, receive, send)
            return
        seen = 0

        async def counted() -> Message:
            # A body without a length (chunked) is counted as it arrives.
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit:
                # Raised inside the app's body read, before any answer: the app's handler
                # for HTTPException answers it in the API's error shape.
                raise HTTPException(413, self._message())
            return message

        await self.app(scope, counted, send)

    def _message(self) -> str:
        return f"the request body is over {self.limit} bytes"

    def _too_large(self) -> Json:
        return Json(ApiError(413, "body_too_large", self._message()).body(), status_code=413)


class PasswordGate:
    """Bounds the password hashing a gateway does, and slows down password guessing."""

    def __init__(self, store: Store, hashers: int = 2, waiting: int = 32, failures: int = 5,
                 lockout: float = 60.0, clock: Callable[[], int] = now_ms) -> None:
        self.store = store
        self.waiting = waiting
        self.failures = failures
        self.lockout_ms = int(lockout * 1000)
        self.keep_ms = max(_KEEP_MS, self.lockout_ms)
        self.clock = clock  # milliseconds
        self._slots = asyncio.Semaphore(hashers)
        self._queued = 0

    async def run(self, work: Callable[..., T], *args: object) -> T:
        """Run `work(*args)` in a thread once a slot is free; 429 if too many wait."""
        if self._queued >= self.waiting:
            raise ApiError(429, "busy", "too many sign-ups and log-ins at once; retry shortly")
        self._queued += 1
        try:
            async with self._slots:
                return await asyncio.to_thread(work, *args)
        finally:
            self._queued -= 1

    def check(self, attempt: Attempt) -> None:
        """Refuse a locked log-in attempt."""
        wrong, kept_ms = self.store.failures(_name(attempt), self.clock())
        # The count is kept `keep_ms` after the last failure: so long ago it was.
        locked_ms = self.lockout_ms - (self.keep_ms - kept_ms)
        if wrong >= self.failures and locked_ms > 0:
            raise ApiError(429, "too_many_attempts", "too many wrong passwords for this user "
                           f"from here; retry in {math.ceil(locked_ms / 1000)} s")

    def failed(self, attempt: Attempt) -> None:
        # Past the lockout the count stays, so the next wrong password locks at once.
        self.store.fail(_name(attempt), self.clock(), self.keep_ms)

    def succeeded(self, attempt: Attempt) -> None:
        self.store.forget_failures(_name(attempt))


def _name(attempt: Attempt) -> str:
    user, address = attempt
    return f"login:{user}:{address}"
