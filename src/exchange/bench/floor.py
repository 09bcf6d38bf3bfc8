"""`exchange bench floor`: how fast the simplest possible versions can go, on this machine.

The targets for the engine and the embedded exchange are figures for this hardware and
this interpreter. These floors measure what no implementation here can beat, by doing
less than the exchange must:

- Engine: the `bench engine` workload through a bare price-time book, written out in one
  function and called once per command, as `Exchange.execute` is. It leaves out
  validation, fees, self-trade prevention, client order ids, level totals, replay
  protection and order records. Each omission makes it faster, so the real engine cannot
  be faster than it. Two versions, each written out in full on purpose: sharing the
  matching loop would cost a call or a branch per command, and a floor must not pay for
  tidiness:
  - the core's event classes, and no risk at all;
  - events as plain tuples (cheaper than any typed event), plus the least risk there
    is: hold on accept, settle both sides of a fill, release on cancel.
- Transport: a WebSocket server that does no work, on the stack `exchange run` serves
  with (uvicorn, websockets-sansio, Starlette, uvloop). Each request is answered with
  one message, or with three as the exchange answers an order: the answer, the order's
  update and the balances. The client is the library `bench load` drives with. Client
  and server share the machine's two cores, as in `bench load`.
"""

import asyncio
import gc
import os
import resource
import socket
import subprocess
import sys
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from heapq import heappop, heappush
from typing import Any

import orjson

from exchange.bench.engine import USERS, workload
from exchange.core.commands import CancelOrder, Command, PlaceOrder
from exchange.core.events import (
    CancelRejected,
    LevelChanged,
    OrderAccepted,
    OrderCancelled,
    OrderDone,
    TradeExecuted,
)
from exchange.core.types import CancelReason, Reject, Side
from exchange.runtime import tune_gc

Execute = Callable[[Command], list[Any]]

BUY, SELL = Side.BUY, Side.SELL
USER = CancelReason.USER
UNKNOWN = Reject.UNKNOWN_ORDER


def named_events_no_risk() -> Execute:
    """A bare book that emits the core's event classes; nothing else."""
    bids: dict[int, deque[list[Any]]] = {}
    asks: dict[int, deque[list[Any]]] = {}
    bid_keys: list[int] = []  # heap of -price
    ask_keys: list[int] = []  # heap of price
    orders: dict[int, list[Any]] = {}  # id -> [id, left, price, user, side]
    counters = [0, 0]  # trade id, level version

    def execute(cmd: Command) -> list[Any]:
        if isinstance(cmd, CancelOrder):  # the workload's other command
            seq, ts, user, order_id = cmd.seq, cmd.ts, cmd.user, cmd.order_id
            order = orders.pop(order_id, None)
            if order is None:
                return [CancelRejected(seq, ts, order_id, user, "", UNKNOWN)]
            left, order[1] = order[1], 0
            counters[1] += 1
            return [OrderCancelled(seq, ts, order_id, user, "", order[4], left, USER),
                    LevelChanged(seq, "", order[4], order[2], 0, counters[1])]
        assert isinstance(cmd, PlaceOrder)
        seq, ts, order_id, user, symbol = cmd.seq, cmd.ts, cmd.order_id, cmd.user, cmd.market
        side, kind, tif, price, qty = cmd.side, cmd.type, cmd.tif, cmd.price, cmd.qty
        client_id = cmd.client_order_id
        out: list[Any] = [OrderAccepted(seq, ts, order_id, user, symbol, side, kind,
                                               tif, price, qty, 0, client_id)]
        buy = side is BUY
        keys, levels, sign, maker_side = ((ask_keys, asks, 1, SELL) if buy
                                          else (bid_keys, bids, -1, BUY))
        limit = price * sign
        while qty and keys and keys[0] <= limit:
            at = keys[0] * sign
            queue = levels[at]
            while qty and queue:
                maker = queue[0]
                if not maker[1]:
                    queue.popleft()
                    continue
                fill = min(qty, maker[1])
                qty -= fill
                maker[1] -= fill
                counters[0] += 1
                out.append(TradeExecuted(seq, ts, symbol, counters[0], at, fill, side,
                                                maker[0], maker[3], order_id, user, 0, 0))
                if not maker[1]:
                    queue.popleft()
                    del orders[maker[0]]
                    out.append(OrderDone(seq, ts, maker[0], maker[3], symbol,
                                                maker[4]))
            counters[1] += 1
            out.append(LevelChanged(seq, symbol, maker_side, at, 0, counters[1]))
            if not queue:
                del levels[at]
                heappop(keys)
            while keys and keys[0] * sign not in levels:
                heappop(keys)
        if not qty:
            out.append(OrderDone(seq, ts, order_id, user, symbol, side))
            return out
        own_keys, own_levels, own_sign = (bid_keys, bids, -1) if buy else (ask_keys, asks, 1)
        resting = own_levels.get(price)
        if resting is None:
            resting = own_levels[price] = deque()
            heappush(own_keys, price * own_sign)
        order = [order_id, qty, price, user, side]
        resting.append(order)
        orders[order_id] = order
        counters[1] += 1
        out.append(LevelChanged(seq, symbol, side, price, qty, counters[1]))
        return out

    return execute


