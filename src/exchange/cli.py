"""The `exchange` command: wires implementations to ports and starts what was asked for."""

import argparse
import dataclasses
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import orjson

if TYPE_CHECKING:
    from exchange.core.markets import Config


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="exchange", description=__doc__)
    parser.add_argument("--version", action="version", version=_version())
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="run the whole exchange in one process")
    run.add_argument("--host", default=os.environ.get("EXCHANGE_HOST", "127.0.0.1"))
    run.add_argument("--port", type=int, default=int(os.environ.get("EXCHANGE_PORT", "5001")))
    _add_data_dir(run)
    _add_config(run)
    run.add_argument("--fsync", action="store_true",
                     default=os.environ.get("EXCHANGE_FSYNC", "") not in ("", "0"),
                     help="sync the journal to disk on every group commit: durable against "
                          "power loss, not only a killed process (slower)")
    run.add_argument("--snapshot-every", type=_positive,
                     default=int(os.environ.get("EXCHANGE_SNAPSHOT_EVERY", "100000")),
                     metavar="COMMANDS", help="snapshot after this many commands")
    run.add_argument("--snapshot-seconds", type=float,
                     default=float(os.environ.get("EXCHANGE_SNAPSHOT_SECONDS", "60")),
                     metavar="SECONDS", help="or after this long, if anything changed")

    verify = commands.add_parser("verify", help="replay a stopped exchange's journal from "
                                 "nothing and check every snapshot's state hash")
    _add_data_dir(verify)
    _add_config(verify)

    for name, text in (("gateway", "run a gateway (web app and API) over Kafka and Redis"),
                       ("risk", "run a risk instance over Kafka and Redis"),
                       ("match", "run a match instance over Kafka and Redis"),
                       ("cluster", "start gateways, risk and match instances as processes")):
        command = commands.add_parser(name, help=text)
        _add_wiring(command)
        if name == "gateway":
            command.add_argument("--host", default=os.environ.get("EXCHANGE_HOST", "127.0.0.1"))
            command.add_argument("--port", type=int,
                                 default=int(os.environ.get("EXCHANGE_PORT", "5001")))
        elif name == "cluster":
            command.add_argument("--host", default=os.environ.get("EXCHANGE_HOST", "127.0.0.1"))
            command.add_argument("--base-port", type=int, default=5001,
                                 help="gateway N listens on base port + N - 1")
            command.add_argument("--gateways", type=_positive, default=2)
            command.add_argument("--risk", type=_positive, default=2)
            command.add_argument("--match", type=_positive, default=2)
        else:
            command.add_argument("--instance", default=None,
                                 help="unique name of this instance (default: host-pid)")

    bench = commands.add_parser("bench", help="measure how fast the exchange is")
    benches = bench.add_subparsers(dest="bench", required=True)
    engine = benches.add_parser("engine", help="replay a fixed-seed workload through the core")
    engine.add_argument("--orders", type=_positive, default=200_000)
    engine.add_argument("--seed", type=int, default=1)
    engine.add_argument("--repeat", type=_positive, default=3, help="timed runs; best is reported")
    engine.add_argument("--json", action="store_true", help="print one JSON object")
    restore = benches.add_parser("restore", help="time a start on a long journal, with and "
                                 "without a snapshot")
    restore.add_argument("--orders", type=_positive, default=1_000_000)
    restore.add_argument("--seed", type=int, default=1)
    restore.add_argument("--json", action="store_true", help="print one JSON object")
    floor = benches.add_parser("floor", help="time bare stand-ins no implementation can beat")
    floor.add_argument("--orders", type=_positive, default=200_000)
    floor.add_argument("--repeat", type=_positive, default=3, help="timed runs; best is reported")
    floor.add_argument("--seconds", type=float, default=8.0,
                       help="measured seconds of each transport run")
    floor.add_argument("--json", action="store_true", help="print one JSON object")
    load = benches.add_parser("load", help="drive a running exchange over its API from many users")
    load.add_argument("--url", default="http://127.0.0.1:5001")
    load.add_argument("--users", type=_positive, default=50)
    load.add_argument("--rate", type=int, default=0, help="orders per second; 0: flat out")
    load.add_argument("--window", type=_positive, default=32, help="in flight per user at rate 0")
    load.add_argument("--duration", type=float, default=10.0, help="measured seconds")
    load.add_argument("--warmup", type=float, default=2.0, help="seconds before measuring")
    load.add_argument("--market", default="COIN-USD")
    load.add_argument("--seed", type=int, default=1)
    load.add_argument("--processes", type=_positive, default=1, help="load generator processes")
    load.add_argument("--rest-users", type=int, default=0, help="users that trade over REST")
    load.add_argument("--binance-users", type=int, default=0,
                      help="users that trade through /api/v3 with ccxt (a real client library)")
    load.add_argument("--json", action="store_true", help="print one JSON object")

    args = parser.parse_args(argv)
    if args.command == "run":
        return _run(args)
    if args.command == "verify":
        return _verify(args)
    if args.command in ("gateway", "risk", "match", "cluster"):
        return _distributed(args)
    if args.bench == "load":
        return _bench_load(args)
    if args.bench == "restore":
        return _bench_restore(args.orders, args.seed, as_json=args.json)
    if args.bench == "floor":
        return _bench_floor(args.orders, args.repeat, args.seconds, as_json=args.json)
    return _bench_engine(args.orders, args.seed, args.repeat, as_json=args.json)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version  # noqa: PLC0415

    from exchange.core import build  # noqa: PLC0415

    try:
        number = version("exchange")
    except PackageNotFoundError:  # pragma: no cover - run from the sources, not installed
        number = "(not installed)"
    return f"exchange {number}, core {build()}"


