"""`exchange run`: every service in one process, on the embedded bus and store.

Risk and match each run in a thread over the SQLite journal; the gateway runs on the
event loop with the web server. Everything persists in the data directory: the journal
(`journal.sqlite`), and accounts, sessions, keys, id blocks and snapshots
(`store.sqlite`). A restart restores each service from its snapshot and replays the
journal from there. Ctrl-C (or SIGTERM) stops the server, then the services, and
snapshots them, so the next start is quick.
"""

import asyncio
import sys
import threading
from collections.abc import Coroutine
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

import uvicorn

from exchange.bus.sqlite import SqliteBus
from exchange.core.markets import Config
from exchange.runtime import tune_gc
from exchange.services import topics
from exchange.services.accounts import Accounts
from exchange.services.gateway import Gateway
from exchange.services.match import MatchService
from exchange.services.processor import run as run_processor
from exchange.services.risk import RiskService
from exchange.settings import remember
from exchange.store.sqlite import SqliteStore
from exchange.web.app import create_app


@dataclass(frozen=True, slots=True)
class Settings:
    host: str
    port: int
    data_dir: Path
    config: Config
    partitions: int = 1


def run(settings: Settings) -> int:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    remember(settings.config, settings.data_dir)
    bus = SqliteBus(settings.data_dir / "journal.sqlite")
    topics.create_topics(bus, settings.partitions)
    store = SqliteStore(settings.data_dir / "store.sqlite")
    stop = threading.Event()
    services = [RiskService(settings.config), MatchService(settings.config, bus)]
    threads = [threading.Thread(target=run_processor, args=(bus, service, stop, store),
                                name=service.group, daemon=True) for service in services]
    gateway = Gateway(settings.config, bus, store)
    app = create_app(settings.config, gateway, Accounts(store))
    server = Server(uvicorn.Config(app, host=settings.host, port=settings.port,
                                           log_level="warning", ws="websockets-sansio",
                                           http="httptools", lifespan="off"))

    async def serve() -> None:
        await gateway.start()
        tune_gc()
        url = f"http://{settings.host}:{settings.port}"
        print(f"exchange: open {url} (API docs {url}/docs); data in {settings.data_dir}; "
              "Ctrl-C stops", file=sys.stderr, flush=True)
        try:
            await server.serve()
        finally:
            await gateway.stop()

    for thread in threads:
        thread.start()
    try:
        event_loop_run(serve())
    finally:
        stop.set()
        for thread in threads:
            thread.join(30)
        store.close()
        bus.close()
    print("exchange: stopped", file=sys.stderr, flush=True)
    return 0


class Server(uvicorn.Server):
    """Stop serving on Ctrl-C or SIGTERM, and return.

    uvicorn re-raises the signal once it has stopped, which would kill the process before
    the services are stopped and snapshotted; forgetting it lets `run` finish the job.
    """

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
