"""A small client for the API tests: a signed-up user over real HTTP, a WebSocket, and
error checks.

`User` signs up (or logs in), keeps the session cookie and sends the CSRF header on
every request, as the page does. `state` takes everything an erroneous request must
leave alone, so a test can compare it before and after. `socket` opens the WebSocket
API, with a user's session cookie if given.
"""

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import httpx
import orjson
from websockets.asyncio.client import ClientConnection, connect

from tests.web.server import Server, free_port

API = "/api/v1"
MARKET = "COIN-USD"
PASSWORD = "correct horse battery"


class User:
    """One user of the exchange, logged in with a browser session (cookie + CSRF header)."""

    def __init__(self, url: str, password: str = PASSWORD, user_id: int | None = None) -> None:
        self.url = url
        self.password = password
        self.http = httpx.Client(base_url=url + API, timeout=30)
        if user_id is None:
            answer = self.http.post("/users", json={"password": password})
            assert answer.status_code == 201, answer.text
        else:
            answer = self.http.post("/session", json={"user_id": user_id, "password": password})
            assert answer.status_code == 200, answer.text
        self.user_id: int = answer.json()["user_id"]
        self.csrf: str = answer.json()["csrf_token"]
        self.http.headers["X-CSRF-Token"] = self.csrf

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> "User":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def get(self, path: str, **params: Any) -> Any:
        answer = self.http.get(path, params=params)
        assert answer.status_code == 200, answer.text
        return answer.json()

    def place(self, **fields: Any) -> dict[str, Any]:
        """Place an order (market COIN-USD unless given) and return it; it must be accepted."""
        answer = self.http.post("/orders", json={"market": MARKET, **fields})
        assert answer.status_code == 201, answer.text
        order: dict[str, Any] = answer.json()
        return order

    def cancel(self, order_id: int) -> dict[str, Any]:
        answer = self.http.delete(f"/orders/{order_id}")
        assert answer.status_code == 200, answer.text
        order: dict[str, Any] = answer.json()
        return order

    def balances(self) -> dict[str, dict[str, str]]:
        """Balances by asset: {"USD": {"available", "held", "total"}, ...}."""
        return {row.pop("asset"): row for row in self.get("/balances")}

    def open_ids(self) -> list[int]:
        return [o["order_id"] for o in self.get("/orders/open")]

    def new_key(self, label: str = "program") -> str:
        answer = self.http.post("/api-keys", json={"label": label})
        assert answer.status_code == 201, answer.text
        key: str = answer.json()["key"]
        return key

    def state(self) -> dict[str, Any]:
        """What a refused request must not change: money, orders, fills, API keys."""
        return {"balances": self.get("/balances"), "open": self.get("/orders/open"),
                "history": self.get("/orders/history"), "fills": self.get("/fills"),
                "keys": self.get("/api-keys")}


def with_key(url: str, key: str) -> httpx.Client:
    """A program's client: the API key as a bearer token, no cookies, no CSRF header."""
    return httpx.Client(base_url=url + API, timeout=30,
                        headers={"Authorization": f"Bearer {key}"})


def market_state(url: str) -> dict[str, Any]:
    """The public side of the exchange: the whole book (with its version) and the trades."""
    with httpx.Client(base_url=url + API, timeout=30) as http:
        return {name: http.get(f"/markets/{MARKET}/{name}", params=params).json()
                for name, params in (("depth", {"limit": 500}), ("trades", {"limit": 500}),
                                     ("candles", {}), ("ticker", {}))
                } | {"users": http.get("/status").json()["users"]}


def exchange_state(url: str, users: list[User]) -> dict[str, Any]:
    """The market and every given user's state, to compare before and after a request."""
    return {"market": market_state(url), "users": [u.state() for u in users]}


def assert_error(answer: httpx.Response, status: int, code: str,
                 field: str | None = None) -> dict[str, Any]:
    """Check the one error shape: `{"error": {"code", "message", "field"?}}`."""
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/json", answer.headers
    body = answer.json()
    assert list(body) == ["error"], body
    error: dict[str, Any] = body["error"]
    assert error["code"] == code, error
    assert isinstance(error["message"], str) and error["message"], error
    assert set(error) <= {"code", "message", "field"}, error
    if field is not None:
        assert error.get("field") == field, error
    return error


@contextmanager
def running_exchange(directory: Path) -> Iterator[Server]:
    """An `exchange run` of its own (for a module's worth of tests), killed at the end."""
    server = Server(directory / "data", free_port(), directory / "exchange.log")
    server.start()
    try:
        yield server
    finally:
        if server.process is not None:
            server.kill()


# Only a guard against a hang when an expected message never comes; nothing is timed.
PATIENCE = 15.0
Message = dict[str, Any]


class Socket:
    """A client socket that keeps what it received, so tests can wait for one kind of message
    while others (from other channels) queue up in order."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.inbox: list[Message] = []

    async def send(self, **message: Any) -> None:
        await self.ws.send(orjson.dumps(message).decode())

    async def take(self, where: Callable[[Message], bool] | None = None,
                   **fields: Any) -> Message:
        """Return (and remove) the first message with these fields for which `where` holds."""
        def wanted(message: Message) -> bool:
            return (all(message.get(k) == v for k, v in fields.items())
                    and (where is None or where(message)))

        while True:
            for i, message in enumerate(self.inbox):
                if wanted(message):
                    return self.inbox.pop(i)
            text = await asyncio.wait_for(self.ws.recv(), PATIENCE)
            self.inbox.append(orjson.loads(text))

    async def ask(self, req: int, **message: Any) -> Message:
        """Send a request and return its answer (the message that echoes `req`)."""
        await self.send(req=req, **message)
        return await self.take(req=req)


@asynccontextmanager
async def socket(url: str, user: User | None = None,
                 session: str | None = None) -> AsyncIterator[Socket]:
    """A socket with the user's session cookie if given, as the page's own socket has."""
    session = session or (user.http.cookies["session"] if user else None)
    headers = {"Cookie": f"session={session}"} if session else None
    async with connect(url.replace("http", "ws", 1) + "/api/v1/ws",
                       additional_headers=headers) as ws:
        yield Socket(ws)