def plain_events_least_risk(accounts: dict[int, list[int]] | None = None) -> Execute:
    """A bare book with plain-tuple events and the least risk: hold, settle, release.

    `accounts` maps a user to [quote available, quote held, base available, base held];
    by default every user of the workload has plenty of both.
    """
    bids: dict[int, deque[list[Any]]] = {}
    asks: dict[int, deque[list[Any]]] = {}
    bid_keys: list[int] = []
    ask_keys: list[int] = []
    orders: dict[int, list[Any]] = {}  # id -> [id, left, price, user, side, balances]
    if accounts is None:
        accounts = {user: [1 << 60, 0, 1 << 60, 0] for user in range(1, USERS + 1)}
    counters = [0, 0]

    def execute(cmd: Command) -> list[Any]:
        if isinstance(cmd, CancelOrder):  # the workload's other command
            seq, ts, user, order_id = cmd.seq, cmd.ts, cmd.user, cmd.order_id
            order = orders.pop(order_id, None)
            if order is None:
                return [(CancelRejected, seq, ts, order_id, user, "", UNKNOWN)]
            left, order[1] = order[1], 0
            balances = order[5]
            if order[4] is BUY:
                held = left * order[2]
                balances[1] -= held
                balances[0] += held
            else:
                balances[3] -= left
                balances[2] += left
            counters[1] += 1
            return [(OrderCancelled, seq, ts, order_id, user, "", order[4], left, USER),
                    (LevelChanged, seq, "", order[4], order[2], 0, counters[1])]
        assert isinstance(cmd, PlaceOrder)
        seq, ts, order_id, user, symbol = cmd.seq, cmd.ts, cmd.order_id, cmd.user, cmd.market
        side, kind, tif, price, qty = cmd.side, cmd.type, cmd.tif, cmd.price, cmd.qty
        client_id = cmd.client_order_id
        balances = accounts.get(user)
        buy = side is BUY
        if balances is None or balances[0 if buy else 2] < (price * qty if buy else qty):
            return [(CancelRejected, seq, ts, order_id, user, "", UNKNOWN)]
        if buy:
            balances[0] -= price * qty
            balances[1] += price * qty
        else:
            balances[2] -= qty
            balances[3] += qty
        out: list[Any] = [(OrderAccepted, seq, ts, order_id, user, symbol, side, kind, tif,
                           price, qty, 0, client_id)]
        keys, levels, sign, maker_side = ((ask_keys, asks, 1, SELL) if buy
                                          else (bid_keys, bids, -1, BUY))
        limit = price * sign
        while qty and keys and keys[0] <= limit:
            at = keys[0] * sign
            queue = levels[at]
            while qty and queue:
                maker = queue[0]
                if not maker[1]:
                    queue.popleft()
                    continue
                fill = min(qty, maker[1])
                qty -= fill
                maker[1] -= fill
                notional = at * fill
                theirs = maker[5]
                if buy:  # the maker sold base it held; the taker paid less than it held
                    theirs[3] -= fill
                    theirs[0] += notional
                    balances[1] -= price * fill
                    balances[0] += price * fill - notional
                    balances[2] += fill
                else:
                    theirs[1] -= notional
                    theirs[2] += fill
                    balances[3] -= fill
                    balances[0] += notional
                counters[0] += 1
                out.append((TradeExecuted, seq, ts, symbol, counters[0], at, fill, side,
                            maker[0], maker[3], order_id, user, 0, 0))
                if not maker[1]:
                    queue.popleft()
                    del orders[maker[0]]
                    out.append((OrderDone, seq, ts, maker[0], maker[3], symbol, maker[4]))
            counters[1] += 1
            out.append((LevelChanged, seq, symbol, maker_side, at, 0, counters[1]))
            if not queue:
                del levels[at]
                heappop(keys)
            while keys and keys[0] * sign not in levels:
                heappop(keys)
        if not qty:
            out.append((OrderDone, seq, ts, order_id, user, symbol, side))
            return out
        own_keys, own_levels, own_sign = (bid_keys, bids, -1) if buy else (ask_keys, asks, 1)
        resting = own_levels.get(price)
        if resting is None:
            resting = own_levels[price] = deque()
            heappush(own_keys, price * own_sign)
        order = [order_id, qty, price, user, side, balances]
        resting.append(order)
        orders[order_id] = order
        counters[1] += 1
        out.append((LevelChanged, seq, symbol, side, price, qty, counters[1]))
        return out

    return execute


@dataclass(frozen=True, slots=True)
class EngineFloor:
    name: str
    orders_per_sec: float  # the best of the repeats
    trades: int


