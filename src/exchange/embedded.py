"""`exchange run`: the whole exchange in one process, on one thread.

The gateway's commands go through one pipeline (exchange.pipeline.pipeline): journalled
in batches, executed by one `Exchange`, their events folded into the views and pushed to
the sockets, on the event loop of the web server. Nothing crosses a bus or a thread.

Everything persists in the data directory, which one process owns at a time (`lock`):
the journal of commands (`journal/`), snapshots (`snapshots/`), and accounts, sessions,
keys and id blocks (`store.sqlite`). A restart loads the newest snapshot and replays the
journal after it. Ctrl-C (or SIGTERM) stops the server, then the pipeline, which writes a
last snapshot, so the next start is quick. A data directory written by the version
before (a bus journal, `journal.sqlite`) is converted on first start (`migrate`).
"""

import asyncio
import sys
from collections.abc import Coroutine
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

import uvicorn

from exchange.core.markets import Config
from exchange.pipeline.journal import Journal, JournalError
from exchange.pipeline.lock import DataDirInUse, DataDirLock
from exchange.pipeline.migrate import MigrationError, migrate_if_needed
from exchange.pipeline.pipeline import Pipeline
from exchange.pipeline.snapshots import Snapshots
from exchange.services.accounts import Accounts
from exchange.services.gateway import Gateway
from exchange.services.sealing import Sealer
from exchange.settings import remember
from exchange.store.sqlite import SqliteStore
from exchange.web.app import create_app
from exchange.web.wsprotocol import CoalescingProtocol


@dataclass(frozen=True, slots=True)
class Settings:
    host: str
    port: int
    data_dir: Path
    config: Config
    fsync: bool = False  # an fdatasync per group commit: durable against power loss
    snapshot_every: int = 100_000  # commands
    snapshot_seconds: float = 60.0


def run(settings: Settings) -> int:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    lock = DataDirLock(settings.data_dir)
    try:
        lock.acquire()
    except DataDirInUse as error:
        print(f"exchange: {error}", file=sys.stderr, flush=True)
        return 2
    try:
        return _run(settings)
    except (JournalError, MigrationError) as error:
        print(f"exchange: {error}", file=sys.stderr, flush=True)
        return 2
    finally:
        lock.release()


def _run(settings: Settings) -> int:
    data_dir, config = settings.data_dir, settings.config
    remember(config, data_dir)
    migrate_if_needed(config, data_dir)
    store = SqliteStore(data_dir / "store.sqlite")
    journal = Journal(data_dir / "journal", fsync=settings.fsync)
    server: Server | None = None

    def stop_serving() -> None:
        if server is not None:
            server.should_exit = True

    pipeline = Pipeline(config, journal, Snapshots(data_dir / "snapshots"),
                        snapshot_every=settings.snapshot_every,
                        snapshot_seconds=settings.snapshot_seconds, on_failure=stop_serving)
    gateway = Gateway(config, store, pipeline)
    app = create_app(config, gateway,
                     Accounts(store, sealer=Sealer.from_file(data_dir / "sealing.key")))
    server = Server.of(app, settings.host, settings.port)

    async def serve() -> None:
        await gateway.start()
        url = f"http://{settings.host}:{settings.port}"
        print(f"exchange: open {url} (API docs {url}/docs); data in {data_dir}; "
              "Ctrl-C stops", file=sys.stderr, flush=True)
        try:
            await server.serve()
        finally:
            await gateway.stop()

    try:
        event_loop_run(serve())
    finally:
        store.close()
    if pipeline.failed:
        print("exchange: stopped after a failure; a restart recovers from the journal",
              file=sys.stderr, flush=True)
        return 1
    print("exchange: stopped", file=sys.stderr, flush=True)
    return 0


class Server(uvicorn.Server):
    """Stop serving on Ctrl-C or SIGTERM, and return.

    uvicorn re-raises the signal once it has stopped, which would kill the process before
    the pipeline is stopped and snapshotted; forgetting it lets `run` finish the job.
    """

    @classmethod
    def of(cls, app: Any, host: str, port: int) -> "Server":
        """Serve `app` as every gateway does: httptools, and pushes written in batches."""
        return cls(uvicorn.Config(app, host=host, port=port, log_level="warning",
                                  ws=CoalescingProtocol, http="httptools", lifespan="off"))

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        super().handle_exit(sig, frame)
        self._captured_signals.clear()


def event_loop_run(main: Coroutine[Any, Any, None]) -> None:
    try:
        import uvloop  # noqa: PLC0415 - optional: not on every platform
    except ImportError:  # pragma: no cover
        asyncio.run(main)
        return
    uvloop.run(main)
