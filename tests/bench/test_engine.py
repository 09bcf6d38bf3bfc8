"""The engine benchmark runs its workload and reports figures (speed is printed, not asserted)."""

import orjson
import pytest

from exchange.bench.engine import workload
from exchange.cli import main
from exchange.core.commands import CancelOrder, OpenAccount, PlaceOrder


def test_workload_mix_is_about_70_25_5() -> None:
    commands = workload(20_000, seed=3)
    body = [c for c in commands if not isinstance(c, OpenAccount)]
    cancels = sum(isinstance(c, CancelOrder) for c in body) / len(body)
    places = [c for c in body if isinstance(c, PlaceOrder)]
    assert len(body) == 20_000
    assert 0.22 < cancels < 0.28
    assert workload(500, seed=3) == workload(500, seed=3)
    assert len({c.order_id for c in places}) == len(places)


def test_bench_engine_prints_one_json_object(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "engine", "--orders", "3000", "--repeat", "1", "--json"]) == 0
    result = orjson.loads(capsys.readouterr().out)
    assert {"orders_per_sec", "trades", "traded_qty", "peak_rss_mb"} <= result.keys()
    assert result["orders"] == 3000
    assert result["trades"] > 0 and result["traded_qty"] >= result["trades"]
    assert result["resting_orders"] > 0 and result["bytes_per_resting_order"] > 0
    assert result["core"] in ("compiled", "interpreted")
    assert 0 < result["p50_us_per_command"] <= result["p99_us_per_command"]


def test_the_workload_trades_what_the_engine_before_the_rewrite_traded(
        capsys: pytest.CaptureFixture[str]) -> None:
    # Figures of the core as it was before it was typed for mypyc (commit 76b7147), on
    # the same seed: the work done must not change with the build or the layout.
    assert main(["bench", "engine", "--orders", "20000", "--repeat", "1", "--json"]) == 0
    result = orjson.loads(capsys.readouterr().out)
    assert (result["trades"], result["traded_qty"], result["resting_orders"]) == (
        2293, 5881500, 8501)


def test_bench_engine_prints_a_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "engine", "--orders", "1000", "--repeat", "1"]) == 0
    assert "orders per second (best run)" in capsys.readouterr().out


def test_bench_refuses_a_non_positive_count() -> None:
    with pytest.raises(SystemExit):
        main(["bench", "engine", "--orders", "0"])
