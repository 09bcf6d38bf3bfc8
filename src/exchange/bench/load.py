"""`exchange bench load`: drive a running exchange through its API the way clients do.

Users sign up over REST first (`POST /api/v1/users`: the server hashes each password with
argon2, so this is slow, done a few at a time and timed apart). Then one process, or
`--processes P` spawned ones, drive the exchange with them over WebSockets (the first
`--rest-users` place and cancel over REST, the next `--binance-users` through the
Binance-compatible API with ccxt), each with its share of the users and of the
rate (`generator.py`, `clients.py`, `rest.py`); their counts and encoded histograms are
merged here.

Orders per second is the answers (acknowledgements and refusals) that arrived inside the
measured window per second of it; places and cancels both count, as in `bench engine`.
The load generator runs on the same machine as the server: what it spends, the server
does not get. Server memory is what `GET /api/v1/status` says before and after the run.
"""

import argparse
import dataclasses
import multiprocessing
import sys
import time
from collections import Counter
from dataclasses import dataclass
from multiprocessing.synchronize import Barrier
from typing import Any

import httpx
import orjson
from hdrh.histogram import HdrHistogram  # type: ignore[import-untyped]

from exchange.bench.clients import Account, new_histogram
from exchange.bench.generator import (
    DRAIN_SEC,
    LoadError,
    LoadSettings,
    Report,
    run_async,
    sign_up,
    work,
)


@dataclass(frozen=True, slots=True)
class Latency:
    count: int
    p50: float | None  # milliseconds; None without samples
    p90: float | None
    p99: float | None
    p99_9: float | None
    max: float | None


@dataclass(frozen=True, slots=True)
class LoadResult:
    url: str
    users: int
    rate: int
    window: int
    duration: float
    warmup: float
    market: str
    seed: int
    processes: int
    rest_users: int
    binance_users: int
    orders_per_sec: float
    orders: int  # requests started in the window: places and cancels
    places: int
    cancels: int
    acks: int
    rejected: int
    errors: int
    fills: int
    ack_latency_ms: Latency
    fill_latency_ms: Latency
    cancel_latency_ms: Latency
    codes: dict[str, int]  # refusals and errors by code
    signup_sec: float
    connect_sec: float
    server_rss_mb_start: float | None
    server_rss_mb: float | None
    # The server's CPU time (all its threads) from after sign-up to the end, and that per
    # request answered meanwhile (warm-up and drain included): what an order costs it.
    server_cpu_s: float | None
    server_cpu_us_per_request: float | None
    # The collector's pauses in the server over the same span: how many, and how long.
    gc_pauses: int | None = None
    gc_pause_p99_ms: float | None = None
    gc_pause_max_ms: float | None = None


def run(settings: LoadSettings) -> LoadResult:
    """Sign the users up, drive the exchange with them and merge what every process saw."""
    started = time.perf_counter()
    try:
        accounts = run_async(sign_up(settings.url, settings.users))
    except httpx.HTTPError as exc:
        raise LoadError(f"cannot sign users up at {settings.url}: {exc!r}") from exc
    signup_sec = time.perf_counter() - started
    rss_start, cpu_start, clock_start = server_status(settings.url)
    shares = [accounts[i::settings.processes] for i in range(settings.processes)]
    shares = [share for share in shares if share]
    if len(shares) == 1:
        reports = [work(shares[0], settings, float(settings.rate), None)]
    else:
        reports = _work_in_processes(shares, settings)
    ack, fill, cancel = new_histogram(), new_histogram(), new_histogram()
    codes: Counter[str] = Counter()
    for report in reports:
        ack.decode_and_add(report.ack)
        fill.decode_and_add(report.fill)
        cancel.decode_and_add(report.cancel)
        codes.update(report.codes)
    rss_end, cpu_end, _ = server_status(settings.url)
    pauses = gc_pauses(settings.url, clock_start)
    cpu = None if cpu_start is None or cpu_end is None else cpu_end - cpu_start
    answered = sum(r.all_answered for r in reports)
    places = sum(r.places for r in reports)
    cancels = sum(r.cancels for r in reports)
    return LoadResult(
        **dataclasses.asdict(settings),
        orders_per_sec=sum(r.answered for r in reports) / settings.duration,
        orders=places + cancels, places=places, cancels=cancels,
        acks=sum(r.acks for r in reports), rejected=sum(r.rejected for r in reports),
        errors=sum(r.errors for r in reports), fills=sum(r.fills for r in reports),
        ack_latency_ms=_latency(ack), fill_latency_ms=_latency(fill),
        cancel_latency_ms=_latency(cancel), codes=dict(sorted(codes.items())),
        signup_sec=signup_sec, connect_sec=max(r.connect_sec for r in reports),
        server_rss_mb_start=None if rss_start is None else rss_start / 2**20,
        server_rss_mb=None if rss_end is None else rss_end / 2**20,
        server_cpu_s=cpu,
        server_cpu_us_per_request=None if cpu is None or not answered else cpu / answered * 1e6,
        gc_pauses=None if pauses is None else len(pauses),
        gc_pause_p99_ms=_percentile(pauses, 99), gc_pause_max_ms=_percentile(pauses, 100),
    )


