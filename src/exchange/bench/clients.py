"""One benchmark user: a WebSocket session that places and cancels orders and times answers.

A `Trader` keeps its own resting order ids and draws each request from a seeded mix:
about 70 % limit orders resting a few ticks from a fixed mid price, 25 % cancels of one of
its resting orders, 5 % immediate-or-cancel orders priced through the spread, which trade.
A trader with `MAX_OPEN` resting orders cancels one instead of placing another resting
one, so the starting grant ($1000, 100 COIN) lasts however long the run; from then on its
mix tends to as many cancels as places, as the book can only stop growing that way.

Latency is recorded in microseconds from a request's start (see `Trader.send`): to its
`placed` answer (ack), to its `cancelled` answer (cancel), and to the first `fill` event in
which the order was the taker (fill; only orders that trade on arrival). A fill may reach
the account channel before or after the `placed` answer; both orders are handled. Every
trader of a process records into one `Tally`, which only counts requests started inside
the measured window.
"""

import asyncio
import time
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal
from random import Random

import orjson
from hdrh.histogram import HdrHistogram  # type: ignore[import-untyped]
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, WebSocketException
from websockets.typing import Origin

MID = 400  # ticks of 0.01: 4.00 USD
RESTING_TICKS = 10  # resting orders sit 1..10 ticks behind the mid price
CROSSING_TICKS = 5  # crossing orders reach 1..5 ticks through it
MIN_LOTS, MAX_LOTS = 100, 1_000  # lots of 0.0001: 0.01 .. 0.1 COIN
MAX_OPEN = 1_000  # at the cap, about 28 COIN and $110 are held on average
REQUEST_TIMEOUT_NS = 10_000_000_000
HISTOGRAM_MAX_US = 60_000_000
# What the exchange refuses on its own terms: counted as rejected, not as errors.
REFUSALS = frozenset({
    "insufficient_funds", "duplicate_client_order_id", "post_only_would_take",
    "fok_cannot_fill", "order_not_in_book", "unknown_order",
})
LIVE = frozenset({"new", "partially_filled"})
QUIET = frozenset({"balances", "orders", "subscribed", "pong"})


def new_histogram() -> HdrHistogram:
    """Return a histogram of 1 µs .. 60 s at 3 significant digits."""
    return HdrHistogram(1, HISTOGRAM_MAX_US, 3)


def _price(ticks: int) -> str:
    return f"{ticks // 100}.{ticks % 100:02d}"


def _quantity(lots: int) -> str:
    return f"{lots // 10_000}.{lots % 10_000:04d}"


@dataclass(frozen=True, slots=True)
class Account:
    index: int  # position among all the run's users: seeds the user's workload
    user_id: int
    session: str  # the `session` cookie from sign-up
    csrf: str  # the CSRF token a cookie-authenticated REST change must carry