def _bench_engine(orders: int, seed: int, repeats: int, *, as_json: bool) -> int:
    from exchange.bench.engine import run  # noqa: PLC0415 - keep `exchange --help` quick

    result = run(orders, seed, repeats)
    if as_json:
        sys.stdout.write(orjson.dumps(dataclasses.asdict(result)).decode() + "\n")
        return 0
    rows = [
        ("core", result.core),
        ("orders", f"{result.orders:,}"),
        ("orders per second (best run)", f"{result.orders_per_sec:,.0f}"),
        (f"orders per second (median of {result.repeats})",
         f"{result.median_orders_per_sec:,.0f}"),
        ("trades", f"{result.trades:,}"),
        ("traded quantity (lots)", f"{result.traded_qty:,}"),
        ("resting orders at the end", f"{result.resting_orders:,}"),
        ("peak RSS (MB)", f"{result.peak_rss_mb:,.1f}"),
        ("bytes per resting order", f"{result.bytes_per_resting_order:,.0f}"),
        ("time per command, p50 / p99 (µs)",
         f"{result.p50_us_per_command:.2f} / {result.p99_us_per_command:.2f}"),
    ]
    _print_rows(rows)
    return 0


def _print_rows(rows: list[tuple[str, str]]) -> None:
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value:>14}")


def _bench_restore(orders: int, seed: int, *, as_json: bool) -> int:
    from exchange.bench.restore import run  # noqa: PLC0415 - keep `exchange --help` quick

    result = run(orders, seed)
    if as_json:
        sys.stdout.write(orjson.dumps(dataclasses.asdict(result)).decode() + "\n")
        return 0
    rows = [
        ("journalled commands", f"{result.commands:,}"),
        ("journal (MB)", f"{result.journal_mb:,.1f}"),
        ("start with no snapshot: replay (s)", f"{result.replay_s:,.2f}"),
        ("  commands replayed per second", f"{result.replayed_per_s:,.0f}"),
        ("  resting orders, peak RSS (MB)",
         f"{result.resting_orders:,}, {result.rss_mb_after_replay:,.0f}"),
        ("stop: write the snapshot (s)", f"{result.snapshot_write_s:,.2f}"),
        ("  snapshot (MB)", f"{result.snapshot_mb:,.1f}"),
        ("start from the snapshot (s)", f"{result.snapshot_start_s:,.2f}"),
    ]
    _print_rows(rows)
    return 0


def _bench_floor(orders: int, repeats: int, seconds: float, *, as_json: bool) -> int:
    from exchange.bench.floor import run  # noqa: PLC0415 - keep `exchange --help` quick

    result = run(orders, repeats, seconds)
    if as_json:
        sys.stdout.write(orjson.dumps(dataclasses.asdict(result)).decode() + "\n")
        return 0
    print(f"engine floor, {result.orders:,} orders (compare `exchange bench engine`)")
    for engine in result.engine:
        print(f"  {engine.name:<42} {engine.orders_per_sec:>12,.0f} orders/s"
              f"  {engine.trades:>9,} trades")
    print("transport floor: a WebSocket server that does nothing (compare `exchange bench load`)")
    for transport in result.transport:
        print(f"  {transport.messages_per_request} message(s) per request, "
              f"{transport.connections} connections: {transport.requests_per_sec:>9,.0f}"
              f" requests/s, server CPU {transport.server_cpu_us_per_request:,.0f} µs/request")
    return 0


def _bench_load(args: argparse.Namespace) -> int:
    from exchange.bench.load import command  # noqa: PLC0415 - keep `exchange --help` quick

    return command(args)


def _run(args: argparse.Namespace) -> int:
    from exchange.embedded import Settings, run  # noqa: PLC0415 - keep `exchange --help` quick
    from exchange.settings import SettingsError  # noqa: PLC0415

    try:
        config = _config(args)
        return run(Settings(args.host, args.port, args.data_dir, config, fsync=args.fsync,
                            snapshot_every=args.snapshot_every,
                            snapshot_seconds=args.snapshot_seconds))
    except SettingsError as error:
        print(f"exchange: {error}", file=sys.stderr)
        return 2


