"""Public market data: markets, depth, trades, candles, ticker, and the server's status."""

import os
import time
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query

from exchange.core import build
from exchange.runtime import PAUSES
from exchange.services.views import INTERVALS
from exchange.web.auth import now_ms
from exchange.web.context import Context, context
from exchange.web.orders import market_of
from exchange.web.schemas import ErrorBody

router = APIRouter(prefix="/api/v1", tags=["market data"],
                   responses={400: {"model": ErrorBody}, 404: {"model": ErrorBody}})
Ctx = Annotated[Context, Depends(context)]
Symbol = Annotated[str, "market symbol"]


@router.get("/markets")
async def markets(ctx: Ctx) -> list[dict[str, Any]]:
    """List the markets and their rules (tick, lot, sizes, fees)."""
    return [ctx.render.market(m) for m in ctx.config.markets]


@router.get("/markets/{symbol}/depth")
async def depth(ctx: Ctx, symbol: Symbol,
          limit: Annotated[int, Query(ge=1, le=500)] = 50) -> dict[str, Any]:
    """Aggregated order book: bids high to low, asks low to high."""
    market_of(ctx.config, symbol)
    version, bids, asks = await ctx.models.depth(symbol, limit)
    return {"market": symbol, "version": version, "bids": ctx.render.levels(symbol, bids),
            "asks": ctx.render.levels(symbol, asks)}


@router.get("/markets/{symbol}/trades")
async def trades(ctx: Ctx, symbol: Symbol,
           limit: Annotated[int, Query(ge=1, le=500)] = 100) -> list[dict[str, Any]]:
    """Recent trades, newest first."""
    market_of(ctx.config, symbol)
    return [ctx.render.trade(symbol, t) for t in await ctx.models.trades(symbol, limit)]


@router.get("/markets/{symbol}/candles")
async def candles(ctx: Ctx, symbol: Symbol,
            interval: Literal["1m", "5m", "1h", "1d"] = "1m",
            limit: Annotated[int, Query(ge=1, le=1000)] = 500) -> list[dict[str, Any]]:
    """Candles oldest first; volumes split by the taker's side."""
    market_of(ctx.config, symbol)
    series = await ctx.models.candles(symbol, INTERVALS[interval], limit)
    return [ctx.render.candle(symbol, c) for c in series]


@router.get("/markets/{symbol}/ticker")
async def ticker(ctx: Ctx, symbol: Symbol) -> dict[str, Any]:
    """The last 24 hours: last, open, high, low, volume, change; best bid and ask."""
    market_of(ctx.config, symbol)
    return ctx.render.ticker(symbol, await ctx.models.ticker(symbol, now_ms()))


@router.get("/status", tags=["server"])
async def status(ctx: Ctx, gc_since: Annotated[float | None, Query(ge=0)] = None,
                 ) -> dict[str, Any]:
    """Liveness, the server's memory and the CPU time it has used (all its threads), and
    which build of the core runs (`compiled` by mypyc, or `interpreted`); while
    the exchange restores its state on start, `"status": "restoring"` and how far along.

    `clock_s` is the server's uptime in seconds; `?gc_since=S` adds the lengths (ms) of
    the collector's pauses since uptime S, as `gc_pauses_ms` (for `exchange bench load`).
    """
    driver = ctx.gateway.driver
    clock = time.monotonic() - ctx.started
    answer: dict[str, Any] = {
        "status": "ok", "uptime_s": int(clock), "clock_s": round(clock, 3),
        "rss_bytes": _rss_bytes(), "cpu_s": round(time.process_time(), 6), "core": build()}
    if gc_since is not None:
        answer["gc_pauses_ms"] = [round(ms, 3) for ms in PAUSES.since(ctx.started + gc_since)]
    if driver.ready:
        answer["users"] = await ctx.models.users()
    return {**answer, **driver.status()}


def _rss_bytes() -> int | None:
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None
