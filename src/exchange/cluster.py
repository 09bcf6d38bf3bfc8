"""The exchange as separate processes over Apache Kafka and Redis.

    exchange gateway   the web app, REST and WebSocket, over the bus (as many as wanted)
    exchange risk      the ledgers of the partitions of `risk` this instance is assigned
    exchange match     the books of the partitions of `match` this instance is assigned
    exchange cluster   starts gateways, risk and match instances as child processes

Every process of one exchange names the same Kafka bootstrap servers, Redis and
namespace (Kafka topics, groups and transactional ids are prefixed "NAMESPACE.", Redis keys
"NAMESPACE:"). The first process records the configuration in Redis and creates the
topics; a process with another configuration is refused. Risk and match instances of one
group share its partitions: when one dies or joins, the partitions move, and their new
owner rebuilds their state from the snapshot in Redis and the journal in Kafka
(`processor.run`). Each instance needs its own `--instance` name (its transactional id):
the default, host-pid, is unique, and a name already running is refused (`lease.py`).

Ctrl-C or SIGTERM stops a process cleanly: risk and match snapshot what they own, a
gateway its views. `exchange cluster` passes the signal on to its children and waits.
"""

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from exchange.bus.kafka import KafkaBus
from exchange.core.markets import Config
from exchange.services import lease, topics
from exchange.services.match import MatchService
from exchange.services.processor import Processor
from exchange.services.processor import run as run_processor
from exchange.services.risk import RiskService
from exchange.settings import remember_in_store
from exchange.store.redis import RedisStore


@dataclass(frozen=True, slots=True)
class Wiring:
    """Where one exchange's processes meet, and what it trades."""

    kafka: str
    redis: str
    namespace: str
    config: Config
    partitions: int = 4


def connect(wiring: Wiring) -> tuple[KafkaBus, RedisStore]:
    """Open the bus and the store; check the configuration; create missing topics."""
    store = RedisStore(wiring.redis, wiring.namespace)
    try:
        remember_in_store(wiring.config, store)
        bus = KafkaBus(wiring.kafka, f"{wiring.namespace}." if wiring.namespace else "")
        try:
            topics.create_topics(bus, wiring.partitions)
        except BaseException:
            bus.close()
            raise
    except BaseException:
        store.close()
        raise
    return bus, store


def default_instance() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


def run_gateway(wiring: Wiring, host: str, port: int) -> int:
    from exchange.embedded import Server, event_loop_run  # noqa: PLC0415
    from exchange.runtime import tune_gc  # noqa: PLC0415
    from exchange.services.accounts import Accounts  # noqa: PLC0415
    from exchange.services.busdriver import BusDriver  # noqa: PLC0415
    from exchange.services.gateway import Gateway  # noqa: PLC0415
    from exchange.services.sealing import Sealer  # noqa: PLC0415
    from exchange.store.redis_models import RedisModels  # noqa: PLC0415
    from exchange.web.app import create_app  # noqa: PLC0415

    bus, store = connect(wiring)
    # What any gateway folds is recorded in Redis, and REST reads it there.
    models = RedisModels(wiring.config, wiring.redis, wiring.namespace)
    gateway = Gateway(wiring.config, store, BusDriver(bus), models=models)
    sealing = os.environ.get("EXCHANGE_SEALING_KEY_FILE",
                             f".exchange/{wiring.namespace or 'exchange'}.sealing.key")
    app = create_app(wiring.config, gateway,
                     Accounts(store, sealer=Sealer.from_file(Path(sealing))))
    server = Server.of(app, host, port)

    async def serve() -> None:
        await gateway.start()
        tune_gc()
        print(f"exchange gateway: http://{host}:{port} (namespace {wiring.namespace!r})",
              file=sys.stderr, flush=True)
        try:
            await server.serve()
        finally:
            await gateway.stop()

    try:
        event_loop_run(serve())
    finally:
        models.close()
        store.close()
        bus.close()
    print("exchange gateway: stopped", file=sys.stderr, flush=True)
    return 0


