"""The REST API over real HTTP against a running `exchange run`: what users do, end to end.

Each test gets a fresh exchange (conftest's `exchange_server`), so prices, depth, trades
and every balance can be checked exactly. Fees are zero; each user starts with $1000 and
100 COIN. Bad input is in test_api_errors.py.
"""

from decimal import Decimal
from typing import Any

import httpx

from tests.web.client import MARKET, PASSWORD, User, assert_error, exchange_state, with_key


def money(user: User) -> dict[str, tuple[str, str]]:
    """(available, held) by asset."""
    return {asset: (row["available"], row["held"]) for asset, row in user.balances().items()}


def test_two_users_trade(exchange_server: str, alice: User, bob: User) -> None:
    assert alice.user_id != bob.user_id
    assert alice.get("/session") == {"user_id": alice.user_id}
    for user in (alice, bob):
        assert user.balances() == {
            "USD": {"available": "1000.000000", "held": "0.000000", "total": "1000.000000"},
            "COIN": {"available": "100.00000000", "held": "0.00000000",
                     "total": "100.00000000"}}

    sell = alice.place(side="sell", price="4.00", quantity="2")
    assert {k: sell[k] for k in ("market", "side", "type", "time_in_force", "price",
                                  "quantity", "filled", "status", "reason")} == {
        "market": MARKET, "side": "sell", "type": "limit", "time_in_force": "gtc",
        "price": "4.00", "quantity": "2.0000", "filled": "0.0000", "status": "new",
        "reason": None}
    assert money(alice)["COIN"] == ("98.00000000", "2.00000000")
    assert alice.get(f"/markets/{MARKET}/depth")["asks"] == [["4.00", "2.0000"]]

    buy = bob.place(side="buy", price="5", quantity="3.0")
    assert (buy["status"], buy["filled"], buy["filled_quote"], buy["average_price"]) == (
        "partially_filled", "2.0000", "8.000000", "4.00")

    # The trade is at the resting order's price; the buyer's rest holds 1 x 5.00.
    assert money(alice) == {"USD": ("1008.000000", "0.000000"),
                            "COIN": ("98.00000000", "0.00000000")}
    assert money(bob) == {"USD": ("987.000000", "5.000000"),
                          "COIN": ("102.00000000", "0.00000000")}
    depth = alice.get(f"/markets/{MARKET}/depth")
    assert (depth["market"], depth["bids"], depth["asks"]) == (MARKET, [["5.00", "1.0000"]], [])

    [trade] = alice.get(f"/markets/{MARKET}/trades")
    assert (trade["price"], trade["quantity"], trade["taker_side"]) == ("4.00", "2.0000", "buy")
    [candle] = alice.get(f"/markets/{MARKET}/candles", interval="1m")
    assert candle == {
        "time": trade["time"] // 60_000 * 60, "open": "4.00", "high": "4.00", "low": "4.00",
        "close": "4.00", "volume": "2.0000", "quote_volume": "8.000000",
        "buy_volume": "2.0000", "buy_quote": "8.000000", "sell_volume": "0.0000",
        "sell_quote": "0.000000", "trades": 1}
    assert alice.get(f"/markets/{MARKET}/candles", interval="1d")[0]["volume"] == "2.0000"
    assert alice.get(f"/markets/{MARKET}/ticker") == {
        "market": MARKET, "last": "4.00", "open": "4.00", "high": "4.00", "low": "4.00",
        "volume": "2.0000", "quote_volume": "8.000000", "change": "0.00",
        "change_percent": "0.00", "best_bid": "5.00", "best_ask": None, "trades": 1}

    common = {"trade_id": trade["trade_id"], "market": MARKET, "price": "4.00",
              "quantity": "2.0000", "quote_quantity": "8.000000", "fee": "0.000000",
              "time": trade["time"]}
    assert alice.get("/fills") == [{**common, "order_id": sell["order_id"], "side": "sell",
                                    "liquidity": "maker"}]
    assert bob.get("/fills", market=MARKET) == [{**common, "order_id": buy["order_id"],
                                                 "side": "buy", "liquidity": "taker"}]

    sold = alice.get(f"/orders/{sell['order_id']}")
    assert (sold["status"], sold["filled"], sold["average_price"]) == ("filled", "2.0000", "4.00")
    assert alice.get("/orders/open") == []
    assert alice.get("/orders/history") == [sold]
    assert bob.get("/orders/open", market=MARKET) == [bob.get(f"/orders/{buy['order_id']}")]
    assert bob.get("/orders/history") == []


