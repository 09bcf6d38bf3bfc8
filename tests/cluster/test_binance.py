"""The Binance-compatible API on a cluster over Kafka and Redis: a key made on one
gateway signs on any other, and a user's stream follows the user whichever gateway
holds the socket."""

import asyncio
from pathlib import Path

import ccxt
import pytest

from tests.binance.signed import Bot
from tests.binance.test_ccxt import MARKET, options
from tests.binance.test_wsapi import pro_with_api
from tests.cluster.conftest import Processes
from tests.web.server import free_port, wait_until_up


def test_bots_trade_across_gateways_and_hear_of_their_orders(
        processes: Processes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Every gateway seals and opens HMAC secrets with the same key.
    monkeypatch.setenv("EXCHANGE_SEALING_KEY_FILE", str(tmp_path / "sealing.key"))
    base = free_port()
    while base + 1 == free_port():
        base = free_port()
    cluster = processes.start("cluster", "cluster", "--base-port", str(base))
    one, two = f"http://127.0.0.1:{base}", f"http://127.0.0.1:{base + 1}"
    for url in (one, two):
        wait_until_up(url, cluster, processes.directory / "cluster.log")
    maker, taker = Bot(one), Bot(one)  # both keys made on gateway one
    try:
        async def run() -> None:
            watcher = pro_with_api(one, maker)  # maker's stream on gateway one
            try:
                await watcher.load_markets()
                watching = asyncio.ensure_future(watcher.watch_my_trades(MARKET))
                await asyncio.sleep(1)
                on_two = ccxt.binance(options(two, maker))  # maker trades on gateway two
                placed = await asyncio.to_thread(on_two.create_order, MARKET, "limit", "sell",
                                                 1, 10)
                buyer = ccxt.binance(options(one, taker))
                bought = await asyncio.to_thread(buyer.create_order, MARKET, "market", "buy",
                                                 0.25)
                assert (bought["status"], bought["filled"]) == ("closed", 0.25)
                [fill] = await asyncio.wait_for(watching, 30)
                assert (fill["order"], fill["amount"], fill["price"]) == (placed["id"], 0.25,
                                                                         10.0)
                seen = await asyncio.to_thread(on_two.fetch_order, placed["id"], MARKET)
                assert seen["filled"] == 0.25
            finally:
                await watcher.close()

        asyncio.run(run())
    finally:
        maker.close()
        taker.close()
    codes = processes.stop_all()
    assert all(code == 0 for code in codes.values()), (codes, processes.logs())
