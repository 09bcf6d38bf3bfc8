"""Binance's public market data under /api/v3: ping, time, exchangeInfo, depth, trades,
aggTrades, klines, avgPrice and the tickers."""

from typing import Any

import orjson
from starlette.requests import Request

from exchange.binance.errors import BinanceError, illegal
from exchange.binance.klines import INTERVALS, merge, source_limit
from exchange.binance.params import Params
from exchange.binance.routes import Routes
from exchange.binance.shapes import Shapes, binance_symbol
from exchange.binance.shapes import ticker as ticker_row
from exchange.core.markets import Market
from exchange.core.types import Side
from exchange.web.auth import now_ms
from exchange.web.context import Context

routes = Routes()  # under /api/v3 (see `binance.routes`)
RATE_LIMITS = [
    {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 6000},
    {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 100},
    {"rateLimitType": "ORDERS", "interval": "DAY", "intervalNum": 1, "limit": 200_000},
]


def services(request: Request) -> tuple[Context, Shapes]:
    return request.app.state.ctx, request.app.state.binance


@routes.add("GET", "/ping")
async def ping(request: Request) -> dict[str, Any]:
    return {}


@routes.add("GET", "/time")
async def time(request: Request) -> dict[str, Any]:
    return {"serverTime": now_ms()}


@routes.add("GET", "/exchangeInfo")
async def exchange_info(request: Request) -> dict[str, Any]:
    _, shapes = services(request)
    params = await Params.of(request)
    markets = _markets(shapes, params, all_by_default=True)
    return {"timezone": "UTC", "serverTime": now_ms(), "rateLimits": RATE_LIMITS,
            "exchangeFilters": [], "symbols": [shapes.symbol_info(m) for m in markets]}


@routes.add("GET", "/depth")
async def depth(request: Request) -> dict[str, Any]:
    ctx, shapes = services(request)
    params = await Params.of(request)
    market = shapes.market(params.need("symbol"))
    limit = params.integer("limit", 100, low=1, high=5000)
    assert limit is not None
    version, bids, asks = await ctx.models.depth(market.symbol, limit)
    levels = ctx.render.levels
    return {"lastUpdateId": version, "bids": levels(market.symbol, bids),
            "asks": levels(market.symbol, asks)}


async def _trades(ctx: Context, market: Market, params: Params) -> list[list[int]]:
    """Recent trades, oldest first: [trade id, price, qty, taker side, time ms]."""
    limit = params.integer("limit", 500, low=1, high=1000)
    assert limit is not None
    trades = await ctx.models.trades(market.symbol, 1000)
    first = params.integer("fromId")
    if first is not None:
        trades = [t for t in trades if t[0] >= first]
        return list(reversed(trades))[:limit]
    return list(reversed(trades[:limit]))


@routes.add("GET", "/trades", "/historicalTrades")
async def trades(request: Request) -> list[dict[str, Any]]:
    ctx, shapes = services(request)
    params = await Params.of(request)
    market = shapes.market(params.need("symbol"))
    f = shapes.format(market)
    return [{"id": trade_id, "price": f.price(price), "qty": f.qty(qty),
             "quoteQty": f.quote(price * qty * market.quote_scale), "time": time_ms,
             "isBuyerMaker": taker_side == Side.SELL, "isBestMatch": True}
            for trade_id, price, qty, taker_side, time_ms in await _trades(ctx, market, params)]


@routes.add("GET", "/aggTrades")
async def agg_trades(request: Request) -> list[dict[str, Any]]:
    """Each trade is its own aggregate: the core reports one per resting order met."""
    ctx, shapes = services(request)
    params = await Params.of(request)
    market = shapes.market(params.need("symbol"))
    f = shapes.format(market)
    found = await _trades(ctx, market, params)
    start, end = params.integer("startTime"), params.integer("endTime")
    return [{"a": trade_id, "p": f.price(price), "q": f.qty(qty), "f": trade_id,
             "l": trade_id, "T": time_ms, "m": taker_side == Side.SELL, "M": True}
            for trade_id, price, qty, taker_side, time_ms in found
            if (start is None or time_ms >= start) and (end is None or time_ms <= end)]