def test_reduce_cancel_cancel_all_and_by_client_id(alice: User, bob: User) -> None:
    first = alice.place(side="buy", price="3.00", quantity="1", client_order_id="a-1")
    bob.place(side="buy", price="3.00", quantity="1")
    reduced = alice.http.post(f"/orders/{first['order_id']}/reduce", json={"reduce_by": "0.4"})
    assert reduced.status_code == 200, reduced.text
    assert (reduced.json()["quantity"], reduced.json()["status"]) == ("0.6000", "new")
    assert money(alice)["USD"] == ("998.200000", "1.800000")
    # Reducing keeps the order's place in the queue: it still trades before bob's.
    bob.place(side="sell", type="market", quantity="0.6")
    assert alice.get(f"/orders/{first['order_id']}")["status"] == "filled"
    assert bob.get(f"/markets/{MARKET}/depth")["bids"] == [["3.00", "1.0000"]]

    second = alice.place(side="buy", price="2.50", quantity="2")
    cancelled = alice.cancel(second["order_id"])
    assert (cancelled["status"], cancelled["reason"]) == ("cancelled", "user")
    assert money(alice)["USD"] == ("998.200000", "0.000000")

    alice.place(side="sell", price="9.00", quantity="1", client_order_id="a-2")
    answer = alice.http.delete("/orders/by-client-id/a-2")
    assert answer.status_code == 200, answer.text
    assert (answer.json()["client_order_id"], answer.json()["status"]) == ("a-2", "cancelled")
    again = alice.place(side="sell", price="9.00", quantity="1", client_order_id="a-2")
    assert again["status"] == "new"  # a client order id is free again once its order closed

    whole = alice.place(side="buy", price="1.00", quantity="1")
    gone = alice.http.post(f"/orders/{whole['order_id']}/reduce", json={"reduce_by": "5"})
    assert (gone.json()["status"], gone.json()["reason"]) == ("cancelled", "reduced")

    ids = [alice.place(side="buy", price=f"1.{i}0", quantity="1")["order_id"]
           for i in range(3)] + [again["order_id"]]
    answer = alice.http.delete("/orders", params={"market": MARKET})
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"cancelled": sorted(ids)}
    assert alice.get("/orders/open") == []
    assert money(alice) == {"USD": ("998.200000", "0.000000"),
                            "COIN": ("100.60000000", "0.00000000")}
    assert alice.http.delete("/orders").json() == {"cancelled": []}
    assert bob.open_ids() != []  # bob's orders are his own


def test_a_market_buy_by_quantity_shows_no_quote_quantity(alice: User, bob: User) -> None:
    alice.place(side="sell", price="4.00", quantity="1")
    bought = bob.place(side="buy", type="market", quantity="0.5")
    # Risk lets the book spend all the buyer has; that is not what the buyer asked for.
    assert (bought["quantity"], bought["quote_quantity"], bought["filled"],
            bought["filled_quote"], bought["status"]) == (
        "0.5000", None, "0.5000", "2.000000", "filled")
    assert bob.get(f"/orders/{bought['order_id']}")["quote_quantity"] is None
    assert money(bob)["USD"] == ("998.000000", "0.000000")


