"""Binance's market-data WebSocket streams: `/ws`, `/ws/<stream>` and
`/stream?streams=<a>/<b>` (combined: each message wrapped as `{"stream", "data"}`).

A client names streams in the path or subscribes with `{"method": "SUBSCRIBE", "params":
[...], "id": n}` (also UNSUBSCRIBE and LIST_SUBSCRIPTIONS); stream names are the lower-case
symbol and a kind: `@trade`, `@aggTrade`, `@kline_<interval>`, `@depth` (and
`@depth@100ms`: diffs numbered `U`..`u` by the book's version, as `GET depth`'s
`lastUpdateId` is), `@depth5|10|20` (partial books), `@bookTicker`, `@ticker`,
`@miniTicker`, `@avgPrice`; and for every market `!ticker@arr`, `!miniTicker@arr`,
`!bookTicker`. Updates go out as each batch of the exchange is folded, once rendered for
all subscribers, through the same non-blocking push as the page's socket (`web.hub`).
"""

import re
from collections.abc import Callable
from typing import Any

import orjson
from fastapi import APIRouter, WebSocket

from exchange.binance.klines import INTERVALS, merge
from exchange.binance.shapes import Shapes, binance_symbol
from exchange.binance.shapes import ticker as ticker_row
from exchange.core.markets import Market
from exchange.core.types import Side
from exchange.services.readmodels import MarketChanges, UserChanges
from exchange.services.views import MarketView, Views
from exchange.web.auth import now_ms
from exchange.web.hub import Connection, hold_open

router = APIRouter()
MAX_STREAMS = 1024  # per connection, as Binance allows
_KINDS = re.compile(r"^(trade|aggTrade|kline_(\w+)|depth(5|10|20)?(@100ms|@1000ms)?|"
                    r"bookTicker|ticker|miniTicker|avgPrice)$")
_ALL = ("!ticker@arr", "!miniTicker@arr", "!bookTicker")
_MAX_FRAME = 64 * 1024


class Listener(Connection):
    """A stream socket: its streams (as 1-tuples in `channels`), and whether combined."""

    def __init__(self, push: Any, combined: bool) -> None:
        super().__init__(push)
        self.combined = combined


