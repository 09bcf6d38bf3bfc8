"""The load benchmark drives a real server and reports figures (speed is printed, not asserted)."""

import re
import subprocess
import sys
from collections.abc import Iterator
from random import Random

import orjson
import pytest

from exchange.bench.clients import MAX_OPEN, Account, Tally, Trader
from exchange.bench.load import Latency, LoadResult, format_table
from exchange.cli import main
from tests.web.server import Server, free_port

LATENCY_KEYS = {"count", "p50", "p90", "p99", "p99_9", "max"}


@pytest.fixture(scope="module")
def exchange_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One `exchange run` (see tests/web/conftest.py) for every test here; yield its URL."""
    tmp = tmp_path_factory.mktemp("exchange")
    server = Server(tmp / "data", free_port(), tmp / "exchange.log")
    server.start()
    try:
        yield server.url
    finally:
        if server.process is not None:
            server.kill()


@pytest.mark.parametrize("processes", [1, 2])
def test_bench_load_drives_a_server_and_prints_one_json_object(
    exchange_server: str, processes: int
) -> None:
    command = [sys.executable, "-m", "exchange.cli", "bench", "load", "--url", exchange_server,
               "--users", "4", "--rate", "200", "--duration", "2", "--warmup", "0.5",
               "--processes", str(processes), "--rest-users", "1", "--binance-users", "1",
               "--json"]
    done = subprocess.run(command, capture_output=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr.decode()
    result = orjson.loads(done.stdout)
    assert {"orders_per_sec", "acks", "rejected", "errors", "fills", "ack_latency_ms",
            "fill_latency_ms", "server_rss_mb", "users", "rate", "processes"} <= result.keys()
    assert result["users"] == 4 and result["rate"] == 200 and result["processes"] == processes
    assert result["rest_users"] == 1 and result["binance_users"] == 1
    assert result["errors"] == 0, result["codes"]
    assert result["acks"] > 0 and result["orders_per_sec"] > 0
    assert result["acks"] + result["rejected"] == result["orders"]
    for key in ("ack_latency_ms", "fill_latency_ms", "cancel_latency_ms"):
        assert result[key].keys() == LATENCY_KEYS
    assert result["ack_latency_ms"]["count"] == result["places"] > 0
    assert result["ack_latency_ms"]["p50"] <= result["ack_latency_ms"]["max"]
    # The server's CPU time over every request it answered, warm-up and drain included:
    # at least the window's requests, all answered here.
    assert result["server_cpu_s"] > 0
    assert 0 < result["server_cpu_us_per_request"] <= (
        result["server_cpu_s"] * 1e6 / result["orders"])


def test_workload_mix_is_seeded_and_keeps_its_orders_apart() -> None:
    def requests(seed: int) -> list[dict[str, object]]:
        trader = Trader(Account(0, 1, "session", "csrf"), "COIN-USD", Random(seed), Tally())
        drawn = []
        for order_id in range(1, 2001):
            request, is_place = trader._next_request()
            drawn.append(request)
            if is_place and request["order"]["time_in_force"] == "gtc":  # type: ignore[index]
                trader.open_at[order_id] = len(trader.open)  # as if it rested
                trader.open.append(order_id)
        assert len(trader.open) < MAX_OPEN  # below the cap, so the mix holds
        return drawn

    drawn = requests(7)
    assert drawn == requests(7)
    cancelled = [r["order_id"] for r in drawn if r["op"] == "cancel"]
    assert len(cancelled) == len(set(cancelled))
    places = [r["order"] for r in drawn if r["op"] == "place"]
    crossing = [o for o in places if o["time_in_force"] == "ioc"]  # type: ignore[index]
    assert 0.22 < len(cancelled) / len(drawn) < 0.28
    assert 0.03 < len(crossing) / len(drawn) < 0.07


def test_table_names_every_figure() -> None:
    latency = Latency(10, 0.5, 0.9, 1.5, 2.0, 2.5)
    result = LoadResult(
        url="http://127.0.0.1:1", users=2, rate=0, window=8, duration=1.0, warmup=0.0,
        market="COIN-USD", seed=1, processes=1, rest_users=1, binance_users=0,
        orders_per_sec=1234.5,
        orders=20, places=15, cancels=5, acks=19, rejected=1, errors=0, fills=3,
        ack_latency_ms=latency,
        fill_latency_ms=Latency(0, None, None, None, None, None), cancel_latency_ms=latency,
        codes={"unknown_order": 1}, signup_sec=0.2, connect_sec=0.1,
        server_rss_mb_start=None, server_rss_mb=12.0, server_cpu_s=1.25,
        server_cpu_us_per_request=312.4,
    )
    table = format_table(result)
    assert re.search(r"server CPU \(s\), per request \(µs\) +1\.2, 312\n", table)
    assert re.search(r"orders per second \(sustained\) +1,234\n", table)
    assert "2 (1, 0), 1" in table and "as fast as it goes, window 8" in table
    assert "n/a -> 12.0" in table
    assert "unknown_order 1" in table and "order -> fill" in table


def test_bench_load_reports_an_unreachable_server(capsys: pytest.CaptureFixture[str]) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    assert main(["bench", "load", "--url", url, "--users", "1", "--duration", "1"]) == 1
    assert "cannot sign users up" in capsys.readouterr().err


def test_bench_load_refuses_a_negative_rate() -> None:
    assert main(["bench", "load", "--rate", "-1"]) == 2


def test_histograms_cross_processes_intact() -> None:
    tally = Tally()
    for micros in (100, 200, 300):
        tally.record(tally.ack, 0, micros * 1000)
    merged = Tally()
    merged.ack.decode_and_add(tally.ack.encode())
    assert merged.ack.get_total_count() == 3
    assert merged.ack.get_max_value() == tally.ack.get_max_value()
