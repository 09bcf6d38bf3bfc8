"""The WebSocket API over a real socket (the `websockets` client) against `exchange run`.

Market channels, the account channel, trading with `req` echoed, bad frames, and auth
by API key. REST (tests/web/client.py) makes the changes and is the reference the
socket's messages are compared with. Each test runs its own event loop.
"""

import asyncio
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any

import orjson
import pytest
from websockets.asyncio.client import ClientConnection, connect

from tests.web.client import MARKET, User, exchange_state

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


def run(test: Coroutine[Any, Any, None]) -> None:
    asyncio.run(test)


@pytest.fixture
def alice(exchange_server: str) -> Iterator[User]:
    user = User(exchange_server)
    yield user
    user.close()


@pytest.fixture
def bob(exchange_server: str) -> Iterator[User]:
    user = User(exchange_server)
    yield user
    user.close()


def test_depth_deltas_chain_and_rebuild_the_rest_book(exchange_server: str, alice: User,
                                                      bob: User) -> None:
    alice.place(side="sell", price="4.00", quantity="1")
    alice.place(side="sell", price="4.50", quantity="2")
    bob.place(side="buy", price="3.00", quantity="1")

    async def test() -> None:
        async with socket(exchange_server) as ws:
            await ws.send(op="subscribe", channel="depth", market=MARKET, req=1)
            assert await ws.take(type="subscribed") == {
                "type": "subscribed", "channel": "depth", "market": MARKET, "req": 1}
            snapshot = await ws.take(type="depth")
            rest = alice.get(f"/markets/{MARKET}/depth", limit=500)
            assert snapshot == {"type": "depth", "market": MARKET, "snapshot": True, **rest}
            book = {"bids": dict(snapshot["bids"]), "asks": dict(snapshot["asks"])}

            # Trade through levels, add, reduce and cancel, from both sides.
            bob.place(side="buy", price="4.50", quantity="1.5")
            doomed = bob.place(side="buy", price="3.10", quantity="2")
            alice.place(side="sell", price="5.00", quantity="3", client_order_id="five")
            big = alice.place(side="sell", price="6.00", quantity="4")
            alice.http.post(f"/orders/{big['order_id']}/reduce", json={"reduce_by": "1"})
            bob.cancel(doomed["order_id"])
            alice.place(side="sell", type="market", quantity="0.5")
            bob.place(side="buy", type="market", quote_quantity="20")
            alice.http.delete("/orders/by-client-id/five")
            final = alice.get(f"/markets/{MARKET}/depth", limit=500)

            version, deltas = snapshot["version"], 0
            while version < final["version"]:
                delta = await ws.take(type="depth")
                assert delta["snapshot"] is False and delta["market"] == MARKET
                assert delta["prev_version"] == version, "a gap in the deltas"
                assert delta["version"] > version
                for side in ("bids", "asks"):
                    for price, quantity in delta[side]:
                        if Decimal(quantity):
                            book[side][price] = quantity
                        else:
                            book[side].pop(price, None)
                version, deltas = delta["version"], deltas + 1
            assert version == final["version"] and deltas > 0
            assert sorted(book["bids"].items(), key=lambda lv: -Decimal(lv[0])) == [
                tuple(level) for level in final["bids"]]
            assert sorted(book["asks"].items(), key=lambda lv: Decimal(lv[0])) == [
                tuple(level) for level in final["asks"]]
            assert (final["bids"], final["asks"]) == ([["3.00", "0.5000"]], [["6.00", "3.0000"]])

    run(test())


