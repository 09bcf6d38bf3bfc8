"""Live push: who listens to what, and one rendering of each change for all of them.

The gateway reports each batch's changes once; the hub renders each channel's message
once and queues the same text to every subscriber. Each connection has its own queue
and writer, so a slow client never holds up the others; one that falls too far behind
is disconnected (it can reconnect and take a fresh snapshot).
"""

import asyncio
from collections.abc import Callable
from typing import Any

import orjson

from exchange.services.readmodels import MarketChanges, UserChanges
from exchange.services.views import INTERVALS
from exchange.web.auth import now_ms
from exchange.web.render import Render

MAX_QUEUED = 10_000
Channel = tuple[str, ...]  # ("depth", market), ("candles", market, "1m"), ("account", user)
_SECONDS = {seconds: name for name, seconds in INTERVALS.items()}


class Connection:
    """One WebSocket's outgoing queue."""

    def __init__(self, send: Callable[[str], Any]) -> None:
        self.queue: asyncio.Queue[str] = asyncio.Queue()
        self.channels: set[Channel] = set()
        self.user: int | None = None
        self._send = send
        # Set when the client fell MAX_QUEUED messages behind: its socket is then closed
        # without waiting for it, and nothing more is queued for it.
        self.overflowed = asyncio.Event()

    def push(self, text: str) -> None:
        if self.overflowed.is_set():
            return
        if self.queue.qsize() >= MAX_QUEUED:
            self.overflowed.set()
            return
        self.queue.put_nowait(text)

    def push_json(self, message: dict[str, Any]) -> None:
        self.push(orjson.dumps(message).decode())

    async def write(self) -> None:
        """Writer task: send queued messages in order until cancelled."""
        queue, send = self.queue, self._send
        while True:
            await send(await queue.get())
            # A batch queues several messages at once (an order, its fills, balances):
            # send them without a trip through the queue's waiting for each.
            while queue.qsize():
                await send(queue.get_nowait())


class Hub:
    def __init__(self, render: Render) -> None:
        self.render = render
        self.subscribers: dict[Channel, set[Connection]] = {}

    def add(self, connection: Connection, channel: Channel) -> None:
        self.subscribers.setdefault(channel, set()).add(connection)
        connection.channels.add(channel)

    def remove(self, connection: Connection, channel: Channel) -> None:
        subscribers = self.subscribers.get(channel)
        if subscribers is not None:
            subscribers.discard(connection)
            if not subscribers:
                del self.subscribers[channel]
        connection.channels.discard(channel)

    def drop(self, connection: Connection) -> None:
        for channel in list(connection.channels):
            self.remove(connection, channel)

    def _publish(self, channel: Channel, message: dict[str, Any]) -> None:
        subscribers = self.subscribers.get(channel)
        if subscribers:
            text = orjson.dumps(message).decode()
            for connection in subscribers:
                connection.push(text)

    def on_batch(self, markets: dict[str, MarketChanges], users: dict[int, UserChanges],
                 views: Any) -> None:
        """Render and queue what one batch changed (called on the event loop)."""
        render = self.render
        for symbol, changes in markets.items():
            view = views.markets[symbol]
            if changes.levels and ("depth", symbol) in self.subscribers:
                bids = sorted(((p, q) for (s, p), q in changes.levels.items() if s == 1),
                              reverse=True)
                asks = sorted((p, q) for (s, p), q in changes.levels.items() if s == 2)
                self._publish(("depth", symbol), {
                    "type": "depth", "market": symbol, "snapshot": False,
                    "prev_version": changes.prev_version, "version": changes.version,
                    "bids": render.levels(symbol, bids), "asks": render.levels(symbol, asks)})
            if changes.trades:
                self._publish(("trades", symbol), {
                    "type": "trades", "market": symbol,
                    "trades": [render.trade(symbol, t) for t in changes.trades]})
            for (seconds, _), candle in changes.candles.items():
                interval = _SECONDS[seconds]
                self._publish(("candles", symbol, interval), {
                    "type": "candle", "market": symbol, "interval": interval,
                    "candle": render.candle(symbol, candle)})
            if ("ticker", symbol) in self.subscribers:
                self._publish(("ticker", symbol),
                              {"type": "ticker",
                               **render.ticker(symbol, view.ticker(now_ms()))})
        for user, changed in users.items():
            channel = ("account", str(user))
            if channel not in self.subscribers:
                continue
            for order in changed.orders.values():
                self._publish(channel, {"type": "order", "order": render.order(order)})
            for fill in changed.fills:
                self._publish(channel, {"type": "fill", "fill": render.fill(fill)})
            if changed.balances is not None:
                self._publish(channel, {"type": "balances",
                                        "balances": render.balances(changed.balances)})