class Tally:
    """Counters and latency histograms of one process, for requests started in the window."""

    def __init__(self) -> None:
        self.begin_ns = self.end_ns = 0  # the measured window; empty until it starts
        self.ack, self.fill, self.cancel = new_histogram(), new_histogram(), new_histogram()
        self.places = self.cancels = 0
        self.acks = self.rejected = self.errors = 0
        self.answered = 0  # answers (acks and refusals) that arrived inside the window
        self.all_answered = 0  # every answer, warm-up and drain included
        self.fills = 0  # fill events that arrived inside the window
        self.codes: Counter[str] = Counter()  # refusals and errors by code

    def measures(self, start_ns: int) -> bool:
        """Tell whether a moment lies inside the measured window."""
        return self.begin_ns <= start_ns < self.end_ns

    def record(self, histogram: HdrHistogram, start_ns: int, now_ns: int) -> None:
        """Record the time from `start_ns` to `now_ns` in microseconds."""
        histogram.record_value(min(max((now_ns - start_ns) // 1000, 1), HISTOGRAM_MAX_US))

    def error(self, code: str) -> None:
        """Count an error: a transport failure, a timeout, a server fault, a stray message."""
        self.errors += 1
        self.codes[code] += 1


class Trader:
    """One user's WebSocket: sends orders and cancels, reads answers and account events."""

    def __init__(self, account: Account, market: str, rng: Random, tally: Tally) -> None:
        self.account, self.market, self.rng, self.tally = account, market, rng, tally
        self.ws: ClientConnection | None = None
        self.alive = False
        self.next_req = 0
        self.pending: dict[int, tuple[int, bool]] = {}  # req -> (start, is a place)
        self.open: list[int] = []  # resting order ids, in no order
        self.open_at: dict[int, int] = {}  # order id -> its index in `open`
        self.awaiting_fill: dict[int, int] = {}  # order id -> start, for orders that took
        self.early_fills: dict[int, int] = {}  # order id -> arrival of a taker fill
        self.room = asyncio.Event()  # set whenever a request is answered
        self.reader: asyncio.Task[None] | None = None

    async def connect(self, ws_url: str, origin: str) -> None:
        """Open the WebSocket with the session cookie and subscribe to the account channel."""
        ws = await connect(
            ws_url, additional_headers={"Cookie": f"session={self.account.session}"},
            origin=Origin(origin), compression=None, ping_interval=None, max_queue=256,
        )
        await ws.send(orjson.dumps({"op": "subscribe", "channel": "account", "req": 0}),
                      text=True)
        async with asyncio.timeout(10):
            while True:
                message = orjson.loads(await ws.recv(decode=False))
                if message.get("type") == "subscribed":
                    break
                if message.get("type") == "error":
                    raise RuntimeError(f"user {self.account.user_id}: subscribing to the "
                                       f"account channel failed: {message}")
        self.ws, self.alive = ws, True
        self.reader = asyncio.create_task(self._listen(ws))

    async def close(self) -> None:
        """Close the WebSocket and stop reading."""
        self.alive = False
        if self.ws is not None:
            await self.ws.close()
        if self.reader is not None:
            await self.reader

    def _next_request(self) -> tuple[dict[str, object], bool]:
        rng = self.rng
        roll = rng.random()
        if self.open and (roll < 0.25 or (roll >= 0.30 and len(self.open) >= MAX_OPEN)):
            # Any resting order may go; forgetting it now keeps it from being cancelled twice.
            order_id = self.open[rng.randrange(len(self.open))]
            self._forget(order_id)
            return {"op": "cancel", "order_id": order_id}, False
        buy = rng.random() < 0.5
        if 0.25 <= roll < 0.30:
            offset, tif = -rng.randint(1, CROSSING_TICKS), "ioc"
        else:
            offset, tif = rng.randint(1, RESTING_TICKS), "gtc"
        order = {
            "market": self.market, "side": "buy" if buy else "sell", "type": "limit",
            "time_in_force": tif, "price": _price(MID - offset if buy else MID + offset),
            "quantity": _quantity(rng.randint(MIN_LOTS, MAX_LOTS)),
        }
        return {"op": "place", "order": order}, True

    async def send(self, intended_ns: int) -> None:
        """Send the next request, timed from `intended_ns` or from now, whichever is first.

        At a fixed rate a request is timed from its slot in the timetable even when the
        load generator sends it late, so a stall shows up in the latency of every request
        it delays rather than vanishing (no coordinated omission); a request sent early
        is timed from when it was sent.
        """
        tally = self.tally
        now = time.perf_counter_ns()
        start = min(intended_ns, now)
        measured = tally.measures(start)
        if not self.alive or self.ws is None:
            if measured:
                tally.error("connection_closed")
            return
        request, is_place = self._next_request()
        self.next_req += 1
        request["req"] = self.next_req
        self.pending[self.next_req] = (start, is_place)
        if measured:
            if is_place:
                tally.places += 1
            else:
                tally.cancels += 1
        await self._transmit(request)

    async def _transmit(self, request: dict[str, object]) -> None:
        assert self.ws is not None
        try:
            await self.ws.send(orjson.dumps(request), text=True)
        except ConnectionClosed:
            self._lost()

    async def _listen(self, ws: ClientConnection) -> None:
        try:
            while True:
                data = await ws.recv(decode=False)
                try:
                    message = orjson.loads(data)
                except orjson.JSONDecodeError:
                    self.tally.error("malformed_message")
                    continue
                self._handle(message, time.perf_counter_ns())
        except (ConnectionClosed, WebSocketException):
            self._lost()

    def _forget(self, order_id: int) -> None:
        index = self.open_at.pop(order_id, None)
        if index is not None:
            last = self.open.pop()
            if last != order_id:
                self.open[index] = last
                self.open_at[last] = index

    def _lost(self) -> None:
        if self.alive:
            self.tally.error("connection_closed")
        self.alive = False
        for start, _ in self.pending.values():
            if self.tally.measures(start):
                self.tally.error("connection_closed")
        self.pending.clear()
        self.awaiting_fill.clear()
        self.room.set()

    def _handle(self, message: dict[str, object], now: int) -> None:
        tally = self.tally
        kind = message.get("type")
        if kind in QUIET:
            return
        if kind == "order":
            order = message["order"]
            assert isinstance(order, dict)
            if order["status"] not in LIVE:
                self._forget(order["order_id"])
            return
        if kind == "fill":
            fill = message["fill"]
            assert isinstance(fill, dict)
            if tally.measures(now):
                tally.fills += 1
            if fill["liquidity"] == "taker":
                order_id = fill["order_id"]
                start = self.awaiting_fill.pop(order_id, None)
                if start is not None:
                    if tally.measures(start):
                        tally.record(tally.fill, start, now)
                elif order_id not in self.early_fills:
                    self.early_fills[order_id] = now
            return
        request = message.get("req")
        entry = self.pending.pop(request, None) if isinstance(request, int) else None
        if entry is None:
            # An answer to a request already counted as timed out is no news.
            late = isinstance(request, int) and 0 < request <= self.next_req
            if not late and tally.measures(now):
                tally.error(f"unexpected_{kind}")
            return
        self.room.set()
        tally.all_answered += 1
        start, is_place = entry
        measured = tally.measures(start)
        if measured and tally.measures(now):
            tally.answered += 1
        if kind == "placed" and is_place:
            order = message["order"]
            assert isinstance(order, dict)
            order_id = order["order_id"]
            if order["status"] in LIVE and order_id not in self.open_at:
                self.open_at[order_id] = len(self.open)
                self.open.append(order_id)
            if Decimal(order["filled"]):  # a decimal string; never a float
                arrived = self.early_fills.pop(order_id, None)
                if arrived is None:
                    self.awaiting_fill[order_id] = start
                elif measured:
                    tally.record(tally.fill, start, arrived)
            if measured:
                tally.acks += 1
                tally.record(tally.ack, start, now)
        elif kind == "cancelled" and not is_place:
            if measured:
                tally.acks += 1
                tally.record(tally.cancel, start, now)
        elif kind == "error":
            error = message.get("error")
            code = str(error.get("code")) if isinstance(error, dict) else "malformed_error"
            if code in REFUSALS:
                if measured:
                    tally.rejected += 1
                    tally.codes[code] += 1
            elif measured:
                tally.error(code)
        elif measured:
            tally.error(f"unexpected_{kind}")

    def expire(self, now: int, timeout_ns: int = REQUEST_TIMEOUT_NS) -> None:
        """Count requests unanswered for too long as timeouts; forget stale early fills."""
        cutoff = now - timeout_ns
        for request, (start, _) in list(self.pending.items()):
            if start < cutoff:
                del self.pending[request]
                if self.tally.measures(start):
                    self.tally.error("timeout")
                self.room.set()
        for table in (self.awaiting_fill, self.early_fills):
            for order_id, moment in list(table.items()):
                if moment < cutoff:
                    del table[order_id]

    def busy(self) -> bool:
        """Tell whether a measured request or fill is still awaited."""
        measures = self.tally.measures
        return any(measures(start) for start, _ in self.pending.values()) or any(
            measures(start) for start in self.awaiting_fill.values())