def run_service(wiring: Wiring, kind: str, instance: str) -> int:
    """Run one risk or match instance in this thread until Ctrl-C or SIGTERM."""
    from exchange.runtime import tune_gc  # noqa: PLC0415

    bus, store = connect(wiring)
    processor: Processor = (RiskService(wiring.config) if kind == "risk"
                            else MatchService(wiring.config, bus))
    stop = threading.Event()

    def on_signal(_sig: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    tune_gc()
    held = lease.Lease(store, f"instance/{kind}/{instance}")
    wait = lease.TTL_MS / 1000 + 2
    if not held.acquire(wait=0):
        print(f"exchange {kind}: instance {instance} is held by another process; waiting up "
              f"to {wait:.0f} s in case that one has died", file=sys.stderr, flush=True)
        if not held.acquire(wait=wait):
            print(f"exchange {kind}: instance {instance} is running (namespace "
                  f"{wiring.namespace!r}); give each instance its own --instance",
                  file=sys.stderr, flush=True)
            store.close()
            bus.close()
            return 2
    held.keep(on_lost=stop.set)
    print(f"exchange {kind}: instance {instance} (namespace {wiring.namespace!r})",
          file=sys.stderr, flush=True)
    try:
        run_processor(bus, processor, stop, store, instance=instance)
    finally:
        held.release()
        store.close()
        bus.close()
    if held.lost.is_set():
        print(f"exchange {kind}: instance {instance} lost its lease (the store was "
              "unreachable, or this process stalled); stopped", file=sys.stderr, flush=True)
        return 1
    print(f"exchange {kind}: instance {instance} stopped", file=sys.stderr, flush=True)
    return 0


@dataclass
class _Child:
    name: str
    argv: list[str]
    process: subprocess.Popen[bytes]


def run_cluster(wiring: Wiring, common: list[str], *, gateways: int, risks: int,
                matches: int, host: str, base_port: int) -> int:
    """Start the processes of a cluster, wait for a signal, stop them all.

    `common` holds the flags every child gets (bus, store, namespace, configuration). A
    child that dies is reported and not restarted: the others take over its partitions.
    """
    bus, store = connect(wiring)  # records the configuration, creates the topics once
    bus.close()
    store.close()
    exe = [sys.executable, "-m", "exchange.cli"]
    plan: list[tuple[str, list[str]]] = []
    for i in range(gateways):
        plan.append((f"gateway-{i + 1}", [*exe, "gateway", *common, "--host", host,
                                          "--port", str(base_port + i)]))
    for kind, count in (("risk", risks), ("match", matches)):
        for i in range(count):
            name = f"{kind}-{i + 1}"
            plan.append((name, [*exe, kind, *common, "--instance",
                                f"{default_instance()}-{name}"]))
    stopping = threading.Event()

    def on_signal(_sig: int, _frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    children: list[_Child] = []
    for name, argv in plan:  # their own sessions: a terminal's Ctrl-C reaches us alone
        children.append(_Child(name, argv, subprocess.Popen(argv, start_new_session=True)))
    for i in range(gateways):
        print(f"exchange cluster: gateway-{i + 1} at http://{host}:{base_port + i}",
              file=sys.stderr, flush=True)
    print(f"exchange cluster: {risks} risk and {matches} match instances; Ctrl-C stops",
          file=sys.stderr, flush=True)
    running = list(children)
    code = 0
    while running and not stopping.is_set():
        for child in list(running):
            status = child.process.poll()
            if status is not None:
                running.remove(child)
                code = 1
                print(f"exchange cluster: {child.name} (pid {child.process.pid}) exited with "
                      f"status {status}; not restarted", file=sys.stderr, flush=True)
        stopping.wait(0.2)
    for child in running:
        child.process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 60
    for child in running:
        try:
            status = child.process.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            print(f"exchange cluster: {child.name} did not stop; killing it",
                  file=sys.stderr, flush=True)
            child.process.kill()
            child.process.wait()
            code = 1
            continue
        if status != 0:
            code = 1
            print(f"exchange cluster: {child.name} stopped with status {status}",
                  file=sys.stderr, flush=True)
    print("exchange cluster: stopped", file=sys.stderr, flush=True)
    return code


def child_flags(kafka: str, redis: str, namespace: str, partitions: int,
                config: Path | None, maker_fee: str | None, taker_fee: str | None,
                grants: list[str]) -> list[str]:
    """The flags that make a child process wire itself as its parent was told to."""
    flags = ["--kafka", kafka, "--redis", redis, "--namespace", namespace,
             "--partitions", str(partitions)]
    if config is not None:
        flags += ["--config", str(config.resolve())]
    if maker_fee is not None:
        flags += ["--maker-fee", maker_fee]
    if taker_fee is not None:
        flags += ["--taker-fee", taker_fee]
    for grant in grants:
        flags += ["--grant", grant]
    return flags
