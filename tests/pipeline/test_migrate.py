"""A data directory written by the version before the pipeline (a bus journal in SQLite,
killed mid-life with a journal tail after its snapshots) is converted on first start,
with every balance, open order, trade and candle kept.

The fixture was made by that version's `exchange run` (commit 6dc23c7): three users
trading with fees, a clean stop, a second life, then SIGKILL. The expected answers are
what that version served after restarting on a copy of it.
"""

import json
import shutil
import subprocess
import tarfile
from pathlib import Path
from typing import Any

import httpx

from exchange.pipeline.migrate import MOVED
from tests.web.client import User
from tests.web.server import EXCHANGE, ROOT, Server, free_port

DATA = Path(__file__).parent / "data"
FEES = ("--maker-fee", "0.001", "--taker-fee", "0.002")
PATHS = {"open": "/orders/open", "history": "/orders/history", "fills": "/fills"}


def unpack(tmp_path: Path) -> Path:
    data_dir = tmp_path / "data"
    with tarfile.open(DATA / "datadir-bus-journal.tar.gz") as archive:
        if hasattr(tarfile, "data_filter"):  # Python 3.12, and 3.11.4 on
            archive.extractall(data_dir, filter="data")
        else:
            archive.extractall(data_dir)
    return data_dir


def served(url: str, expected: dict[str, Any]) -> dict[str, Any]:
    got: dict[str, Any] = {"users": {}, "market": {}}
    for name, user in expected["users"].items():
        with User(url, user["password"], user["user_id"]) as client:
            got["users"][name] = {"user_id": user["user_id"], "password": user["password"],
                                  "balances": client.balances(),
                                  **{key: client.get(path) for key, path in PATHS.items()}}
    for path in ("depth", "trades", "candles", "ticker"):
        got["market"][path] = httpx.get(f"{url}/api/v1/markets/COIN-USD/{path}").json()
    return got


def test_a_bus_journal_is_converted_with_everything_kept(tmp_path: Path) -> None:
    data_dir = unpack(tmp_path)
    expected = json.loads((DATA / "datadir-bus-journal.expected.json").read_text())
    log = tmp_path / "log.txt"
    server = Server(data_dir, free_port(), log, extra=FEES)
    server.start()
    try:
        assert served(server.url, expected) == expected
        # The exchange goes on from there: alice's resting ask still trades.
        with User(server.url, "bob password", expected["users"]["bob"]["user_id"]) as bob:
            ask = expected["users"]["alice"]["open"][0]
            taken = bob.place(side="buy", price=ask["price"], quantity="0.1",
                              time_in_force="ioc")
            assert taken["status"] == "filled"
    finally:
        assert server.stop() == 0
    text = log.read_text()
    assert "converted 3 accounts" in text
    assert (data_dir / MOVED / "journal.sqlite").exists()  # kept, moved aside
    assert not (data_dir / "journal.sqlite").exists()
    # A second start does not convert again, and keeps what the first one added.
    server.start()
    try:
        trades = httpx.get(f"{server.url}/api/v1/markets/COIN-USD/trades").json()
        assert len(trades) == len(expected["market"]["trades"]) + 1
    finally:
        server.stop()
    assert log.read_text().count("converting") == 1
    # The new journal replays over the converted state to what was served.
    audit = subprocess.run([*EXCHANGE, "verify", "--data-dir", str(data_dir), *FEES],
                           cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert audit.returncode == 0, audit.stdout + audit.stderr
    assert "agrees" in audit.stdout


def test_a_conversion_cut_short_is_done_again_from_the_old_journal(tmp_path: Path) -> None:
    # The snapshot was written but the old journal not yet moved: convert again.
    data_dir = unpack(tmp_path)
    expected = json.loads((DATA / "datadir-bus-journal.expected.json").read_text())
    first = Server(data_dir, free_port(), tmp_path / "log.txt", extra=FEES)
    first.start()
    first.kill()
    for path in (data_dir / MOVED).iterdir():
        shutil.move(path, data_dir / path.name)
    server = Server(data_dir, free_port(), tmp_path / "log2.txt", extra=FEES)
    server.start()
    try:
        assert served(server.url, expected) == expected
    finally:
        server.stop()