def test_market_orders(alice: User, bob: User) -> None:
    alice.place(side="sell", price="4.00", quantity="1")
    alice.place(side="sell", price="5.00", quantity="1")
    by_budget = bob.place(side="buy", type="market", quote_quantity="6.50")
    assert {k: by_budget[k] for k in ("type", "time_in_force", "price", "quote_quantity",
                                       "filled", "filled_quote", "average_price", "status")} == {
        "type": "market", "time_in_force": "ioc", "price": None, "quote_quantity": "6.500000",
        "filled": "1.5000", "filled_quote": "6.500000", "average_price": "4.333333",
        "status": "filled"}
    assert alice.get(f"/markets/{MARKET}/depth")["asks"] == [["5.00", "0.5000"]]

    bob.place(side="buy", price="3.00", quantity="1")
    bob.place(side="buy", price="2.00", quantity="1")
    sold = alice.place(side="sell", type="market", quantity="1.5")
    assert (sold["filled"], sold["filled_quote"], sold["average_price"], sold["status"]) == (
        "1.5000", "4.000000", "2.666667", "filled")
    assert money(alice) == {"USD": ("1010.500000", "0.000000"),
                            "COIN": ("96.50000000", "0.50000000")}
    assert money(bob) == {"USD": ("988.500000", "1.000000"),
                          "COIN": ("103.00000000", "0.00000000")}

    # What the book cannot fill at once expires.
    rest = alice.place(side="sell", type="market", quantity="1")
    assert (rest["filled"], rest["status"], rest["reason"]) == ("0.5000", "cancelled", "expired")
    by_quantity = bob.place(side="buy", type="market", quantity="0.25")
    assert (by_quantity["filled"], by_quantity["filled_quote"]) == ("0.2500", "1.250000")
    empty = alice.place(side="sell", type="market", quantity="1")
    assert (empty["filled"], empty["status"], empty["reason"]) == ("0.0000", "cancelled",
                                                                   "expired")
    totals = [u.balances() for u in (alice, bob)]
    assert sum(Decimal(b["USD"]["total"]) for b in totals) == 2000
    assert sum(Decimal(b["COIN"]["total"]) for b in totals) == 200


def test_ioc_fok_post_only_and_self_trade(exchange_server: str, alice: User, bob: User) -> None:
    alice.place(side="sell", price="4.00", quantity="1")
    ioc = bob.place(side="buy", price="4.00", quantity="2", time_in_force="ioc")
    assert (ioc["filled"], ioc["status"], ioc["reason"]) == ("1.0000", "cancelled", "expired")
    assert bob.get(f"/markets/{MARKET}/depth")["bids"] == []

    alice.place(side="sell", price="4.10", quantity="1")
    alice.place(side="sell", price="4.20", quantity="1")
    before = exchange_state(exchange_server, [alice, bob])
    answer = bob.http.post("/orders", json={"market": MARKET, "side": "buy", "price": "4.20",
                                            "quantity": "3", "time_in_force": "fok"})
    assert_error(answer, 400, "fok_cannot_fill")
    assert exchange_state(exchange_server, [alice, bob]) == before
    fok = bob.place(side="buy", price="4.20", quantity="2", time_in_force="fok")
    assert (fok["status"], fok["filled_quote"]) == ("filled", "8.300000")

    alice.place(side="sell", price="5.00", quantity="1")
    before = exchange_state(exchange_server, [alice, bob])
    answer = bob.http.post("/orders", json={"market": MARKET, "side": "buy", "price": "5.00",
                                            "quantity": "1", "time_in_force": "post_only"})
    assert_error(answer, 400, "post_only_would_take")
    assert exchange_state(exchange_server, [alice, bob]) == before
    maker = bob.place(side="buy", price="4.99", quantity="1", time_in_force="post_only")
    assert (maker["status"], maker["time_in_force"]) == ("new", "post_only")

    # Alice's buy would meet her own ask: by default the incoming order is cancelled...
    taker = alice.place(side="buy", price="5.00", quantity="1")
    assert (taker["status"], taker["reason"], taker["filled"]) == ("cancelled", "self_trade",
                                                                   "0.0000")
    assert alice.get(f"/markets/{MARKET}/depth")["asks"] == [["5.00", "1.0000"]]
    # ...or, if asked, the resting one, and the incoming order goes on.
    rests = alice.place(side="buy", price="5.00", quantity="1", self_trade="cancel_maker")
    assert rests["status"] == "new"
    depth = alice.get(f"/markets/{MARKET}/depth")
    assert (depth["bids"], depth["asks"]) == ([["5.00", "1.0000"], ["4.99", "1.0000"]], [])
    [maker_gone, *_] = alice.get("/orders/history")
    assert (maker_gone["price"], maker_gone["reason"]) == ("5.00", "self_trade")