def _verify(args: argparse.Namespace) -> int:
    from exchange.pipeline.audit import verify  # noqa: PLC0415 - keep `exchange --help` quick
    from exchange.pipeline.journal import Journal, JournalError  # noqa: PLC0415
    from exchange.pipeline.lock import DataDirInUse, DataDirLock  # noqa: PLC0415
    from exchange.pipeline.snapshots import Snapshots  # noqa: PLC0415
    from exchange.settings import SettingsError, remember  # noqa: PLC0415

    data_dir: Path = args.data_dir
    if not (data_dir / "journal").is_dir():
        print(f"exchange verify: {data_dir} holds no journal", file=sys.stderr)
        return 2
    lock = DataDirLock(data_dir)
    try:
        config = _config(args)
        remember(config, data_dir)
        lock.acquire()
        with Journal(data_dir / "journal") as journal:
            checks = verify(config, journal, Snapshots(data_dir / "snapshots"))
    except (SettingsError, DataDirInUse, JournalError) as error:
        print(f"exchange verify: {error}", file=sys.stderr)
        return 2
    finally:
        lock.release()
    for check in checks:
        verdict = "agrees" if check.agrees else f"DIFFERS: replay gives {check.replayed}"
        print(f"snapshot of seq {check.seq:,}: {check.saved[:16]}... {verdict}")
    if not checks:
        print("no snapshot to check against")
    return 0 if all(check.agrees for check in checks) else 1


def _add_data_dir(command: argparse.ArgumentParser) -> None:
    command.add_argument("--data-dir", type=Path,
                         default=Path(os.environ.get("EXCHANGE_DATA_DIR", "exchange-data")),
                         help="where the journal, accounts and snapshots live")


def _add_config(command: argparse.ArgumentParser) -> None:
    """The flags that make the configuration (`_config` reads them)."""
    command.add_argument("--config", type=Path, default=_env_path("EXCHANGE_CONFIG"),
                         help="a TOML file of assets, markets, fees and grants (see settings.py)")
    command.add_argument("--maker-fee", default=os.environ.get("EXCHANGE_MAKER_FEE"),
                         help="maker fee rate for every market, e.g. 0.001")
    command.add_argument("--taker-fee", default=os.environ.get("EXCHANGE_TAKER_FEE"))
    command.add_argument("--grant", action="append", default=[], metavar="ASSET=AMOUNT",
                         help="what each new user gets, e.g. --grant USD=1000 (repeatable)")


def _config(args: argparse.Namespace) -> "Config":
    """Load the configuration the flags of `_add_config` name; SettingsError if bad."""
    from exchange.settings import load_config  # noqa: PLC0415

    return load_config(args.config, maker_fee=args.maker_fee, taker_fee=args.taker_fee,
                       grants=dict(_pair(text) for text in args.grant))


def _add_wiring(command: argparse.ArgumentParser) -> None:
    env = os.environ.get
    command.add_argument("--kafka", default=env("EXCHANGE_KAFKA"), metavar="BOOTSTRAP",
                         required=not env("EXCHANGE_KAFKA"), help="Kafka bootstrap servers")
    command.add_argument("--redis", default=env("EXCHANGE_REDIS"), metavar="URL",
                         required=not env("EXCHANGE_REDIS"), help="e.g. redis://host:6379/0")
    command.add_argument("--namespace", default=env("EXCHANGE_NAMESPACE", "exchange"),
                         help="prefix of this exchange's topics, groups and Redis keys")
    command.add_argument("--partitions", type=_positive, default=4,
                         help="partitions of each topic, when it has to be created")
    _add_config(command)


def _distributed(args: argparse.Namespace) -> int:
    from exchange import cluster  # noqa: PLC0415 - keep `exchange --help` quick
    from exchange.bus.port import BusError  # noqa: PLC0415
    from exchange.settings import SettingsError  # noqa: PLC0415
    from exchange.store.port import StoreError  # noqa: PLC0415

    try:
        config = _config(args)
        wiring = cluster.Wiring(args.kafka, args.redis, args.namespace, config, args.partitions)
        if args.command == "gateway":
            return cluster.run_gateway(wiring, args.host, args.port)
        if args.command == "cluster":
            flags = cluster.child_flags(args.kafka, args.redis, args.namespace, args.partitions,
                                        args.config, args.maker_fee, args.taker_fee, args.grant)
            return cluster.run_cluster(wiring, flags, gateways=args.gateways, risks=args.risk,
                                       matches=args.match, host=args.host,
                                       base_port=args.base_port)
        return cluster.run_service(wiring, args.command,
                                   args.instance or cluster.default_instance())
    except (SettingsError, BusError, StoreError) as error:
        print(f"exchange {args.command}: {error}", file=sys.stderr)
        return 2


def _pair(text: str) -> tuple[str, str]:
    from exchange.settings import SettingsError  # noqa: PLC0415

    name, sep, value = text.partition("=")
    if not sep or not name or not value:
        raise SettingsError(f"--grant expects ASSET=AMOUNT, got {text!r}")
    return name, value


def _env_path(name: str) -> Path | None:
    value = os.environ.get(name)
    return Path(value) if value else None


def _positive(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("must be a positive integer")
    return value


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