def server_status(url: str) -> tuple[int | None, float | None, float | None]:
    """Return the server's resident memory (bytes), CPU time used (s) and uptime (s) from
    `GET /api/v1/status`; None for what it does not report (a cluster's gateway reports
    its own process only)."""
    body = _status(url)
    rss, cpu, clock = body.get("rss_bytes"), body.get("cpu_s"), body.get("clock_s")
    return (rss if isinstance(rss, int) else None, _number(cpu), _number(clock))


def gc_pauses(url: str, since: float | None) -> list[float] | None:
    """The lengths (ms) of the server's collector pauses since its uptime `since`."""
    if since is None:
        return None
    pauses = _status(url, gc_since=since).get("gc_pauses_ms")
    return [float(p) for p in pauses] if isinstance(pauses, list) else None


def _status(url: str, **params: float) -> dict[str, Any]:
    try:
        response = httpx.get(f"{url}/api/v1/status", params=params, timeout=10)
        body = response.json() if response.status_code == 200 else {}
    except (httpx.HTTPError, ValueError):
        return {}
    return body if isinstance(body, dict) else {}


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _percentile(values: list[float] | None, percent: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * percent / 100))]


def _worker(accounts: list[Account], settings: LoadSettings, rate: float, barrier: Barrier,
            results: "multiprocessing.Queue[Report | str]") -> None:
    try:
        results.put(work(accounts, settings, rate, barrier))
    except BaseException as exc:
        barrier.abort()
        results.put(f"{type(exc).__name__}: {exc}")


def _work_in_processes(shares: list[list[Account]], settings: LoadSettings) -> list[Report]:
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(len(shares))
    results: multiprocessing.Queue[Report | str] = context.Queue()
    workers = [
        context.Process(target=_worker, daemon=True, args=(
            share, settings, settings.rate * len(share) / settings.users, barrier, results))
        for share in shares
    ]
    for process in workers:
        process.start()
    try:
        deadline = settings.warmup + settings.duration + DRAIN_SEC + 120
        answers = [results.get(timeout=deadline) for _ in workers]
    finally:
        for process in workers:
            process.join(timeout=10)
            if process.is_alive():
                process.kill()
    failures = [answer for answer in answers if isinstance(answer, str)]
    if failures:
        raise LoadError("a load process failed: " + "; ".join(failures))
    return [answer for answer in answers if isinstance(answer, Report)]


def _latency(histogram: HdrHistogram) -> Latency:
    count = histogram.get_total_count()
    if not count:
        return Latency(0, None, None, None, None, None)
    at = histogram.get_value_at_percentile
    return Latency(count, at(50) / 1000, at(90) / 1000, at(99) / 1000, at(99.9) / 1000,
                   histogram.get_max_value() / 1000)


