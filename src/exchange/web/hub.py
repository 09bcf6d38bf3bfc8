"""Live push: who listens to what, and one rendering of each change for all of them.

The gateway reports each batch's changes once; the hub renders each channel's message
once and pushes the same text to every subscriber. A push never waits: the socket keeps
it for one write at the end of the loop's turn (`wsprotocol`), so a slow client never
holds up the others; one that falls too far behind is disconnected (it can reconnect
and take a fresh snapshot).
"""

import asyncio
import contextlib
from collections.abc import Callable, Coroutine
from typing import Any

import orjson
from fastapi import WebSocket

from exchange.services.readmodels import MarketChanges, UserChanges
from exchange.services.views import INTERVALS, OrderView
from exchange.web.auth import now_ms
from exchange.web.render import Render
from exchange.web.wsprotocol import FRAMES, PUSH

Channel = tuple[str, ...]  # ("depth", market), ("candles", market, "1m"), ("account", user)
_SECONDS = {seconds: name for name, seconds in INTERVALS.items()}


class Connection:
    """One WebSocket's subscriptions, and the way to push to it."""

    def __init__(self, push: Callable[[str], bool]) -> None:
        self.channels: set[Channel] = set()
        self.user: int | None = None
        self._push = push
        # Set once a push was refused (the client fell too far behind, or left): its
        # socket is then closed without waiting for it, and nothing more is sent to it.
        self.overflowed = asyncio.Event()

    def push(self, text: str) -> None:
        if not self.overflowed.is_set() and not self._push(text):
            self.overflowed.set()

    def push_json(self, message: dict[str, Any]) -> None:
        self.push(orjson.dumps(message).decode())


async def hold_open(websocket: WebSocket, make: Callable[[Callable[[str], bool]], Connection],
                    on_frame: Callable[[Connection, str | None], Coroutine[Any, Any, None] | None],
                    leave: Callable[[Connection], None],
                    opened: Callable[[Connection], None] | None = None) -> None:
    """Serve one socket: make its connection around the push of `wsprotocol`, hand each
    frame to `on_frame` as it comes, call `opened` once the handshake is done (nothing may
    be pushed before), and when the client leaves (or falls so far behind that it must
    start over) call `leave` and close.

    A frame whose handling `on_frame` returns as a coroutine runs in a task of its own,
    so that requests run concurrently; those still running when the socket ends are
    cancelled."""
    extensions = websocket.scope["extensions"]
    push, take_frames = extensions.get(PUSH), extensions.get(FRAMES)
    if push is None or take_frames is None:
        raise RuntimeError("serve the app with exchange.web.wsprotocol.CoalescingProtocol")
    connection = make(push)
    requests: set[asyncio.Task[None]] = set()

    def take(text: str | None) -> None:
        work = on_frame(connection, text)
        if work is not None:
            task = asyncio.create_task(work)
            requests.add(task)
            task.add_done_callback(requests.discard)

    take_frames(take)  # before the accept: no frame can come earlier
    await websocket.accept()
    if opened is not None:
        opened(connection)
    gone = asyncio.create_task(websocket.receive())  # frames go to on_frame: this is the end
    overflow = asyncio.create_task(connection.overflowed.wait())
    try:
        await asyncio.wait((gone, overflow), return_when=asyncio.FIRST_COMPLETED)
    finally:
        leave(connection)
        for task in (gone, overflow, *requests):
            task.cancel()
        await asyncio.gather(gone, overflow, return_exceptions=True)
    if connection.overflowed.is_set():
        # A client that does not read may never take the close frame: do not wait long.
        with contextlib.suppress(Exception):
            await asyncio.wait_for(websocket.close(1008, "too slow: reconnect"), 1.0)


class Hub:
    def __init__(self, render: Render) -> None:
        self.render = render
        self.subscribers: dict[Channel, set[Connection]] = {}
        # The orders the last batch pushed, as rendered: the answer to the request that
        # changed one says the same, and need not render it again. Views change only in
        # batches, each of which replaces this, so what is here is current.
        self._orders: dict[int, dict[str, Any]] = {}

    def order(self, order: OrderView) -> dict[str, Any]:
        """Render an order, as the last batch's push did if it pushed it."""
        rendered = self._orders.get(order.order_id)
        return rendered if rendered is not None else self.render.order(order)

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
        orders = self._orders = {}
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
            if changes.trades and ("trades", symbol) in self.subscribers:
                self._publish(("trades", symbol), {
                    "type": "trades", "market": symbol,
                    "trades": [render.trade(symbol, t) for t in changes.trades]})
            for (seconds, _), candle in changes.candles.items():
                interval = _SECONDS[seconds]
                if ("candles", symbol, interval) in self.subscribers:
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
                rendered = orders[order.order_id] = render.order(order)
                self._publish(channel, {"type": "order", "order": rendered})
            for fill in changed.fills:
                self._publish(channel, {"type": "fill", "fill": render.fill(fill)})
            if changed.balances is not None:
                self._publish(channel, {"type": "balances",
                                        "balances": render.balances(changed.balances)})
