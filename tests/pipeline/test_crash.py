"""SIGKILL `exchange run` many times under a steady stream of orders, at random points:
in group commits, between them, and while snapshots are written (one every 40 commands).

After each restart every acknowledged order is there with its outcome, every trade is
settled once on each side, and every asset's total is what was granted (the audit of
tests/web/test_crash.py). At the end, a clean stop writes a snapshot with the state
hash, and a fresh replay of the whole journal from nothing reaches the same hash.
"""

import random
from pathlib import Path

from exchange.core.markets import default_config
from exchange.pipeline.audit import fresh_replay, verify
from exchange.pipeline.journal import Journal
from exchange.pipeline.snapshots import Snapshots
from tests.web.server import Server, free_port
from tests.web.test_crash import Trader, audit, kill_mid_stream

KILLS = 6


def check_outcomes(traders: list[Trader]) -> None:
    """An acknowledged order is still there, and never less done than it was."""
    for trader in traders:
        for order_id, acknowledged in trader.answers.items():
            now = trader.get(f"/api/v1/orders/{order_id}")
            if acknowledged["status"] in ("filled", "cancelled"):
                assert now == acknowledged
            else:
                assert now["status"] in ("new", "partially_filled", "filled", "cancelled")
                assert now["filled"] >= acknowledged["filled"] or now["status"] == "cancelled"
                assert {k: now[k] for k in ("price", "quantity", "side", "created")} == \
                    {k: acknowledged[k] for k in ("price", "quantity", "side", "created")}


def test_many_kills_lose_nothing_and_a_fresh_replay_reaches_the_same_hash(
        tmp_path: Path) -> None:
    server = Server(tmp_path / "data", free_port(), tmp_path / "log.txt",
                    extra=("--snapshot-every", "40"))
    server.start()
    chance = random.Random(7)
    traders: list[Trader] = []
    try:
        for kill in range(KILLS):
            fresh = [Trader(server.url, 10 * kill + i) for i in range(3)]
            traders.extend(fresh)
            kill_mid_stream(fresh, server.kill, after=chance.randint(20, 120))
            server.start()
            audit(traders)
            check_outcomes(traders)
        assert server.stop() == 0
    finally:
        if server.process is not None:
            server.kill()
        for trader in traders:
            trader.http.close()
    log = (tmp_path / "log.txt").read_text()
    assert log.count("restored from") == KILLS + 1
    data = tmp_path / "data"
    saved = Snapshots(data / "snapshots").latest()
    assert saved is not None
    with Journal(data / "journal") as journal:
        replayed = fresh_replay(default_config(), journal, Snapshots(data / "snapshots"))
        # And every snapshot kept (those written by forked children mid-stream too).
        checks = verify(default_config(), journal, Snapshots(data / "snapshots"))
    assert replayed.seq == saved.seq
    assert replayed.state_hash() == saved.hash
    assert len(checks) == 3 and all(check.agrees for check in checks), checks
