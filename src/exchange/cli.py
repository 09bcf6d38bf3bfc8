"""The `exchange` command: wires implementations to ports and starts what was asked for."""

import argparse
import dataclasses
import sys
from collections.abc import Sequence

import orjson


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="exchange", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    bench = commands.add_parser("bench", help="measure how fast the exchange is")
    benches = bench.add_subparsers(dest="bench", required=True)
    engine = benches.add_parser("engine", help="replay a fixed-seed workload through the core")
    engine.add_argument("--orders", type=_positive, default=200_000)
    engine.add_argument("--seed", type=int, default=1)
    engine.add_argument("--repeat", type=_positive, default=3, help="timed runs; best is reported")
    engine.add_argument("--json", action="store_true", help="print one JSON object")

    args = parser.parse_args(argv)
    return _bench_engine(args.orders, args.seed, args.repeat, as_json=args.json)


def _bench_engine(orders: int, seed: int, repeats: int, *, as_json: bool) -> int:
    from exchange.bench.engine import run  # noqa: PLC0415 - keep `exchange --help` quick

    result = run(orders, seed, repeats)
    if as_json:
        sys.stdout.write(orjson.dumps(dataclasses.asdict(result)).decode() + "\n")
        return 0
    rows = [
        ("orders", f"{result.orders:,}"),
        ("orders per second (best run)", f"{result.orders_per_sec:,.0f}"),
        (f"orders per second (median of {result.repeats})",
         f"{result.median_orders_per_sec:,.0f}"),
        ("trades", f"{result.trades:,}"),
        ("traded quantity (lots)", f"{result.traded_qty:,}"),
        ("resting orders at the end", f"{result.resting_orders:,}"),
        ("peak RSS (MB)", f"{result.peak_rss_mb:,.1f}"),
        ("bytes per resting order", f"{result.bytes_per_resting_order:,.0f}"),
    ]
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value:>14}")
    return 0


def _positive(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("must be a positive integer")
    return value


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
