"""SIGKILL the exchange while orders stream in; after a restart nothing is lost or doubled.

Fees are zero, so money is easy to audit from the outside: every user's total of each
asset must equal the grant plus what their own fills say they bought and sold, the
holds must equal what their open orders still need, and all users together must hold
exactly what was granted.
"""

import random
import threading
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import httpx

from tests.web.server import Server

USERS = 6
ORDERS_EACH = 80
GRANT = {"USD": Decimal(1000), "COIN": Decimal(100)}


class Trader:
    def __init__(self, url: str, seed: int) -> None:
        self.http = httpx.Client(base_url=url, timeout=10)
        answer = self.http.post("/api/v1/users", json={"password": f"password-{seed}"})
        assert answer.status_code == 201, answer.text
        self.http.headers["x-csrf-token"] = answer.json()["csrf_token"]
        self.accepted: set[int] = set()
        self.answers: dict[int, dict[str, Any]] = {}  # each accepted order, as answered
        self.random = random.Random(seed)

    def trade_until_gone(self, stop: threading.Event) -> None:
        """Place and cancel orders until told to stop, done, or the server is gone."""
        # Bounded, so the fills of every user fit in what the API lists (500).
        for _ in range(ORDERS_EACH):
            if stop.is_set():
                return
            try:
                if self.accepted and self.random.random() < 0.25:
                    self.http.delete(f"/api/v1/orders/{self.random.choice(list(self.accepted))}")
                    continue
                price = Decimal(400 + self.random.randint(-5, 5)) / 100
                qty = Decimal(self.random.randint(1, 50)) / 100
                side = self.random.choice(["buy", "sell"])
                answer = self.http.post("/api/v1/orders", json={
                    "market": "COIN-USD", "side": side, "price": str(price),
                    "quantity": str(qty)})
            except httpx.TransportError:
                return
            if answer.status_code == 201:
                self.accepted.add(answer.json()["order_id"])
                self.answers[answer.json()["order_id"]] = answer.json()

    def get(self, path: str) -> Any:
        answer = self.http.get(path)
        assert answer.status_code == 200, answer.text
        return answer.json()


def test_a_killed_exchange_restarts_with_every_order_and_trade_settled_once(
    exchange_process: Server,
) -> None:
    traders = [Trader(exchange_process.url, seed) for seed in range(USERS)]
    try:
        check_crash_and_restart(exchange_process, traders)
    finally:
        for trader in traders:
            trader.http.close()


def kill_mid_stream(traders: list[Trader], kill: Callable[[], None], after: int, *,
                    keep_trading: bool = False) -> int:
    """Let the traders trade; once `after` of their orders were accepted, `kill`; let them
    go on (`keep_trading`) or stop; return how many orders were accepted in all."""
    stop = threading.Event()
    threads = [threading.Thread(target=t.trade_until_gone, args=(stop,)) for t in traders]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 60
    while sum(len(t.accepted) for t in traders) < after and time.monotonic() < deadline:
        time.sleep(0.01)
    kill()  # mid-stream: requests are in flight
    if not keep_trading:
        stop.set()
    for thread in threads:
        thread.join(120)
    return sum(len(t.accepted) for t in traders)


def check_crash_and_restart(exchange_process: Server, traders: list[Trader]) -> None:
    accepted = kill_mid_stream(traders, exchange_process.kill, after=100)
    assert accepted >= 100, "the stream was too thin to test"
    assert accepted < USERS * ORDERS_EACH, "killed too late"

    exchange_process.start()
    fills_seen = audit(traders)
    tape = traders[0].get("/api/v1/markets/COIN-USD/trades?limit=500")
    assert max(t["trade_id"] for t in tape) == max(fills_seen)
    check_a_crossing_pair_trades(traders)


