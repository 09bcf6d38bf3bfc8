"""`exchange bench engine`: replay a fixed-seed workload through risk and matching.

The workload: about 70 % limit orders that rest near a drifting mid price, 25 % cancels
of orders placed earlier, 5 % limit orders that cross the spread, from many users.
Commands are generated before the clock starts; the clock runs while
`Exchange.execute_batch` takes them a thousand at a time, as the embedded pipeline
hands over its group commits: the risk hold, matching, event emission and settlement
(compiled, the loop over the commands too). Trades are counted off the clock. The
garbage collector runs with the settings the services use.
"""

import gc
import random
import resource
import statistics
import time
import tracemalloc
from dataclasses import dataclass

from exchange.core import build
from exchange.core.commands import CancelOrder, Command, OpenAccount, PlaceOrder
from exchange.core.engine import Exchange
from exchange.core.events import TradeExecuted
from exchange.core.markets import Config, default_config
from exchange.core.types import OrderType, Side, TimeInForce
from exchange.runtime import tune_gc

USERS = 2_000
BATCH = 1_000  # commands handed to `Exchange.execute_batch` at a time, as the pipeline does


def bench_config() -> Config:
    """The default market, with grants large enough that no order is refused for funds."""
    return default_config(grant_usd="1000000000", grant_coin="10000000")


# The configuration's own symbol, as the gateway passes it (`web.orders.parse_place`):
# compiled, finding a market by the very string it was filed under skips comparing text.
MARKET = bench_config().markets[0].symbol


def workload(orders: int, seed: int) -> list[Command]:
    """Generate account openings, then `orders` commands: places and cancels."""
    rng = random.Random(seed)
    commands: list[Command] = [OpenAccount(u, 0, u) for u in range(1, USERS + 1)]
    seq = USERS
    mid = 1_000_000  # ticks: 10,000.00 USD
    live: list[tuple[int, int]] = []  # (order id, user) of orders placed, maybe filled since
    next_id = 0
    for _ in range(orders):
        seq += 1
        roll = rng.random()
        if roll < 0.02:  # the mid price takes a step now and then
            mid += 1 if rng.random() < 0.5 else -1
        if roll < 0.25 and live:
            index = rng.randrange(len(live))
            live[index], live[-1] = live[-1], live[index]
            order_id, user = live.pop()
            commands.append(CancelOrder(seq, seq, user, order_id))
            continue
        next_id += 1
        user = rng.randint(1, USERS)
        side = Side.BUY if rng.random() < 0.5 else Side.SELL
        # 5 % of all commands cross the spread by up to 20 ticks; the rest rest behind it.
        offset = -rng.randint(1, 20) if roll > 0.95 else rng.randint(1, 60)
        price = mid - offset if side is Side.BUY else mid + offset
        qty = rng.randint(1, 100) * 100
        commands.append(PlaceOrder(seq, seq, next_id, user, MARKET, side, OrderType.LIMIT,
                                   TimeInForce.GTC, price, qty))
        live.append((next_id, user))
    return commands


@dataclass(frozen=True, slots=True)
class EngineResult:
    orders: int
    repeats: int
    orders_per_sec: float  # the best run: the least disturbed by the rest of the machine
    median_orders_per_sec: float
    trades: int
    traded_qty: int
    resting_orders: int
    peak_rss_mb: float
    bytes_per_resting_order: float
    core: str  # which build of the core ran: compiled (mypyc) or interpreted
    # The time of one command through `Exchange.execute`, from every tenth command of a
    # run apart (its timer's own cost included): microseconds.
    p50_us_per_command: float
    p99_us_per_command: float


def run(orders: int, seed: int = 1, repeats: int = 3) -> EngineResult:
    """Time the workload `repeats` times, each through a fresh `Exchange`."""
    commands = workload(orders, seed)
    opening, timed = commands[:USERS], commands[USERS:]
    rates = []
    for _ in range(repeats):
        exchange = Exchange(bench_config())
        for cmd in opening:
            exchange.execute(cmd)
        tune_gc()
        execute_batch = exchange.execute_batch
        traded_qty = 0
        trades = 0
        elapsed = 0.0
        for first in range(0, len(timed), BATCH):
            batch = timed[first:first + BATCH]
            start = time.perf_counter()
            events = execute_batch(batch)
            elapsed += time.perf_counter() - start
            for event in events:  # counted off the clock
                if event.__class__ is TradeExecuted:
                    trades += 1
                    traded_qty += event.qty
            del events
        rates.append(len(timed) / elapsed)
        resting = len(exchange.books[MARKET])
        del exchange, execute_batch
        gc.unfreeze()
        gc.collect()
    p50, p99 = command_times(opening, timed)
    return EngineResult(
        orders=len(timed),
        repeats=repeats,
        orders_per_sec=max(rates),
        median_orders_per_sec=statistics.median(rates),
        trades=trades,
        traded_qty=traded_qty,
        resting_orders=resting,
        peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        bytes_per_resting_order=memory_per_resting_order(),
        core=build(),
        p50_us_per_command=p50,
        p99_us_per_command=p99,
    )


def command_times(opening: list[Command], timed: list[Command]) -> tuple[float, float]:
    """Run the workload one command at a time, timing every tenth; return p50 and p99 in
    microseconds."""
    exchange = Exchange(bench_config())
    for cmd in opening:
        exchange.execute(cmd)
    tune_gc()
    execute, clock = exchange.execute, time.perf_counter_ns
    samples = []
    for index, cmd in enumerate(timed):
        if index % 10:
            execute(cmd)
            continue
        start = clock()
        execute(cmd)
        samples.append(clock() - start)
    del exchange, execute
    gc.unfreeze()
    gc.collect()
    samples.sort()
    return (samples[len(samples) // 2] / 1000,
            samples[min(len(samples) - 1, len(samples) * 99 // 100)] / 1000)


def memory_per_resting_order(count: int = 50_000) -> float:
    """Rest `count` orders that never cross; divide what they keep allocated by `count`.

    Each command is built inside the measurement: a resting order keeps its command.
    """
    exchange = Exchange(bench_config())
    for user in range(1, 101):
        exchange.execute(OpenAccount(user, 0, user))
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for i in range(count):
        buy = i % 2 == 0
        exchange.execute(PlaceOrder(
            1000 + i, i, i + 1, i % 100 + 1, MARKET, Side.BUY if buy else Side.SELL,
            OrderType.LIMIT, TimeInForce.GTC, 900_000 - i % 500 if buy else 1_100_000 + i % 500,
            100 + i,
        ))
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    return (after - before) / count
