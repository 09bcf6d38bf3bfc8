"""`exchange run`: every service in one process, on the embedded bus and store.

Everything runs on one thread, the event loop of the web server: the gateway, and risk
and match stepped by a `Pump` whenever there is something to do. They still talk only
through the bus (the SQLite journal), each with its own consumer group and state, as
they do apart; what one thread buys is that no message waits for another thread to get
the interpreter's lock (with threads, each hop of an order waited up to a switch
interval, 5 ms, for the busy event loop to let go of it).

Everything persists in the data directory: the journal (`journal.sqlite`), and
accounts, sessions, keys, id blocks and snapshots (`store.sqlite`). A restart restores
each service from its snapshot and replays the journal from there. Ctrl-C (or SIGTERM)
stops the server, then the services, and snapshots them, so the next start is quick.
"""

import asyncio
import logging
import sys
from collections.abc import Callable, Coroutine
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
from exchange.services.processor import Runner
from exchange.services.risk import RiskService
from exchange.settings import remember
from exchange.store.sqlite import SqliteStore
from exchange.web.app import create_app

log = logging.getLogger(__name__)


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
    gateway = Gateway(settings.config, bus, store, inline=True)
    app = create_app(settings.config, gateway, Accounts(store))
    server = Server(uvicorn.Config(app, host=settings.host, port=settings.port,
                                           log_level="warning", ws="websockets-sansio",
                                           http="httptools", lifespan="off"))

    pump: Pump | None = None

    async def serve() -> None:
        nonlocal pump
        runners = [Runner(bus, RiskService(settings.config), store, autosave=False),
                   Runner(bus, MatchService(settings.config, bus), store, autosave=False)]
        await gateway.start()
        pump = Pump(bus, gateway, runners, on_failure=lambda: setattr(server, "should_exit", True))
        pump.run()  # restore risk and match (snapshots, journal) before the collector's freeze
        tune_gc()
        url = f"http://{settings.host}:{settings.port}"
        print(f"exchange: open {url} (API docs {url}/docs); data in {settings.data_dir}; "
              "Ctrl-C stops", file=sys.stderr, flush=True)
        try:
            await server.serve()
        finally:
            pump.stop()
            await gateway.stop()
            for runner in runners:
                if not pump.failed:  # else their state is ahead of the journal
                    runner.save()
                runner.close()

    try:
        event_loop_run(serve())
    finally:
        store.close()
        bus.close()
    if pump is not None and pump.failed:
        print("exchange: stopped after a journal failure; a restart recovers from the journal",
              file=sys.stderr, flush=True)
        return 1
    print("exchange: stopped", file=sys.stderr, flush=True)
    return 0


class Pump:
    """Step risk, match and the gateway on the event loop while any of them has work.

    A pass is one journal transaction: it sends the gateway's queued commands and steps
    each processor (a batch of up to 500 records each), round after round while anything
    moved (an order goes gateway -> risk -> match -> risk in two rounds), and commits.
    Only then does the gateway read what reached it and answer, so no client hears of
    anything that is not durable. One commit per pass instead of one per step is most of
    what the journal costs under load. Then the loop serves the sockets before the next
    pass. Every journal write happens in a pass or follows a send, which wakes the pump;
    a slow tick guards against anything that might not.

    If a pass fails, the services' state is ahead of the journal: the pump stops, the
    server shuts down, and a restart replays the journal (fail-stop).
    """

    ROUNDS = 8
    TICK = 0.1

    def __init__(self, bus: SqliteBus, gateway: Gateway, runners: list[Runner],
                 on_failure: Callable[[], None]) -> None:
        self.bus = bus
        self.gateway = gateway
        self.runners = runners
        self.on_failure = on_failure  # stop serving
        self.loop = asyncio.get_running_loop()
        self.due = False
        self.stopped = self.failed = False
        gateway.on_send = self.wake
        self.ticker = self.loop.call_later(self.TICK, self.tick)
        self.wake()

    def wake(self) -> None:
        if not self.due and not self.stopped:
            self.due = True
            self.loop.call_soon(self.run)

    def tick(self) -> None:
        if not self.stopped:
            self.wake()
            self.ticker = self.loop.call_later(self.TICK, self.tick)

    def run(self) -> None:
        self.due = False
        if self.stopped:
            return
        gateway, runners = self.gateway, self.runners
        try:
            with self.bus.transaction():
                for _ in range(self.ROUNDS):
                    moved = gateway.flush_sends()
                    for runner in runners:
                        moved = runner.step() > 0 or moved
                    if not moved:
                        break
        except Exception:
            log.exception("exchange: a journal transaction failed; stopping")
            self.failed = True
            self.stop()
            self.on_failure()
            return
        for runner in runners:
            runner.save_if_due()
        if gateway.poll_feed() or moved:
            self.wake()  # more to do: let the loop serve the sockets first, then go on

    def stop(self) -> None:
        self.stopped = True
        self.ticker.cancel()


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