def audit_when_settled(traders: list[Trader], timeout: float = 90.0) -> dict[int, int]:
    """`audit`, once what was in flight when a process died is settled."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return audit(traders)
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def audit(traders: list[Trader]) -> dict[int, int]:
    """Check the books balance from the outside; return how often each trade was filled.

    Every order the exchange accepted is known, open or closed; each user's total of each
    asset is the grant plus what their fills bought and sold; holds are what open orders
    still need; each trade settled once for each side (two fills); all users together hold
    exactly what was granted.
    """
    fills_seen: dict[int, int] = {}
    totals = dict.fromkeys(GRANT, Decimal(0))
    for trader in traders:
        for order_id in trader.accepted:
            answer = trader.http.get(f"/api/v1/orders/{order_id}")
            assert answer.status_code == 200, answer.text
        balances = {b["asset"]: b for b in trader.get("/api/v1/balances")}
        expected = dict(GRANT)
        for fill in trader.get("/api/v1/fills?limit=500"):
            fills_seen[fill["trade_id"]] = fills_seen.get(fill["trade_id"], 0) + 1
            sign = 1 if fill["side"] == "buy" else -1
            expected["COIN"] += sign * Decimal(fill["quantity"])
            expected["USD"] -= sign * Decimal(fill["quote_quantity"])
        for asset in GRANT:
            assert Decimal(balances[asset]["total"]) == expected[asset], (asset, balances)
            totals[asset] += Decimal(balances[asset]["total"])
        open_orders = trader.get("/api/v1/orders/open")
        need_usd = sum((Decimal(o["price"]) * (Decimal(o["quantity"]) - Decimal(o["filled"]))
                        for o in open_orders if o["side"] == "buy"), Decimal(0))
        need_coin = sum((Decimal(o["quantity"]) - Decimal(o["filled"])
                         for o in open_orders if o["side"] == "sell"), Decimal(0))
        assert Decimal(balances["USD"]["held"]) == need_usd
        assert Decimal(balances["COIN"]["held"]) == need_coin
    assert fills_seen and all(count == 2 for count in fills_seen.values()), fills_seen
    assert totals == {asset: amount * len(traders) for asset, amount in GRANT.items()}
    return fills_seen


def check_a_crossing_pair_trades(traders: list[Trader]) -> None:
    """The exchange goes on: a crossing pair of orders from two traders still trades."""
    buyer, seller = traders[0], traders[1]
    # Their own resting orders go first: the buy must not meet the buyer's own sell
    # (self-trade prevention would cancel it).
    for trader in (buyer, seller):
        assert trader.http.delete("/api/v1/orders").status_code == 200
    for trader, side in ((seller, "sell"), (buyer, "buy")):
        answer = trader.http.post("/api/v1/orders", json={
            "market": "COIN-USD", "side": side, "price": "9.99", "quantity": "0.01",
            "time_in_force": "ioc" if side == "buy" else "gtc"})
        assert answer.status_code == 201, answer.text
    assert answer.json()["status"] == "filled"


def test_a_clean_restart_keeps_users_balances_orders_trades_and_charts(
    exchange_process: Server,
) -> None:
    seller, buyer = (Trader(exchange_process.url, seed) for seed in (1, 2))
    try:
        for trader, side, price in ((seller, "sell", "4.00"), (buyer, "buy", "5.00"),
                                    (seller, "sell", "6.00")):
            answer = trader.http.post("/api/v1/orders", json={
                "market": "COIN-USD", "side": side, "price": price, "quantity": "1"})
            assert answer.status_code == 201, answer.text
        paths = ["/api/v1/balances", "/api/v1/orders/open", "/api/v1/orders/history",
                 "/api/v1/fills", "/api/v1/markets/COIN-USD/depth",
                 "/api/v1/markets/COIN-USD/trades", "/api/v1/markets/COIN-USD/candles"]
        before = [[t.get(p) for p in paths] for t in (seller, buyer)]
        assert exchange_process.stop() == 0  # Ctrl-C: stops cleanly
        exchange_process.start()
        # The sessions survive too: the same cookies still work.
        after = [[t.get(p) for p in paths] for t in (seller, buyer)]
        assert after == before
        assert after[0][5][0]["price"] == "4.00"
        # Log in again with the user id and password.
        again = httpx.post(f"{exchange_process.url}/api/v1/session",
                           json={"user_id": 1, "password": "password-1"})
        assert again.status_code == 200 and again.json()["user_id"] == 1
    finally:
        seller.http.close()
        buyer.http.close()