def test_trades_ticker_and_candles(exchange_server: str, alice: User, bob: User) -> None:
    async def test() -> None:
        async with socket(exchange_server) as ws:
            for req, channel in enumerate(("trades", "ticker", "candles"), start=1):
                await ws.send(op="subscribe", channel=channel, market=MARKET, req=req)
                assert (await ws.take(req=req))["type"] == "subscribed"
            assert await ws.take(type="trades") == {"type": "trades", "market": MARKET,
                                                    "trades": []}
            empty = await ws.take(type="ticker")
            assert (empty["last"], empty["trades"], empty["best_bid"]) == (None, 0, None)
            assert await ws.take(type="candles") == {
                "type": "candles", "market": MARKET, "interval": "1m", "candles": []}

            alice.place(side="sell", price="4.00", quantity="2")
            bob.place(side="buy", price="4.00", quantity="2")
            trades = await ws.take(type="trades")
            assert trades["trades"] == alice.get(f"/markets/{MARKET}/trades")
            assert trades["trades"][0]["taker_side"] == "buy"
            ticker = await ws.take(lambda m: m["trades"] == 1 and m["best_ask"] is None,
                                   type="ticker")
            assert ticker == {"type": "ticker", **alice.get(f"/markets/{MARKET}/ticker")}
            assert (ticker["last"], ticker["volume"]) == ("4.00", "2.0000")
            candle = await ws.take(type="candle")
            assert candle == {"type": "candle", "market": MARKET, "interval": "1m",
                              "candle": alice.get(f"/markets/{MARKET}/candles")[-1]}

            assert await ws.ask(4, op="unsubscribe", channel="trades", market=MARKET) == {
                "type": "unsubscribed", "channel": "trades", "req": 4}
            alice.place(side="sell", price="4.10", quantity="1")
            bob.place(side="buy", price="4.10", quantity="1")
            # The hub sends a batch's trades before its ticker: once the ticker shows the
            # second trade, a trades message for it would already be here.
            await ws.take(lambda m: m["trades"] == 2, type="ticker")
            assert not [m for m in ws.inbox if m["type"] == "trades"]

            await ws.send(op="subscribe", channel="trades", market=MARKET, req=5)
            await ws.take(type="subscribed", req=5)
            again = await ws.take(type="trades")
            assert again["trades"] == list(reversed(alice.get(f"/markets/{MARKET}/trades")))

    run(test())


def test_account_channel(exchange_server: str, alice: User, bob: User) -> None:
    resting = alice.place(side="buy", price="1.00", quantity="1")

    async def test() -> None:
        async with socket(exchange_server, alice) as ws:
            assert await ws.ask(1, op="subscribe", channel="account") == {
                "type": "subscribed", "channel": "account", "req": 1}
            assert (await ws.take(type="balances"))["balances"] == alice.get("/balances")
            assert (await ws.take(type="orders"))["orders"] == [
                alice.get(f"/orders/{resting['order_id']}")]

            sell = alice.place(side="sell", price="4.00", quantity="2")
            new = await ws.take(type="order")
            assert new["order"]["order_id"] == sell["order_id"]
            assert new["order"]["status"] == "new"
            held = await ws.take(lambda m: m["balances"][1]["held"] != "0.00000000",
                                 type="balances")
            assert held["balances"][1] == {"asset": "COIN", "available": "98.00000000",
                                           "held": "2.00000000", "total": "100.00000000"}

            bob.place(side="buy", price="4.00", quantity="2")
            fill = await ws.take(type="fill")
            assert fill == {"type": "fill", "fill": alice.get("/fills")[0]}
            assert (fill["fill"]["liquidity"], fill["fill"]["side"]) == ("maker", "sell")
            done = await ws.take(lambda m: m["order"]["status"] == "filled", type="order")
            assert done["order"] == alice.get(f"/orders/{sell['order_id']}")
            settled = await ws.take(lambda m: m["balances"][0]["available"] == "1007.000000",
                                    type="balances")
            assert settled["balances"] == alice.get("/balances")
            # Only alice's own orders come down her socket (the pong comes after anything
            # bob's orders could have sent her).
            assert await ws.ask(2, op="ping") == {"type": "pong", "req": 2}
            mine = {resting["order_id"], sell["order_id"]}
            assert {m["order"]["order_id"] for m in ws.inbox if m["type"] == "order"} <= mine

    run(test())


def test_place_and_cancel_over_the_socket(exchange_server: str, alice: User) -> None:
    async def test() -> None:
        async with socket(exchange_server, alice) as ws:
            order = {"market": MARKET, "side": "buy", "price": "2.00", "quantity": "1"}
            placed = await ws.ask(7, op="place", order=order)
            assert placed == {"type": "placed", "req": 7,
                              "order": alice.get(f"/orders/{placed['order']['order_id']}")}
            assert placed["order"]["status"] == "new"
            cancelled = await ws.ask(8, op="cancel", order_id=placed["order"]["order_id"])
            assert cancelled["type"] == "cancelled"
            assert (cancelled["order"]["status"], cancelled["order"]["reason"]) == (
                "cancelled", "user")

            named = await ws.ask(9, op="place", order={**order, "client_order_id": "ws-1"})
            by_name = await ws.ask(10, op="cancel", client_order_id="ws-1")
            assert by_name["order"]["order_id"] == named["order"]["order_id"]
            assert by_name["order"]["status"] == "cancelled"

            # Many requests in flight on one socket; each answer carries its own req.
            for req in range(100, 110):
                await ws.send(op="place", req=req, order={**order, "price": f"1.{req - 100}0"})
            answers = [await ws.take(req=req) for req in range(100, 110)]
            assert [a["order"]["price"] for a in answers] == [f"1.{i}0" for i in range(10)]
            assert sorted(alice.open_ids()) == sorted(a["order"]["order_id"] for a in answers)
            assert await ws.ask(11, op="ping") == {"type": "pong", "req": 11}

    run(test())


