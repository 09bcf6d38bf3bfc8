"""The instance lease: one holder, renewed while held, given up on release, lost loudly."""

import threading
import time
from pathlib import Path

from exchange.services.lease import Lease
from exchange.store.sqlite import SqliteStore


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def test_a_held_lease_is_renewed_and_refused_to_others_until_released(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "store.db")
    first = Lease(store, "instance/risk/r1", ttl_ms=300)
    assert first.acquire(wait=0)
    first.keep(on_lost=lambda: None)
    time.sleep(0.6)  # twice the lease: only renewals keep it
    second = Lease(store, "instance/risk/r1", ttl_ms=300)
    assert not second.acquire(wait=0.2)
    first.release()
    assert not first.lost.is_set()
    assert second.acquire(wait=0)
    store.close()


def test_a_lease_taken_over_is_reported_lost(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "store.db")
    held = Lease(store, "instance/match/m1", ttl_ms=300)
    assert held.acquire(wait=0)
    lost = threading.Event()
    held.keep(on_lost=lost.set)
    # As if this process stalled past its lease and another took the name over.
    assert store.claim("instance/match/m1", "another", now_ms() + 10_000, 60_000)
    assert lost.wait(2)
    assert held.lost.is_set()
    held.release()  # gives up nothing: the lease is the other's now
    assert not store.claim("instance/match/m1", "third", now_ms() + 10_000, 60_000)
    store.close()
