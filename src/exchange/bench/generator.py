"""One load-generating process: open its users' WebSockets and send at a rate or flat out.

- At a fixed rate (open loop) the process sends its share on a timetable, round robin
  over its users, whether or not earlier requests were answered; each request is timed
  from its slot in the timetable (see `Trader.send`).
- At rate 0 (closed loop) each connection keeps up to `window` requests in flight, so the
  latency then includes queueing at full load.

The run is a warm-up, not measured, then the measured window. Requests started in the
window are counted and timed, and their answers are awaited up to `DRAIN_SEC` after it;
what never comes is an error (timeout). Several processes begin their warm-up together at
a barrier, once all their users are connected.
"""

import asyncio
import secrets
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from multiprocessing.synchronize import Barrier
from random import Random
from typing import Any, TypeVar

import httpx
from websockets.exceptions import WebSocketException

from exchange.bench.binance import BinanceTrader
from exchange.bench.clients import Account, Tally, Trader
from exchange.bench.rest import RestTrader
from exchange.runtime import tune_gc

SIGNUP_POOL = 4  # concurrent sign-ups: argon2 keeps the server's cores busy anyway
CONNECT_POOL = 16
TICK_NS = 1_000_000  # the event loop's timers are about a millisecond coarse
LOOKAHEAD_NS = TICK_NS  # at a fixed rate, requests go up to a tick early, in bursts
BURST = 64
SWEEP_SEC = 1.0
DRAIN_SEC = 10.0
T = TypeVar("T")


class LoadError(Exception):
    """The benchmark could not run: the server is unreachable or refused to set it up."""


@dataclass(frozen=True, slots=True)
class LoadSettings:
    url: str = "http://127.0.0.1:5001"
    users: int = 50
    rate: int = 0  # requests per second in all; 0: as fast as answers come
    window: int = 32  # requests in flight per connection, at rate 0
    duration: float = 10.0
    warmup: float = 2.0
    market: str = "COIN-USD"
    seed: int = 1
    processes: int = 1
    rest_users: int = 0  # the first users place and cancel over REST instead
    binance_users: int = 0  # the next ones through /api/v3 with ccxt (`bench.binance`)


@dataclass(frozen=True, slots=True)
class Report:
    """What one process measured, in a form that crosses process boundaries."""

    places: int
    cancels: int
    acks: int
    rejected: int
    errors: int
    answered: int
    all_answered: int
    fills: int
    codes: dict[str, int]
    ack: bytes  # encoded histograms
    fill: bytes
    cancel: bytes
    connect_sec: float


async def sign_up(url: str, users: int) -> list[Account]:
    """Create `users` accounts with random passwords, `SIGNUP_POOL` at a time."""
    limit = asyncio.Semaphore(SIGNUP_POOL)
    timeout = httpx.Timeout(60).as_dict()

    async def one(client: httpx.AsyncClient, index: int) -> Account:
        # A request built here carries no cookie from the client's jar: each sign-up is
        # a stranger's, never made with an earlier user's session.
        request = httpx.Request("POST", f"{url}/api/v1/users",
                                json={"password": secrets.token_urlsafe(18)},
                                extensions={"timeout": timeout})
        async with limit:
            response = await client.send(request)
        if response.status_code != 201:
            raise LoadError(f"POST /api/v1/users answered {response.status_code}: "
                            f"{response.text[:300]}")
        session = response.cookies.get("session")
        if not session:
            raise LoadError("POST /api/v1/users set no session cookie")
        body = response.json()
        return Account(index, int(body["user_id"]), session, str(body["csrf_token"]))

    async with httpx.AsyncClient() as client:
        return list(await asyncio.gather(*(one(client, i) for i in range(users))))


def work(accounts: list[Account], settings: LoadSettings, rate: float,
         barrier: Barrier | None) -> Report:
    """Drive the exchange with `accounts` from this process at `rate` (0: closed loop)."""
    tune_gc()
    return run_async(_drive(accounts, settings, rate, barrier))


