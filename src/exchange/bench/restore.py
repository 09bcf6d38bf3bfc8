"""`exchange bench restore`: how long the embedded exchange takes to start on a long journal.

The `bench engine` workload (same seed, same commands) is written to a fresh data
directory's journal in batches of 64, as group commits would leave it. Then, timed:

1. a start with no snapshot: every command is replayed through `Exchange` and its events
   folded into the views, as `exchange run` does on start;
2. the stop that follows, which writes a snapshot of it all;
3. a start from that snapshot: load, check its state hash, nothing to replay.

It reports the memory of the process after the replay (the exchange with every order of
the workload through it, its views and the workload itself).
"""

import asyncio
import gc
import resource
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from exchange.bench.engine import bench_config, workload
from exchange.pipeline.journal import Journal
from exchange.pipeline.pipeline import Pipeline
from exchange.pipeline.snapshots import Snapshots
from exchange.services.gateway import Gateway
from exchange.store.sqlite import SqliteStore

BATCH = 64


@dataclass(frozen=True, slots=True)
class RestoreResult:
    commands: int
    journal_mb: float
    replay_s: float  # start with no snapshot
    replayed_per_s: float
    resting_orders: int
    rss_mb_after_replay: float
    snapshot_write_s: float  # the stop's snapshot, written inline
    snapshot_mb: float
    snapshot_start_s: float  # start from that snapshot


def run(orders: int, seed: int) -> RestoreResult:
    commands = workload(orders, seed)
    total = len(commands)
    with tempfile.TemporaryDirectory(prefix="exchange-bench-restore-") as name:
        directory = Path(name)
        with Journal(directory / "journal") as journal:
            for start in range(0, len(commands), BATCH):
                journal.append(commands[start:start + BATCH])
        journal_mb = sum(p.stat().st_size for p in (directory / "journal").iterdir()) / 2**20
        del commands
        replay_s, resting, rss, write_s = asyncio.run(_start(directory))
        snapshot_mb = sum(p.stat().st_size for p in (directory / "snapshots").iterdir()) / 2**20
        gc.unfreeze()  # the first start froze its state: let it go before the second
        gc.collect()
        start_s, _, _, _ = asyncio.run(_start(directory))
    return RestoreResult(total, journal_mb, replay_s, total / replay_s, resting, rss,
                         write_s, snapshot_mb, start_s)


async def _start(directory: Path) -> tuple[float, int, float, float]:
    """Start a pipeline on `directory`; return the time to restore, the resting orders,
    the peak RSS (MB) and the time the stop took (it snapshots if anything is new)."""
    config = bench_config()
    store = SqliteStore(directory / "store.sqlite")
    pipeline = Pipeline(config, Journal(directory / "journal"), Snapshots(directory / "snapshots"),
                        snapshot_every=1 << 62)
    gateway = Gateway(config, store, pipeline)
    started = time.perf_counter()
    await gateway.start()
    while not pipeline.restored:
        if pipeline.failed:
            raise RuntimeError("the restore failed")
        await asyncio.sleep(0)
    restored = time.perf_counter() - started
    resting = sum(len(book) for book in pipeline.exchange.books.values())
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    began = time.perf_counter()
    await gateway.stop()
    stopped = time.perf_counter() - began
    store.close()
    return restored, resting, rss, stopped