class StreamHub:
    """Who listens to which stream; each batch's messages rendered once for them all."""

    def __init__(self, shapes: Shapes) -> None:
        self.shapes = shapes
        self.subscribers: dict[str, set[Listener]] = {}
        self._lower = {symbol.lower(): market for symbol, market in shapes.markets.items()}

    def known(self, stream: str) -> bool:
        if stream in _ALL:
            return True
        symbol, at, kind = stream.partition("@")
        found = _KINDS.match(kind) if at else None
        if symbol not in self._lower or found is None:
            return False
        interval = found.group(2)
        return interval is None or interval in INTERVALS

    def add(self, listener: Listener, stream: str) -> None:
        self.subscribers.setdefault(stream, set()).add(listener)
        listener.channels.add((stream,))

    def remove(self, listener: Listener, stream: str) -> None:
        found = self.subscribers.get(stream)
        if found is not None:
            found.discard(listener)
            if not found:
                del self.subscribers[stream]
        listener.channels.discard((stream,))

    def drop(self, listener: Listener) -> None:
        for (stream,) in list(listener.channels):
            self.remove(listener, stream)

    def _publish(self, stream: str, data: Any) -> None:
        listeners = self.subscribers.get(stream)
        if not listeners:
            return
        raw = combined = ""
        for listener in listeners:
            if listener.combined:
                combined = combined or orjson.dumps({"stream": stream, "data": data}).decode()
                listener.push(combined)
            else:
                raw = raw or orjson.dumps(data).decode()
                listener.push(raw)

    def on_batch(self, markets: dict[str, MarketChanges], users: dict[int, UserChanges],
                 views: Views) -> None:
        """Render and push what one batch changed (called on the event loop)."""
        if not self.subscribers or not markets:
            return
        now = now_ms()
        tickers: list[tuple[dict[str, Any], dict[str, Any]]] = []
        books: list[dict[str, Any]] = []
        for symbol, changes in markets.items():
            market = self.shapes.config.market(symbol)
            view = views.markets[symbol]
            name = binance_symbol(market).lower()
            if changes.trades:
                self._trades(name, market, changes, now)
                self._klines(name, market, view, now)
                tickers.append(self._tickers(name, market, view, now))
            if changes.levels:
                books.append(self._depth(name, market, view, changes, now))
        if tickers and "!ticker@arr" in self.subscribers:
            self._publish("!ticker@arr", [t for t, _ in tickers])
        if tickers and "!miniTicker@arr" in self.subscribers:
            self._publish("!miniTicker@arr", [m for _, m in tickers])
        for book in books:
            self._publish("!bookTicker", book)

    def _trades(self, name: str, market: Market, changes: MarketChanges, now: int) -> None:
        f = self.shapes.format(market)
        symbol = binance_symbol(market)
        for trade_id, price, qty, taker_side, time_ms in changes.trades:
            buyer_maker = taker_side == Side.SELL
            if f"{name}@trade" in self.subscribers:
                self._publish(f"{name}@trade", {
                    "e": "trade", "E": now, "s": symbol, "t": trade_id, "p": f.price(price),
                    "q": f.qty(qty), "T": time_ms, "m": buyer_maker, "M": True})
            if f"{name}@aggTrade" in self.subscribers:
                self._publish(f"{name}@aggTrade", {
                    "e": "aggTrade", "E": now, "s": symbol, "a": trade_id,
                    "p": f.price(price), "q": f.qty(qty), "f": trade_id, "l": trade_id,
                    "T": time_ms, "m": buyer_maker, "M": True})

    def _klines(self, name: str, market: Market, view: MarketView, now: int) -> None:
        f = self.shapes.format(market)
        for interval, (_, source) in INTERVALS.items():
            stream = f"{name}@kline_{interval}"
            if stream not in self.subscribers or not view.candles[source]:
                continue
            begin, finish, c = merge(list(view.candles[source])[-31:], interval)[-1]
            self._publish(stream, {"e": "kline", "E": now, "s": binance_symbol(market), "k": {
                "t": begin * 1000, "T": finish * 1000 - 1, "s": binance_symbol(market),
                "i": interval, "f": -1, "L": -1, "o": f.price(c[1]), "c": f.price(c[4]),
                "h": f.price(c[2]), "l": f.price(c[3]), "v": f.qty(c[5]), "n": c[11],
                "x": finish * 1000 <= now, "q": f.quote(c[6]), "V": f.qty(c[7]),
                "Q": f.quote(c[8]), "B": "0"}})

    def _tickers(self, name: str, market: Market, view: MarketView,
                 now: int) -> tuple[dict[str, Any], dict[str, Any]]:
        t = view.ticker(now)
        row = ticker_row(self.shapes, market, t, view.depth(Side.BUY, 1),
                         view.depth(Side.SELL, 1), list(view.trades)[:1], now)
        full = {"e": "24hrTicker", "E": now, "s": row["symbol"], "p": row["priceChange"],
                "P": row["priceChangePercent"], "w": row["weightedAvgPrice"],
                "x": row["prevClosePrice"], "c": row["lastPrice"], "Q": row["lastQty"],
                "b": row["bidPrice"], "B": row["bidQty"], "a": row["askPrice"],
                "A": row["askQty"], "o": row["openPrice"], "h": row["highPrice"],
                "l": row["lowPrice"], "v": row["volume"], "q": row["quoteVolume"],
                "O": row["openTime"], "C": row["closeTime"], "F": row["firstId"],
                "L": row["lastId"], "n": row["count"]}
        mini = {"e": "24hrMiniTicker", "E": now, "s": row["symbol"], "c": row["lastPrice"],
                "o": row["openPrice"], "h": row["highPrice"], "l": row["lowPrice"],
                "v": row["volume"], "q": row["quoteVolume"]}
        self._publish(f"{name}@ticker", full)
        self._publish(f"{name}@miniTicker", mini)
        if f"{name}@avgPrice" in self.subscribers:
            self._publish(f"{name}@avgPrice", {"e": "avgPrice", "E": now, "s": row["symbol"],
                                               "i": "5m", "w": row["weightedAvgPrice"],
                                               "T": now})
        return full, mini

    def _depth(self, name: str, market: Market, view: MarketView, changes: MarketChanges,
               now: int) -> dict[str, Any]:
        render = self.shapes.render.levels
        symbol = market.symbol
        diff = {"e": "depthUpdate", "E": now, "s": binance_symbol(market),
                "U": changes.prev_version + 1, "u": changes.version,
                "b": render(symbol, sorted(((p, q) for (s, p), q in changes.levels.items()
                                            if s == Side.BUY), reverse=True)),
                "a": render(symbol, sorted((p, q) for (s, p), q in changes.levels.items()
                                           if s == Side.SELL))}
        for speed in ("", "@100ms", "@1000ms"):
            self._publish(f"{name}@depth{speed}", diff)
        for levels in (5, 10, 20):
            for speed in ("", "@100ms", "@1000ms"):
                stream = f"{name}@depth{levels}{speed}"
                if stream in self.subscribers:
                    self._publish(stream, {
                        "lastUpdateId": changes.version,
                        "bids": render(symbol, view.depth(Side.BUY, levels)),
                        "asks": render(symbol, view.depth(Side.SELL, levels))})
        bids, asks = view.depth(Side.BUY, 1), view.depth(Side.SELL, 1)
        f = self.shapes.format(market)
        book = {"u": changes.version, "s": binance_symbol(market),
                "b": f.price(bids[0][0]) if bids else f.price(0),
                "B": f.qty(bids[0][1]) if bids else f.qty(0),
                "a": f.price(asks[0][0]) if asks else f.price(0),
                "A": f.qty(asks[0][1]) if asks else f.qty(0)}
        self._publish(f"{name}@bookTicker", book)
        return book


