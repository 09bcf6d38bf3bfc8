"""`exchange bench restore`: a start on a journal, with and without a snapshot, timed."""

import orjson
import pytest

from exchange.bench.restore import run
from exchange.cli import main


def test_a_replay_and_a_start_from_its_snapshot_restore_the_whole_workload() -> None:
    result = run(3_000, seed=1)
    assert result.commands == 5_000  # 2,000 account openings and the orders
    assert result.resting_orders > 0 and result.replay_s > 0 and result.snapshot_mb > 0
    assert result.snapshot_start_s > 0


def test_the_command_prints_one_json_object(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "restore", "--orders", "500", "--json"]) == 0
    printed = capsys.readouterr().out
    assert orjson.loads(printed)["commands"] == 2_500
