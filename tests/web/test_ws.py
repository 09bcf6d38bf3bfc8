"""The WebSocket API over a real socket (the `websockets` client) against `exchange run`.

Market channels, the account channel, trading with `req` echoed, and auth by API key;
bad frames are in test_ws_errors.py. REST (tests/web/client.py) makes the changes and
is the reference the socket's messages are compared with. Each test runs its own event
loop.
"""

import asyncio
from decimal import Decimal

from tests.web.client import MARKET, Socket, User, socket

Book = dict[str, dict[str, str]]  # {"bids": {price: quantity}, "asks": {...}}


async def follow(ws: Socket, book: Book, version: int, until: int) -> int:
    """Apply depth deltas to `book` from `version` on, up to version `until`; return how
    many there were. Each must follow on from the one before, with no gap."""
    deltas = 0
    while version < until:
        delta = await ws.take(type="depth")
        assert delta["snapshot"] is False and delta["market"] == MARKET
        assert delta["prev_version"] == version, "a gap in the deltas"
        assert delta["version"] > version
        for side in ("bids", "asks"):
            for price, quantity in delta[side]:
                if Decimal(quantity):
                    book[side][price] = quantity
                else:
                    del book[side][price]
        version, deltas = delta["version"], deltas + 1
    assert version == until
    return deltas


def levels(book: Book) -> tuple[list[list[str]], list[list[str]]]:
    """The book as REST shows it: bids high to low, asks low to high."""
    bids = sorted(book["bids"].items(), key=lambda level: -Decimal(level[0]))
    asks = sorted(book["asks"].items(), key=lambda level: Decimal(level[0]))
    return [list(level) for level in bids], [list(level) for level in asks]


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

            deltas = await follow(ws, book, snapshot["version"], final["version"])
            assert deltas > 0
            assert levels(book) == (final["bids"], final["asks"])
            assert (final["bids"], final["asks"]) == ([["3.00", "0.5000"]], [["6.00", "3.0000"]])

    asyncio.run(test())


def test_the_depth_snapshot_holds_the_whole_book(exchange_server: str, alice: User,
                                                 bob: User) -> None:
    """Deltas come for every level, so a snapshot cut at some depth would leave the client
    without the levels past the cut once the best ones trade away."""
    for i in range(505):
        alice.place(side="sell", price=f"{10 + i / 100:.2f}", quantity="0.0001")

    async def test() -> None:
        async with socket(exchange_server) as ws:
            await ws.send(op="subscribe", channel="depth", market=MARKET)
            snapshot = await ws.take(type="depth")
            book = {"bids": dict(snapshot["bids"]), "asks": dict(snapshot["asks"])}
            assert len(book["asks"]) == 505
            bob.place(side="buy", price="10.09", quantity="0.001")  # the best ten levels
            final = alice.get(f"/markets/{MARKET}/depth", limit=500)
            await follow(ws, book, snapshot["version"], final["version"])
            assert levels(book)[1][:500] == final["asks"]
            assert final["asks"][-1] == ["15.04", "0.0001"]

    asyncio.run(test())


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

    asyncio.run(test())


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

    asyncio.run(test())


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

    asyncio.run(test())


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

    asyncio.run(test())