def format_table(result: LoadResult) -> str:
    """Render a result as the table `exchange bench load` prints."""
    def ms(value: float | None) -> str:
        return "-" if value is None else f"{value:,.2f}"

    def mb(value: float | None) -> str:
        return "n/a" if value is None else f"{value:,.1f}"

    asked = (f"{result.rate:,} orders/s" if result.rate
             else f"as fast as it goes, window {result.window}")
    rows = [
        ("server", result.url),
        ("users (over REST, Binance's API), processes",
         f"{result.users} ({result.rest_users}, {result.binance_users}), {result.processes}"),
        ("rate asked", asked),
        ("warm-up, measured (s)", f"{result.warmup:g}, {result.duration:g}"),
        ("sign-up, connect (s)", f"{result.signup_sec:.1f}, {result.connect_sec:.1f}"),
        ("orders per second (sustained)", f"{result.orders_per_sec:,.0f}"),
        ("orders sent (places + cancels)",
         f"{result.orders:,} ({result.places:,} + {result.cancels:,})"),
        ("acks, rejected, errors", f"{result.acks:,}, {result.rejected:,}, {result.errors:,}"),
        ("fill events", f"{result.fills:,}"),
        ("server RSS (MB), start -> end",
         f"{mb(result.server_rss_mb_start)} -> {mb(result.server_rss_mb)}"),
        ("server CPU (s), per request (µs)",
         "n/a" if result.server_cpu_s is None or result.server_cpu_us_per_request is None
         else f"{result.server_cpu_s:,.1f}, {result.server_cpu_us_per_request:,.0f}"),
        ("collector pauses, p99, max (ms)",
         "n/a" if result.gc_pauses is None
         else f"{result.gc_pauses:,}, {ms(result.gc_pause_p99_ms)}, {ms(result.gc_pause_max_ms)}"),
    ]
    if result.codes:
        rows.append(("refusals and errors", ", ".join(f"{k} {v:,}"
                                                      for k, v in result.codes.items())))
    width = max(len(name) for name, _ in rows)
    lines = [f"{name:<{width}}  {value}" for name, value in rows]
    lines.append("")
    lines.append(f"{'latency (ms)':<18}{'count':>10}{'p50':>9}{'p90':>9}{'p99':>9}"
                 f"{'p99.9':>9}{'max':>9}")
    for name, lat in (("order -> ack", result.ack_latency_ms),
                      ("order -> fill", result.fill_latency_ms),
                      ("cancel -> ack", result.cancel_latency_ms)):
        lines.append(f"{name:<18}{lat.count:>10,}{ms(lat.p50):>9}{ms(lat.p90):>9}"
                     f"{ms(lat.p99):>9}{ms(lat.p99_9):>9}{ms(lat.max):>9}")
    return "\n".join(lines) + "\n"


def command(args: argparse.Namespace) -> int:
    """Run `exchange bench load` with parsed arguments; print a table or one JSON object."""
    if args.rate < 0 or args.duration <= 0 or args.warmup < 0 or \
            not 0 <= args.rest_users <= args.rest_users + args.binance_users <= args.users:
        sys.stderr.write("exchange bench load: need --rate >= 0, --duration > 0, "
                         "--warmup >= 0, and --rest-users and --binance-users >= 0 that "
                         "add up to at most --users\n")
        return 2
    settings = LoadSettings(
        url=args.url.rstrip("/"), users=args.users, rate=args.rate, window=args.window,
        duration=args.duration, warmup=args.warmup, market=args.market, seed=args.seed,
        processes=args.processes, rest_users=args.rest_users,
        binance_users=args.binance_users,
    )
    try:
        result = run(settings)
    except (LoadError, OSError) as exc:
        sys.stderr.write(f"exchange bench load: {exc}\n")
        return 1
    if args.json:
        sys.stdout.write(orjson.dumps(dataclasses.asdict(result)).decode() + "\n")
    else:
        sys.stdout.write(format_table(result))
    return 0