@routes.add("GET", "/klines", "/uiKlines")
async def klines(request: Request) -> list[list[Any]]:
    ctx, shapes = services(request)
    params = await Params.of(request)
    market = shapes.market(params.need("symbol"))
    interval = params.need("interval")
    if interval not in INTERVALS:
        raise BinanceError(-1120, "Invalid interval.")
    limit = params.integer("limit", 500, low=1, high=1000)
    assert limit is not None
    start, end = params.integer("startTime"), params.integer("endTime")
    candles = await ctx.models.candles(market.symbol, INTERVALS[interval][1],
                                       source_limit(interval, limit))
    f = shapes.format(market)
    rows = []
    for begin, finish, c in merge(candles, interval):
        if (start is not None and begin * 1000 < start) or (
                end is not None and begin * 1000 > end):
            continue
        rows.append([begin * 1000, f.price(c[1]), f.price(c[2]), f.price(c[3]),
                     f.price(c[4]), f.qty(c[5]), finish * 1000 - 1, f.quote(c[6]), c[11],
                     f.qty(c[7]), f.quote(c[8]), "0"])
    return rows[:limit] if start is not None else rows[-limit:]


@routes.add("GET", "/avgPrice")
async def avg_price(request: Request) -> dict[str, Any]:
    ctx, shapes = services(request)
    params = await Params.of(request)
    market = shapes.market(params.need("symbol"))
    candles = await ctx.models.candles(market.symbol, 60, 5)
    since = now_ms() // 1000 - 300
    window = [c for c in candles if c[0] >= since]
    volume, quote = sum(c[5] for c in window), sum(c[6] for c in window)
    f = shapes.format(market)
    price = f.average_price(quote, volume) if volume else f.price(0)
    close = (window[-1][0] + 60) * 1000 - 1 if window else now_ms()
    return {"mins": 5, "price": price, "closeTime": close}


@routes.add("GET", "/ticker/24hr", "/ticker", "/ticker/tradingDay")
async def ticker(request: Request) -> Any:
    """The last 24 hours (for every window asked: the views count 24 hours)."""
    ctx, shapes = services(request)
    params = await Params.of(request)
    single = params.get("symbol") is not None
    now = now_ms()
    rows = []
    for market in _markets(shapes, params, all_by_default=request.url.path.endswith("24hr")):
        _, bids, asks = await ctx.models.depth(market.symbol, 1)
        rows.append(ticker_row(shapes, market, await ctx.models.ticker(market.symbol, now),
                               bids, asks, await ctx.models.trades(market.symbol, 1), now))
    return rows[0] if single else rows


@routes.add("GET", "/ticker/price")
async def ticker_price(request: Request) -> Any:
    ctx, shapes = services(request)
    params = await Params.of(request)
    rows = []
    for market in _markets(shapes, params, all_by_default=True):
        recent = await ctx.models.trades(market.symbol, 1)
        f = shapes.format(market)
        rows.append({"symbol": binance_symbol(market),
                     "price": f.price(recent[0][1]) if recent else f.price(0)})
    return rows[0] if params.get("symbol") else rows


@routes.add("GET", "/ticker/bookTicker")
async def book_ticker(request: Request) -> Any:
    ctx, shapes = services(request)
    params = await Params.of(request)
    rows = []
    for market in _markets(shapes, params, all_by_default=True):
        _, bids, asks = await ctx.models.depth(market.symbol, 1)
        f = shapes.format(market)
        rows.append({"symbol": binance_symbol(market),
                     "bidPrice": f.price(bids[0][0]) if bids else f.price(0),
                     "bidQty": f.qty(bids[0][1]) if bids else f.qty(0),
                     "askPrice": f.price(asks[0][0]) if asks else f.price(0),
                     "askQty": f.qty(asks[0][1]) if asks else f.qty(0)})
    return rows[0] if params.get("symbol") else rows


def _markets(shapes: Shapes, params: Params, *, all_by_default: bool) -> list[Market]:
    """The markets named by `symbol` or `symbols` (a JSON list), or all of them."""
    one, many = params.get("symbol"), params.get("symbols")
    if one is not None and many is not None:
        raise BinanceError(-1128, "Combination of optional parameters invalid.")
    if one is not None:
        return [shapes.market(one)]
    if many is not None:
        try:
            names = orjson.loads(many)
        except orjson.JSONDecodeError:
            raise illegal("symbols", '["SYMBOL", ...]') from None
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise illegal("symbols", '["SYMBOL", ...]')
        return [shapes.market(name) for name in names]
    if not all_by_default:
        raise BinanceError(-1102, "Mandatory parameter 'symbol' was not sent, was "
                                  "empty/null, or malformed.")
    return list(shapes.markets.values())
