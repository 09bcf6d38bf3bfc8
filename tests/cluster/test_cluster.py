"""The exchange as separate processes over a real Kafka broker and Redis.

`exchange cluster` with two gateways, two risk and two match instances: users on
different gateways trade with each other and every gateway shows the same. Then risk and
match instances are SIGKILLed under a stream of orders: the survivor of each group takes
their partitions over, and money is neither lost nor doubled.
"""

import asyncio
import signal
import time
from decimal import Decimal
from typing import Any

import httpx
import pytest
import redis

from tests.cluster.conftest import Processes
from tests.web.client import MARKET, User, socket
from tests.web.server import free_port, wait_until_up
from tests.web.test_crash import (
    Trader,
    audit_when_settled,
    check_a_crossing_pair_trades,
    kill_mid_stream,
)


def test_users_on_two_gateways_trade_and_both_gateways_see_it(processes: Processes) -> None:
    base = free_port()
    while base + 1 == free_port():  # need two ports in a row; good enough on a quiet box
        base = free_port()
    cluster = processes.start("cluster", "cluster", "--base-port", str(base))
    one, two = f"http://127.0.0.1:{base}", f"http://127.0.0.1:{base + 1}"
    log = processes.directory / "cluster.log"
    wait_until_up(one, cluster, log)
    wait_until_up(two, cluster, log)
    try:
        alice, bob = User(one), User(two)

        async def watch_and_trade() -> dict[str, Any]:
            async with socket(two) as ws:
                for req, channel in enumerate(("depth", "trades"), start=1):
                    await ws.send(op="subscribe", channel=channel, market=MARKET, req=req)
                    await ws.take(type="subscribed", req=req)
                await ws.take(type="depth", snapshot=True)
                await asyncio.to_thread(alice.place, side="sell", price="4.00", quantity="2")
                depth = await ws.take(lambda m: not m["snapshot"], type="depth")
                assert depth["asks"] == [["4.00", "2.0000"]], depth
                order = await asyncio.to_thread(bob.place, side="buy", price="4.00",
                                                quantity="1.5")
                trades = await ws.take(lambda m: bool(m["trades"]), type="trades")
                return {"order": order, "trades": trades["trades"]}

        seen = asyncio.run(watch_and_trade())
        assert seen["order"]["status"] == "filled"
        assert [(t["price"], t["quantity"]) for t in seen["trades"]] == [("4.00", "1.5000")]
        # Each user, asked on either gateway, sees the same trade and balances.
        for url in (one, two):
            for user, coin, usd in ((alice, "98.5", "1006"), (bob, "101.5", "994")):
                with User(url, user_id=user.user_id) as there:
                    deadline = time.monotonic() + 10
                    while True:
                        balances = there.balances()
                        fills = there.get("/fills")
                        if len(fills) == 1 or time.monotonic() > deadline:
                            break
                        time.sleep(0.1)
                    assert [(f["price"], f["quantity"]) for f in fills] == [("4.00", "1.5000")]
                    assert Decimal(balances["COIN"]["total"]) == Decimal(coin)
                    assert Decimal(balances["USD"]["total"]) == Decimal(usd)
            tape = httpx.get(f"{url}/api/v1/markets/{MARKET}/trades").json()
            assert [(t["price"], t["quantity"]) for t in tape] == [("4.00", "1.5000")]
        # What both gateways serve is what Redis holds: change it there, and both say so.
        namespace = processes.flags[processes.flags.index("--namespace") + 1]
        with redis.Redis.from_url(processes.flags[processes.flags.index("--redis") + 1]) as db:
            assert db.llen(f"{namespace}:view:fills:{alice.user_id}") == 1
            db.set(f"{namespace}:view:bal:{alice.user_id}", '{"USD": [1, 2]}')
        for url in (one, two):
            with User(url, user_id=alice.user_id) as there:
                cash = there.balances()["USD"]
                assert (cash["available"], cash["held"]) == ("0.000001", "0.000002"), cash
        # Wrong passwords spread over both gateways count as one run of them: after five,
        # neither gateway checks even the right one.
        for attempt in range(5):
            answer = httpx.post(f"{(one, two)[attempt % 2]}/api/v1/session",
                                json={"user_id": bob.user_id, "password": "a guess"})
            assert answer.status_code == 401, answer.text
        for url in (one, two):
            answer = httpx.post(f"{url}/api/v1/session",
                                json={"user_id": bob.user_id, "password": bob.password})
            assert (answer.status_code, answer.json()["error"]["code"]) == (
                429, "too_many_attempts"), answer.text
        alice.close()
        bob.close()
    finally:
        cluster.send_signal(signal.SIGINT)
        code = cluster.wait(90)
    output = log.read_text()
    assert code == 0, output[-3000:]
    assert "exited" not in output, output[-3000:]


USERS = 6


@pytest.mark.parametrize("victim", ["risk", "match"])
def test_an_instance_killed_under_load_is_taken_over(processes: Processes, victim: str) -> None:
    for kind in ("risk", "match"):
        for i in (1, 2):
            processes.start(f"{kind}-{i}", kind, "--instance", f"{kind}-{i}")
    url = processes.gateway("gateway")
    traders = [Trader(url, seed) for seed in range(USERS)]
    try:
        accepted = kill_mid_stream(traders, lambda: processes.kill(f"{victim}-1"), after=60,
                                   keep_trading=True)
        assert accepted >= 60, processes.logs()
        audit_when_settled(traders)
        check_a_crossing_pair_trades(traders)
    finally:
        for trader in traders:
            trader.http.close()
    codes = processes.stop_all()
    assert all(code == 0 for code in codes.values()), (codes, processes.logs())


def test_an_instance_name_already_running_is_refused(processes: Processes) -> None:
    first = processes.start("risk-a", "risk", "--instance", "same")
    log = processes.directory / "risk-a.log"
    deadline = time.monotonic() + 60
    while "instance same (namespace" not in log.read_text():
        assert first.poll() is None and time.monotonic() < deadline, processes.logs()
        time.sleep(0.2)
    second = processes.start("risk-b", "risk", "--instance", "same")
    # It waits out a lease (in case the holder had died), then gives up.
    assert second.wait(60) == 2, processes.logs()
    assert "give each instance its own --instance" in (
        processes.directory / "risk-b.log").read_text()
    del processes.running["risk-b"]
    assert first.poll() is None  # the first runs on, undisturbed
    assert processes.stop_all() == {"risk-a": 0}, processes.logs()