def test_log_out_and_log_in_again(exchange_server: str, alice: User) -> None:
    order = alice.place(side="buy", price="1.00", quantity="1")
    session = alice.http.cookies["session"]
    assert alice.http.delete("/session").status_code == 204
    assert "session" not in alice.http.cookies
    assert_error(alice.http.get("/session"), 401, "unauthenticated")
    stale = httpx.get(f"{exchange_server}/api/v1/balances", cookies={"session": session})
    assert_error(stale, 401, "unauthenticated")

    again = User(exchange_server, PASSWORD, user_id=alice.user_id)
    try:
        assert again.get("/session") == {"user_id": alice.user_id}
        assert again.open_ids() == [order["order_id"]]
        assert money(again)["USD"] == ("999.000000", "1.000000")
        # The csrf token of the old session does not go with the new one.
        again.http.headers["X-CSRF-Token"] = alice.csrf
        assert_error(again.http.delete("/orders"), 403, "csrf")
        assert again.open_ids() == [order["order_id"]]
    finally:
        again.close()


def test_api_keys(exchange_server: str, alice: User, bob: User) -> None:
    created = alice.http.post("/api-keys", json={"label": "bot"})
    assert created.status_code == 201, created.text
    key: dict[str, Any] = created.json()
    assert set(key) == {"key_id", "label", "created", "kind", "permissions", "key"}
    assert key["label"] == "bot" and key["key"].startswith(key["key_id"] + ".")
    assert (key["kind"], key["permissions"]) == ("bearer", "trade")
    assert alice.get("/api-keys") == [{k: v for k, v in key.items() if k != "key"}]

    with with_key(exchange_server, key["key"]) as program:
        assert program.get("/session").json() == {"user_id": alice.user_id}
        placed = program.post("/orders", json={"market": MARKET, "side": "buy",
                                               "price": "2.00", "quantity": "1"})
        assert placed.status_code == 201, placed.text  # no CSRF header needed
        assert alice.open_ids() == [placed.json()["order_id"]]
        assert program.delete(f"/orders/{placed.json()['order_id']}").status_code == 200
        # A leaked key must not mint more keys or revoke others.
        assert_error(program.post("/api-keys", json={"label": "x"}), 403, "forbidden")
        assert_error(program.delete(f"/api-keys/{key['key_id']}"), 403, "forbidden")

        assert_error(bob.http.delete(f"/api-keys/{key['key_id']}"), 404, "not_found")
        assert program.get("/balances").status_code == 200
        assert bob.get("/api-keys") == []

        assert alice.http.delete(f"/api-keys/{key['key_id']}").status_code == 204
        assert_error(program.get("/balances"), 401, "unauthenticated")
        assert_error(program.post("/orders", json={"market": MARKET, "side": "buy",
                                                   "price": "2.00", "quantity": "1"}),
                     401, "unauthenticated")
    assert alice.get("/api-keys") == []
    assert_error(alice.http.delete(f"/api-keys/{key['key_id']}"), 404, "not_found")
    assert alice.open_ids() == []


def test_public_market_data_on_an_empty_market(exchange_server: str) -> None:
    with httpx.Client(base_url=exchange_server + "/api/v1") as http:
        [market] = http.get("/markets").json()
        assert market == {
            "symbol": MARKET, "base": "COIN", "quote": "USD", "tick_size": "0.01",
            "lot_size": "0.0001", "min_quantity": "0.0001", "max_quantity": "1000000.0000",
            "max_price": "1000000.00", "maker_fee": "0.000000", "taker_fee": "0.000000",
            "price_decimals": 2, "quantity_decimals": 4}
        assert http.get(f"/markets/{MARKET}/depth").json() == {
            "market": MARKET, "version": 0, "bids": [], "asks": []}
        assert http.get(f"/markets/{MARKET}/trades").json() == []
        assert http.get(f"/markets/{MARKET}/candles", params={"interval": "1h"}).json() == []
        ticker = http.get(f"/markets/{MARKET}/ticker").json()
        assert ticker["last"] is None and ticker["trades"] == 0
        assert http.get("/status").json()["status"] == "ok"
