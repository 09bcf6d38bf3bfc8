"""The WebSocket API: subscriptions to market data and to your account, and trading.

One socket, JSON text frames (see docs/api.md). Requests are handled concurrently: a
`place` waits for the exchange's answer in its own task, so a client may have many
orders in flight on one connection; answers carry the request's `req`.
"""

import re
from collections.abc import Callable, Coroutine
from typing import Any

import orjson
from fastapi import APIRouter, WebSocket
from pydantic import ValidationError

from exchange.core.types import Side
from exchange.services.gateway import NoAnswer, Refused, Unavailable
from exchange.services.views import INTERVALS
from exchange.web.auth import SESSION_COOKIE, now_ms
from exchange.web.context import Context
from exchange.web.errors import ApiError, no_answer, refused, unavailable
from exchange.web.hub import Channel, Connection, Hub, hold_open
from exchange.web.orders import market_of, parse_place
from exchange.web.schemas import CLIENT_ORDER_ID, PlaceOrderBody

router = APIRouter()
_MARKET_CHANNELS = ("depth", "trades", "ticker", "candles")
_MAX_FRAME = 64 * 1024


@router.websocket("/api/v1/ws")
async def socket(websocket: WebSocket) -> None:
    ctx: Context = websocket.app.state.ctx
    hub: Hub = websocket.app.state.hub
    user = None
    token = websocket.cookies.get(SESSION_COOKIE)
    if token:
        session = ctx.accounts.session(token, now_ms())
        user = session.user if session else None

    def made(push: Callable[[str], bool]) -> Connection:
        connection = Connection(push)
        connection.user = user
        return connection

    def on_frame(connection: Connection, text: str | None) -> Coroutine[Any, Any, None]:
        return _handle(ctx, hub, connection, text)  # each in a task: see `hold_open`

    await hold_open(websocket, made, on_frame, hub.drop)


async def _handle(ctx: Context, hub: Hub, connection: Connection, text: str | None) -> None:
    req: Any = None
    try:
        if text is None:
            raise ApiError(400, "invalid_json", "send requests as JSON in text frames")
        if len(text) > _MAX_FRAME:
            raise ApiError(400, "invalid_json", f"a frame may be at most {_MAX_FRAME} bytes")
        try:
            message = orjson.loads(text)
        except orjson.JSONDecodeError:
            raise ApiError(400, "invalid_json", "the frame is not valid JSON") from None
        if not isinstance(message, dict):
            raise ApiError(400, "invalid_json", "a request is a JSON object")
        req = message.get("req")
        if req is not None and (not isinstance(req, int) or isinstance(req, bool)):
            req = None
            raise ApiError(400, "invalid_field", "req must be an integer", "req")
        reply = await _dispatch(ctx, hub, connection, message)
    except ApiError as error:
        reply = {"type": "error", **error.body()}
    except Refused as error:
        reply = {"type": "error", **refused(error).body()}
    except NoAnswer as error:
        reply = {"type": "error", **no_answer(error).body()}
    except Unavailable as error:
        reply = {"type": "error", **unavailable(error).body()}
    if reply is not None:
        if req is not None:
            reply["req"] = req
        connection.push_json(reply)