NOT_LOGGED_IN = [  # a frame (text or object) and the error code it must get
    ("hello", "invalid_json"), ("{", "invalid_json"), ("[1, 2]", "invalid_json"),
    ("null", "invalid_json"), ('"ping"', "invalid_json"), ("3", "invalid_json"),
    ("x" * 70_000, "invalid_json"),
    ({}, "invalid_field"), ({"op": "dance"}, "invalid_field"), ({"op": 5}, "invalid_field"),
    ({"op": "ping", "req": "1"}, "invalid_field"), ({"op": "ping", "req": True}, "invalid_field"),
    ({"op": "ping", "req": 1.5}, "invalid_field"),
    ({"op": "subscribe", "channel": "news", "market": MARKET}, "invalid_field"),
    ({"op": "subscribe", "channel": ["depth"], "market": MARKET}, "invalid_field"),
    ({"op": "subscribe", "channel": "depth"}, "missing_field"),
    ({"op": "subscribe", "channel": "depth", "market": ["x"]}, "invalid_field"),
    ({"op": "subscribe", "channel": "depth", "market": "NOPE"}, "unknown_market"),
    ({"op": "subscribe", "channel": "trades", "market": "coin-usd"}, "unknown_market"),
    ({"op": "subscribe", "channel": "candles", "market": MARKET, "interval": "2m"},
     "invalid_field"),
    ({"op": "subscribe", "channel": "candles", "market": MARKET, "interval": ["1m"]},
     "invalid_field"),
    ({"op": "subscribe", "channel": "candles", "market": MARKET, "interval": {}},
     "invalid_field"),
    ({"op": "subscribe", "channel": "account"}, "unauthenticated"),
    ({"op": "place", "order": {"market": MARKET, "side": "buy", "price": "1", "quantity": "1"}},
     "unauthenticated"),
    ({"op": "cancel", "order_id": 1}, "unauthenticated"),
    ({"op": "auth", "key": "nope"}, "unauthenticated"), ({"op": "auth"}, "unauthenticated"),
    ({"op": "auth", "key": 5}, "unauthenticated"), ({"op": "auth", "key": "a.b"}, "unauthenticated"),
]

LOGGED_IN = [
    ({"op": "place"}, "invalid_field"), ({"op": "place", "order": []}, "invalid_field"),
    ({"op": "place", "order": {"side": "buy", "price": "1", "quantity": "1"}}, "missing_field"),
    ({"op": "place", "order": {"market": MARKET, "side": "buy", "price": 1, "quantity": "1"}},
     "invalid_field"),
    ({"op": "place", "order": {"market": MARKET, "side": "buy", "price": "NaN",
                               "quantity": "1"}}, "invalid_price"),
    ({"op": "place", "order": {"market": MARKET, "side": "buy", "price": "1",
                               "quantity": "0.00001"}}, "invalid_quantity"),
    ({"op": "place", "order": {"market": "NOPE", "side": "buy", "price": "1",
                               "quantity": "1"}}, "unknown_market"),
    ({"op": "place", "order": {"market": MARKET, "side": "buy", "quantity": "1"}},
     "missing_field"),
    ({"op": "place", "order": {"market": MARKET, "side": "buy", "type": "market", "price": "1",
                               "quantity": "1"}}, "invalid_order"),
    ({"op": "place", "order": {"market": MARKET, "side": "buy", "price": "1", "quantity": "1",
                               "client_order_id": "no spaces"}}, "invalid_field"),
    ({"op": "place", "order": {"market": MARKET, "side": "buy", "price": "1", "quantity": "1",
                               "extra": True}}, "invalid_field"),
    ({"op": "place", "order": {"market": MARKET, "side": "buy", "price": "1",
                               "quantity": "5000"}}, "insufficient_funds"),
    ({"op": "cancel"}, "invalid_field"), ({"op": "cancel", "order_id": 0}, "invalid_field"),
    ({"op": "cancel", "order_id": "1"}, "invalid_field"),
    ({"op": "cancel", "order_id": True}, "invalid_field"),
    ({"op": "cancel", "client_order_id": "a b"}, "invalid_field"),
    ({"op": "cancel", "order_id": 10**15}, "unknown_order"),
    ({"op": "cancel", "order_id": 2**64 - 1}, "unknown_order"),
    ({"op": "cancel", "client_order_id": "nope"}, "unknown_order"),
]


