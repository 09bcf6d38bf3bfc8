"""Bad WebSocket frames: each gets `{"type": "error"}` with the right code (and its `req`),
the socket stays usable, and nothing changes on the exchange."""

import asyncio
from typing import Any

import orjson

from tests.web.client import MARKET, Socket, User, exchange_state, socket

NOT_LOGGED_IN = [  # a frame (text, bytes or an object) and the error code it must get
    ("hello", "invalid_json"), (b'{"op": "ping"}', "invalid_json"), ("{", "invalid_json"),
    ("[1, 2]", "invalid_json"),
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
    ({"op": "auth", "key": 5}, "unauthenticated"),
    ({"op": "auth", "key": "a.b"}, "unauthenticated"),
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
    for n, (bad, code) in enumerate(frames):
        frame = {"req": 1000 + n, **bad} if isinstance(bad, dict) else bad
        # Bytes go as a binary frame (the API speaks text frames only).
        await ws.ws.send(orjson.dumps(frame).decode() if isinstance(frame, dict) else frame)
        answer = await ws.take(type="error")
        assert answer["error"]["code"] == code, (frame, answer)
        assert isinstance(answer["error"]["message"], str) and answer["error"]["message"]
        if isinstance(frame, dict) and type(frame["req"]) is int:  # a valid req is echoed
            assert answer["req"] == frame["req"], (frame, answer)
        else:
            assert "req" not in answer, (frame, answer)
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

    asyncio.run(test())
    after = exchange_state(exchange_server, [alice, bob])
    [cancelled] = after["users"][0]["history"]  # the one good order, placed and cancelled
    assert cancelled["client_order_id"] == "a-1"
    after["users"][0]["history"] = []
    before["market"]["depth"]["version"] = after["market"]["depth"]["version"]
    assert after == before


def test_a_logged_out_cookie_does_not_authenticate_the_socket(exchange_server: str,
                                                              alice: User) -> None:
    stale = alice.http.cookies["session"]
    assert alice.http.delete("/session").status_code == 204

    async def test() -> None:
        async with socket(exchange_server, session=stale) as ws:
            answer = await ws.ask(1, op="subscribe", channel="account")
            assert answer["error"]["code"] == "unauthenticated"
            assert (await ws.ask(2, op="place", order={}))["error"]["code"] == "unauthenticated"

    asyncio.run(test())