@router.websocket("/ws")
@router.websocket("/ws/{path:path}")
async def raw(websocket: WebSocket, path: str = "") -> None:
    # A path that names streams subscribes to them; any other (ccxt.pro's /ws/<n>) none.
    await _serve(websocket, [s for s in path.split("/") if s], combined=False)


@router.websocket("/stream")
async def combined(websocket: WebSocket) -> None:
    streams = websocket.query_params.get("streams", "")
    await _serve(websocket, [s for s in streams.split("/") if s], combined=True)


async def _serve(websocket: WebSocket, named: list[str], *, combined: bool) -> None:
    hub: StreamHub = websocket.app.state.binance_streams

    def made(push: Callable[[str], bool]) -> Listener:
        return Listener(push, combined)

    def opened(listener: Connection) -> None:
        assert isinstance(listener, Listener)
        for stream in named[:MAX_STREAMS]:
            if hub.known(stream):
                hub.add(listener, stream)

    def on_frame(listener: Connection, text: str | None) -> None:
        assert isinstance(listener, Listener)
        _request(hub, listener, text)

    def leave(listener: Connection) -> None:
        assert isinstance(listener, Listener)
        hub.drop(listener)

    await hold_open(websocket, made, on_frame, leave, opened)


def _request(hub: StreamHub, listener: Listener, text: str | None) -> None:
    """Answer SUBSCRIBE, UNSUBSCRIBE and LIST_SUBSCRIPTIONS as Binance does."""
    if text is None or len(text) > _MAX_FRAME:
        listener.push_json({"error": {"code": 3, "msg": "Invalid JSON: expected a text "
                                      "frame of at most 64 KiB"}, "id": None})
        return
    try:
        message = orjson.loads(text)
    except orjson.JSONDecodeError:
        listener.push_json({"error": {"code": 3, "msg": "Invalid JSON"}, "id": None})
        return
    request_id = message.get("id") if isinstance(message, dict) else None
    if not isinstance(request_id, int | str) or isinstance(request_id, bool):
        request_id = None
    method = message.get("method") if isinstance(message, dict) else None
    params = message.get("params", []) if isinstance(message, dict) else None
    if method == "LIST_SUBSCRIPTIONS":
        listener.push_json({"result": sorted(s for (s,) in listener.channels),
                            "id": request_id})
        return
    if method not in ("SUBSCRIBE", "UNSUBSCRIBE") or not isinstance(params, list) or not all(
            isinstance(p, str) for p in params):
        listener.push_json({"error": {"code": 2, "msg": "Invalid request: expected "
                                      "SUBSCRIBE, UNSUBSCRIBE or LIST_SUBSCRIPTIONS with a "
                                      "list of stream names"}, "id": request_id})
        return
    unknown = [p for p in params if not hub.known(p)]
    if unknown:
        listener.push_json({"error": {"code": 2, "msg": f"Invalid request: unknown stream "
                                      f"{unknown[0]!r}"}, "id": request_id})
        return
    if method == "SUBSCRIBE" and len(listener.channels | {(p,) for p in params}) > MAX_STREAMS:
        listener.push_json({"error": {"code": 2, "msg": f"Invalid request: at most "
                                      f"{MAX_STREAMS} streams a connection"},
                            "id": request_id})
        return
    for stream in params:
        (hub.add if method == "SUBSCRIBE" else hub.remove)(listener, stream)
    listener.push_json({"result": None, "id": request_id})