async def refuse_all(ws: Socket, frames: list[tuple[Any, str]]) -> None:
    """Send each bad frame, expect its error, and check the socket still answers a ping."""
    for n, (frame, code) in enumerate(frames):
        req = 1000 + n
        if isinstance(frame, dict):
            if "req" not in frame:
                frame = {**frame, "req": req}
            await ws.ws.send(orjson.dumps(frame).decode())
        else:
            await ws.ws.send(frame)
        answer = await ws.take(type="error")
        assert answer["error"]["code"] == code, (frame, answer)
        assert isinstance(answer["error"]["message"], str)
        if isinstance(frame, dict) and isinstance(frame["req"], int) and frame["req"] is not True:
            assert answer["req"] == frame["req"], (frame, answer)
        assert await ws.ask(n, op="ping") == {"type": "pong", "req": n}, frame


def test_bad_frames_get_errors_and_the_socket_stays_usable(exchange_server: str, alice: User,
                                                           bob: User) -> None:
    bobs = bob.place(side="sell", price="9.00", quantity="1", client_order_id="bob-1")
    before = exchange_state(exchange_server, [alice, bob])

    async def test() -> None:
        async with socket(exchange_server) as ws:
            await refuse_all(ws, NOT_LOGGED_IN)
        async with socket(exchange_server, alice) as ws:
            await refuse_all(ws, [*LOGGED_IN,
                                  ({"op": "cancel", "order_id": bobs["order_id"]},
                                   "unknown_order"),
                                  ({"op": "cancel", "client_order_id": "bob-1"},
                                   "unknown_order")])
            placed = await ws.ask(1, op="place", order={
                "market": MARKET, "side": "buy", "price": "1", "quantity": "1",
                "client_order_id": "a-1"})
            assert placed["type"] == "placed"
            await refuse_all(ws, [({"op": "place", "order": {
                "market": MARKET, "side": "buy", "price": "1", "quantity": "1",
                "client_order_id": "a-1"}}, "duplicate_client_order_id")])
            await ws.ask(2, op="cancel", client_order_id="a-1")

    run(test())
    after = exchange_state(exchange_server, [alice, bob])
    [cancelled] = after["users"][0]["history"]  # the one good order, placed and cancelled
    assert cancelled["client_order_id"] == "a-1"
    after["users"][0]["history"] = []
    before["market"]["depth"]["version"] = after["market"]["depth"]["version"]
    assert after == before


def test_auth_by_api_key(exchange_server: str, alice: User) -> None:
    key = alice.new_key("socket")
    order = {"market": MARKET, "side": "buy", "price": "2.00", "quantity": "1"}

    async def test() -> None:
        async with socket(exchange_server) as ws:
            assert (await ws.ask(1, op="place", order=order))["error"]["code"] == (
                "unauthenticated")
            wrong = await ws.ask(2, op="auth", key=key[:-1] + ("A" if key[-1] != "A" else "B"))
            assert wrong["error"]["code"] == "unauthenticated"
            assert await ws.ask(3, op="auth", key=key) == {
                "type": "authenticated", "user_id": alice.user_id, "req": 3}
            assert (await ws.ask(4, op="subscribe", channel="account"))["type"] == "subscribed"
            placed = await ws.ask(5, op="place", order=order)
            assert placed["type"] == "placed"
            pushed = await ws.take(type="order")
            assert pushed["order"]["order_id"] == placed["order"]["order_id"]
            assert alice.open_ids() == [placed["order"]["order_id"]]

        key_id = key.split(".")[0]
        assert alice.http.delete(f"/api-keys/{key_id}").status_code == 204
        async with socket(exchange_server) as ws:
            revoked = await ws.ask(6, op="auth", key=key)
            assert revoked["error"]["code"] == "unauthenticated"

    run(test())


def test_a_logged_out_cookie_does_not_authenticate_the_socket(exchange_server: str,
                                                              alice: User) -> None:
    stale = alice.http.cookies["session"]
    assert alice.http.delete("/session").status_code == 204

    async def test() -> None:
        async with socket(exchange_server, session=stale) as ws:
            answer = await ws.ask(1, op="subscribe", channel="account")
            assert answer["error"]["code"] == "unauthenticated"
            assert (await ws.ask(2, op="place", order={}))["error"]["code"] == "unauthenticated"

    run(test())