async def _drive(accounts: list[Account], settings: LoadSettings, rate: float,
                 barrier: Barrier | None) -> Report:
    tally = Tally()
    def kind(index: int) -> type[Trader]:
        if index < settings.rest_users:
            return RestTrader
        return BinanceTrader if index < settings.rest_users + settings.binance_users else Trader

    traders = [kind(a.index)(a, settings.market, Random(f"{settings.seed}:{a.index}"), tally)
               for a in accounts]
    ws_url = "ws" + settings.url.removeprefix("http") + "/api/v1/ws"
    limit = asyncio.Semaphore(CONNECT_POOL)

    async def connect(trader: Trader) -> None:
        async with limit:
            try:
                await trader.connect(ws_url, settings.url)
            except (OSError, TimeoutError, RuntimeError, WebSocketException) as exc:
                raise LoadError(f"user {trader.account.user_id}: cannot open {ws_url}: "
                                f"{exc!r}") from exc

    started = time.perf_counter()
    await asyncio.gather(*(connect(trader) for trader in traders))
    connect_sec = time.perf_counter() - started
    if barrier is not None:
        barrier.wait(timeout=300)  # every process is connected: begin together
    begin = time.perf_counter_ns()
    tally.begin_ns = begin + int(settings.warmup * 1e9)
    tally.end_ns = tally.begin_ns + int(settings.duration * 1e9)
    sweeper = asyncio.create_task(_sweep(traders))
    if rate > 0:
        await _pace(traders, rate, begin, tally.end_ns)
    else:
        await asyncio.gather(*(_pump(t, settings.window, tally.end_ns) for t in traders))
    deadline = time.perf_counter_ns() + int(DRAIN_SEC * 1e9)
    while any(t.busy() for t in traders) and time.perf_counter_ns() < deadline:
        await asyncio.sleep(0.005)
    sweeper.cancel()
    for trader in traders:
        trader.expire(time.perf_counter_ns(), timeout_ns=0)  # whatever is left timed out
    await asyncio.gather(*(trader.close() for trader in traders))
    return Report(
        places=tally.places, cancels=tally.cancels, acks=tally.acks, rejected=tally.rejected,
        errors=tally.errors, answered=tally.answered, all_answered=tally.all_answered,
        fills=tally.fills,
        codes=dict(tally.codes), ack=tally.ack.encode(), fill=tally.fill.encode(),
        cancel=tally.cancel.encode(), connect_sec=connect_sec,
    )


async def _pace(traders: list[Trader], rate: float, begin: int, end: int) -> None:
    interval = 1e9 / rate
    sent = 0
    while (due := begin + int(sent * interval)) < end:
        now = time.perf_counter_ns()
        if due > now + LOOKAHEAD_NS:
            # Sleeping less than a tick would spin: send what falls due meanwhile early.
            await asyncio.sleep(max(due - now - LOOKAHEAD_NS, TICK_NS) / 1e9)
        for _ in range(BURST):  # at most a burst per turn, so answers are read meanwhile
            await traders[sent % len(traders)].send(due)
            sent += 1
            due = begin + int(sent * interval)
            if due >= end or due > time.perf_counter_ns() + LOOKAHEAD_NS:
                break
        await asyncio.sleep(0)


async def _pump(trader: Trader, window: int, end: int) -> None:
    while trader.alive and (now := time.perf_counter_ns()) < end:
        if len(trader.pending) < window:
            await trader.send(now)
            continue
        trader.room.clear()
        try:
            async with asyncio.timeout((end - now) / 1e9):
                await trader.room.wait()
        except TimeoutError:
            return


async def _sweep(traders: list[Trader]) -> None:
    while True:
        await asyncio.sleep(SWEEP_SEC)
        now = time.perf_counter_ns()
        for trader in traders:
            trader.expire(now)


def run_async(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to its end on a fresh event loop, uvloop's where there is one."""
    factory: Callable[[], asyncio.AbstractEventLoop] | None = None
    try:
        import uvloop  # noqa: PLC0415 - not on every platform

        factory = uvloop.new_event_loop
    except ImportError:  # pragma: no cover
        pass
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(coroutine)