async def _dispatch(ctx: Context, hub: Hub, connection: Connection,
                    message: dict[str, Any]) -> dict[str, Any] | None:
    op = message.get("op")
    if op == "place":
        user = _user(connection)
        try:
            body = PlaceOrderBody.model_validate(message.get("order"))
        except ValidationError as error:
            raise _invalid(error, "order") from None
        order = await ctx.gateway.place(user, *parse_place(ctx.config, body))
        return {"type": "placed", "order": hub.order(order)}
    if op == "cancel":
        user = _user(connection)
        order_id, client_id = message.get("order_id"), message.get("client_order_id")
        if isinstance(order_id, int) and not isinstance(order_id, bool) and order_id > 0:
            order = await ctx.gateway.cancel(user, order_id)
        elif isinstance(client_id, str) and _is_client_id(client_id):
            order = await ctx.gateway.cancel(user, 0, client_id)
        else:
            raise ApiError(400, "invalid_field", "give a positive order_id or a client_order_id",
                           "order_id")
        return {"type": "cancelled", "order": hub.order(order)}
    if op in ("subscribe", "unsubscribe"):
        channel = _channel(ctx, connection, message)
        if op == "unsubscribe":
            hub.remove(connection, channel)
            return {"type": "unsubscribed", "channel": channel[0]}
        hub.add(connection, channel)
        connection.push_json({"type": "subscribed", "channel": channel[0],
                              **({"market": channel[1]} if channel[0] != "account" else {}),
                              **({"req": message["req"]} if "req" in message else {})})
        for snapshot in _snapshots(ctx, channel):
            connection.push_json(snapshot)
        return None
    if op == "auth":
        key = message.get("key")
        found = ctx.accounts.authenticate_key(key) if isinstance(key, str) else None
        if found is None:
            raise ApiError(401, "unauthenticated", "the API key is not valid")
        connection.user = found
        return {"type": "authenticated", "user_id": found}
    if op == "ping":
        return {"type": "pong"}
    raise ApiError(400, "invalid_field", "op must be one of subscribe, unsubscribe, place, "
                   "cancel, auth, ping", "op")


def _user(connection: Connection) -> int:
    if connection.user is None:
        raise ApiError(401, "unauthenticated", "log in, or send {\"op\": \"auth\", \"key\": ...}")
    return connection.user


def _is_client_id(text: str) -> bool:
    return re.fullmatch(CLIENT_ORDER_ID, text) is not None


def _invalid(error: ValidationError, prefix: str) -> ApiError:
    first = error.errors()[0]
    field = ".".join(str(p) for p in first.get("loc", ())) or prefix
    code = "missing_field" if first.get("type") == "missing" else "invalid_field"
    return ApiError(400, code, f"{field}: {first.get('msg', 'invalid')}", field)


def _channel(ctx: Context, connection: Connection, message: dict[str, Any]) -> Channel:
    name = message.get("channel")
    if name == "account":
        return ("account", str(_user(connection)))
    if name not in _MARKET_CHANNELS:
        raise ApiError(400, "invalid_field", "channel must be one of depth, trades, ticker, "
                       "candles, account", "channel")
    market = message.get("market")
    if market is None:
        raise ApiError(400, "missing_field", "market is required", "market")
    if not isinstance(market, str):
        raise ApiError(400, "invalid_field", "market must be a string", "market")
    market_of(ctx.config, market)
    if name == "candles":
        interval = message.get("interval", "1m")
        # A string first: a list or an object is not hashable, and the lookup would raise.
        if not isinstance(interval, str) or interval not in INTERVALS:
            raise ApiError(400, "invalid_field", "interval must be 1m, 5m, 1h or 1d",
                           "interval")
        return ("candles", market, interval)
    return (name, market)


def _snapshots(ctx: Context, channel: Channel) -> list[dict[str, Any]]:
    """What a new subscriber gets at once, consistent with the deltas that follow."""
    render, views = ctx.render, ctx.gateway.views
    kind = channel[0]
    if kind == "account":
        user = int(channel[1])
        return [{"type": "balances", "balances": render.balances(views.user(user).balances)},
                {"type": "orders",
                 "orders": [render.order(o) for o in views.open_orders(user)]}]
    symbol = channel[1]
    view = views.markets[symbol]
    if kind == "depth":
        # The whole book: deltas come for every level, so a snapshot cut at some depth would
        # leave the client without the levels past the cut once the best ones trade away.
        return [{"type": "depth", "market": symbol, "snapshot": True, "version": view.version,
                 "bids": render.levels(symbol, view.depth(Side.BUY, len(view.bids))),
                 "asks": render.levels(symbol, view.depth(Side.SELL, len(view.asks)))}]
    if kind == "trades":
        recent = list(view.trades)[:100]
        return [{"type": "trades", "market": symbol,
                 "trades": [render.trade(symbol, t) for t in reversed(recent)]}]
    if kind == "ticker":
        return [{"type": "ticker", **render.ticker(symbol, view.ticker(now_ms()))}]
    interval = channel[2]
    series = list(view.candles[INTERVALS[interval]])[-500:]
    return [{"type": "candles", "market": symbol, "interval": interval,
             "candles": [render.candle(symbol, c) for c in series]}]
