"""The floors replay the engine benchmark's workload and report figures (printed, not asserted)."""

import orjson
import pytest

from exchange.bench import engine, floor
from exchange.cli import main
from exchange.core.commands import CancelOrder, PlaceOrder
from exchange.core.events import CancelRejected, OrderCancelled, TradeExecuted
from exchange.core.types import OrderType, Side, TimeInForce


def test_engine_floors_trade_what_the_engine_trades() -> None:
    # At this size the workload has no self-trade, which only the real engine prevents.
    commands = engine.workload(5_000, seed=1)[engine.USERS:]
    trades = engine.run(5_000, seed=1, repeats=1).trades
    for factory in (floor.named_events_no_risk, floor.plain_events_least_risk):
        assert floor.engine_floor("", factory, commands, repeats=1).trades == trades > 0


def test_least_risk_holds_settles_and_releases() -> None:
    accounts = {user: [1000, 0, 10, 0] for user in (1, 2, 3)}
    execute = floor.plain_events_least_risk(accounts)
    limit, gtc = OrderType.LIMIT, TimeInForce.GTC
    execute(PlaceOrder(1, 1, 1, 1, "COIN-USD", Side.SELL, limit, gtc, 100, 5))
    execute(PlaceOrder(2, 2, 2, 2, "COIN-USD", Side.SELL, limit, gtc, 101, 5))
    taken = execute(PlaceOrder(3, 3, 3, 3, "COIN-USD", Side.BUY, limit, gtc, 101, 7))
    trades = [event for event in taken if event[0] is TradeExecuted]
    assert [(t[5], t[6]) for t in trades] == [(100, 5), (101, 2)]  # price, qty: best first
    cancelled = execute(CancelOrder(4, 4, 2, 2))
    assert cancelled[0][0] is OrderCancelled and cancelled[0][7] == 3
    assert execute(CancelOrder(5, 5, 2, 2))[0][0] is CancelRejected
    # [quote available, quote held, base available, base held]; the buyer's limit was 101,
    # so paying 100 for five lots released 5.
    assert accounts == {1: [1500, 0, 5, 0], 2: [1202, 0, 8, 0], 3: [298, 0, 17, 0]}
    too_big = execute(PlaceOrder(6, 6, 6, 3, "COIN-USD", Side.BUY, limit, gtc, 100, 3))
    assert too_big[0][0] is CancelRejected and accounts[3] == [298, 0, 17, 0]


def test_bench_floor_prints_one_json_object(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "floor", "--orders", "2000", "--repeat", "1", "--seconds", "0.5",
                 "--json"]) == 0
    result = orjson.loads(capsys.readouterr().out)
    first, second = result["engine"]
    assert first["trades"] == second["trades"] > 0
    assert all(e["orders_per_sec"] > 0 for e in result["engine"])
    assert [t["messages_per_request"] for t in result["transport"]] == [1, 3]
    assert all(t["requests_per_sec"] > 0 for t in result["transport"])