def engine_floor(name: str, factory: Callable[[], Execute], commands: Sequence[Command],
                 repeats: int) -> EngineFloor:
    """Time `commands` through fresh books from `factory`, with the services' GC settings."""
    best = 0.0
    trades = 0
    for _ in range(repeats):
        execute = factory()
        tune_gc()
        trades = 0
        start = time.perf_counter()
        for cmd in commands:
            events = execute(cmd)
            if len(events) > 2:  # as `bench engine` counts: only a taker has more
                for event in events:
                    # A typed event is its class; a plain one carries it first.
                    if event.__class__ is TradeExecuted or (
                            event.__class__ is tuple and event[0] is TradeExecuted):
                        trades += 1
        best = max(best, len(commands) / (time.perf_counter() - start))
        del execute
        gc.unfreeze()
        gc.collect()
    return EngineFloor(name, best, trades)


# ---- transport ------------------------------------------------------------------------

ORDER = {"op": "place", "market": "COIN-USD", "side": "buy", "type": "limit",
         "price": "99.50", "qty": "1.5", "req": 0}
UPDATE = orjson.dumps({"type": "order", "order_id": 1, "status": "new", "price": "99.50",
                       "qty": "1.5", "filled": "0"}).decode()


def serve(port: int, messages: int) -> None:
    """Answer every request on /ws with `messages` messages, doing no other work."""
    import uvicorn  # noqa: PLC0415 - only the server process needs it
    from starlette.applications import Starlette  # noqa: PLC0415
    from starlette.routing import WebSocketRoute  # noqa: PLC0415
    from starlette.websockets import WebSocket, WebSocketDisconnect  # noqa: PLC0415

    async def answer(ws: WebSocket) -> None:
        await ws.accept()
        try:
            while True:
                request = orjson.loads(await ws.receive_text())
                for _ in range(messages - 1):
                    await ws.send_text(UPDATE)
                await ws.send_text(orjson.dumps({"type": "placed", "req": request["req"],
                                                 "order_id": 1}).decode())
        except WebSocketDisconnect:
            pass

    app = Starlette(routes=[WebSocketRoute("/ws", answer)])
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", ws="websockets-sansio",
                http="httptools", lifespan="off", loop="uvloop")


@dataclass(frozen=True, slots=True)
class TransportFloor:
    messages_per_request: int
    connections: int
    window: int
    requests_per_sec: float
    server_cpu_us_per_request: float


async def _drive(url: str, connections: int, window: int, seconds: float,
                 server: int) -> tuple[float, float]:
    """Keep `window` requests in flight on each connection; return the answers per second
    and the CPU seconds process `server` spent per answer, both over the measured window."""
    from websockets.asyncio.client import connect  # noqa: PLC0415

    answered = [0]
    running = [True]

    async def one() -> None:
        async with connect(url, compression=None, ping_interval=None, max_queue=256) as ws:
            request: dict[str, Any] = dict(ORDER)
            for req in range(window):
                request["req"] = req
                await ws.send(orjson.dumps(request), text=True)
            async for message in ws:
                if orjson.loads(message)["type"] != "placed":
                    continue
                answered[0] += 1
                if not running[0]:
                    return
                request["req"] += 1
                await ws.send(orjson.dumps(request), text=True)

    tasks = [asyncio.create_task(one()) for _ in range(connections)]
    await asyncio.sleep(1.0)  # warm up
    first, start, cpu = answered[0], time.perf_counter(), _cpu_seconds(server)
    await asyncio.sleep(seconds)
    count = answered[0] - first
    rate = count / (time.perf_counter() - start)
    cpu_per_answer = (_cpu_seconds(server) - cpu) / max(count, 1)
    running[0] = False
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return rate, cpu_per_answer


def transport_floor(messages: int, seconds: float, connections: int = 50,
                    window: int = 32) -> TransportFloor:
    """Start a do-nothing server process, drive it flat out, and measure both sides."""
    import uvloop  # noqa: PLC0415 - only the driving process needs it

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "exchange.bench.floor", str(port), str(messages)],
        stdout=subprocess.DEVNULL)
    try:
        _wait_for(port)
        rate, cpu = uvloop.run(_drive(f"ws://127.0.0.1:{port}/ws", connections, window,
                                      seconds, server.pid))
    finally:
        server.terminate()
        server.wait(10)
    return TransportFloor(messages, connections, window, rate, cpu * 1e6)


def _wait_for(port: int) -> None:
    deadline = time.monotonic() + 20
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def _cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process so far (Linux)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True, slots=True)
class FloorResult:
    orders: int
    engine: list[EngineFloor]
    transport: list[TransportFloor]
    peak_rss_mb: float


def run(orders: int, repeats: int, transport_seconds: float) -> FloorResult:
    commands = workload(orders, seed=1)[USERS:]
    engine = [
        engine_floor("book + the core's events, no risk", named_events_no_risk, commands,
                     repeats),
        engine_floor("book + plain-tuple events + least risk", plain_events_least_risk,
                     commands, repeats),
    ]
    transport = [transport_floor(messages, transport_seconds) for messages in (1, 3)]
    return FloorResult(orders, engine, transport,
                       resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


if __name__ == "__main__":  # the transport floor's server process: PORT MESSAGES
    serve(int(sys.argv[1]), int(sys.argv[2]))
