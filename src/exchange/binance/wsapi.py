"""Binance's WebSocket API at `/ws-api/v3`: the signed operations of /api/v3 as methods
over one socket, and the user data stream.

A request is `{"id", "method", "params"}`; the answer `{"id", "status": 200, "result",
"rateLimits"}` or `{"id", "status": 4xx, "error": {"code", "msg"}, "rateLimits"}`. Each
request is signed in its `params` (`apiKey`, `timestamp`, `signature`: see `params`), or
not at all after `session.logon` with an Ed25519 key, as Binance has it. Requests run
concurrently, each in a task of its own, as on the page's socket.
"""

import logging
from collections.abc import Coroutine
from typing import Any

import orjson
from fastapi import APIRouter, WebSocket

from exchange.binance import trade
from exchange.binance.errors import BinanceError, translated
from exchange.binance.params import Params, Signer, signed
from exchange.binance.shapes import Shapes
from exchange.binance.userdata import UserStreams
from exchange.web.context import Context
from exchange.web.hub import Connection, hold_open

router = APIRouter()
log = logging.getLogger(__name__)
_MAX_FRAME = 64 * 1024
# method: (operation, whether it trades)
METHODS: dict[str, tuple[trade.Operation, bool]] = {
    "account.status": (trade.account, False),
    "account.commission": (trade.commission, False),
    "order.place": (trade.place, True),
    "order.test": (trade.test_order, True),
    "order.status": (trade.get_order, False),
    "order.cancel": (trade.cancel, True),
    "openOrders.status": (trade.open_orders, False),
    "openOrders.cancelAll": (trade.cancel_open_orders, True),
    "allOrders": (trade.all_orders, False),
    "myTrades": (trade.my_trades, False),
}
_RATE_LIMITS = [{"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1,
                 "limit": 6000, "count": 1}]


class Session(Connection):
    """One WebSocket API connection: who logged on (Ed25519), and its pushes."""

    def __init__(self, push: Any) -> None:
        super().__init__(push)
        self.signer: Signer | None = None


@router.websocket("/ws-api/v3")
async def socket(websocket: WebSocket) -> None:
    ctx: Context = websocket.app.state.ctx
    shapes: Shapes = websocket.app.state.binance
    users: UserStreams = websocket.app.state.binance_users

    def on_frame(session: Connection, text: str | None) -> Coroutine[Any, Any, None]:
        assert isinstance(session, Session)
        return _handle(ctx, shapes, users, session, text)  # each in a task: `hold_open`

    def leave(session: Connection) -> None:
        users.unsubscribe(session)

    await hold_open(websocket, Session, on_frame, leave)


async def _handle(ctx: Context, shapes: Shapes, users: UserStreams, session: Session,
                  text: str | None) -> None:
    request_id: Any = None
    try:
        if text is None or len(text) > _MAX_FRAME:
            raise BinanceError(-1135, "Invalid JSON Request")
        try:
            message = orjson.loads(text)
        except orjson.JSONDecodeError:
            raise BinanceError(-1135, "Invalid JSON Request") from None
        if not isinstance(message, dict):
            raise BinanceError(-1135, "Invalid JSON Request")
        request_id = message.get("id")
        if not isinstance(request_id, str | int) or isinstance(request_id, bool):
            request_id = None
        params = message.get("params", {})
        if not isinstance(params, dict):
            raise BinanceError(-1130, "Data sent for parameter 'params' is not valid.")
        result = await _call(ctx, shapes, users, session, message.get("method"),
                             Params.of_json(params))
        answer = {"id": request_id, "status": 200, "result": result,
                  "rateLimits": _RATE_LIMITS}
    except BinanceError as error:
        answer = {"id": request_id, "status": error.status,
                  "error": {"code": error.code, "msg": error.msg}, "rateLimits": _RATE_LIMITS}
    except Exception:  # a fault of ours: say so rather than leave the request unanswered
        log.exception("WebSocket API request %r failed", request_id)
        answer = {"id": request_id, "status": 500,
                  "error": {"code": -1000, "msg": "An unknown error occurred while "
                            "processing the request."}, "rateLimits": _RATE_LIMITS}
    session.push_json(answer)


async def _call(ctx: Context, shapes: Shapes, users: UserStreams, session: Session,
                method: Any, params: Params) -> Any:
    if method == "session.logon":
        signer = await signed(params.get("apiKey"), params, ctx.accounts, trade=False)
        key = ctx.accounts.signing_key(signer.key_id)
        if key is None or key.public is None:
            raise BinanceError(-4056, "HMAC_SHA256 API key is not supported.")
        session.signer = signer
        return {"apiKey": signer.key_id, "authorizedSince": params.integer("timestamp"),
                "userDataStream": False}
    if method == "session.logout":
        session.signer = None
        return {"apiKey": None}
    if method in ("userDataStream.subscribe", "userDataStream.subscribe.signature"):
        signer = await _signer(ctx, session, params, trade=False,
                               signature=method.endswith(".signature"))
        return {"subscriptionId": users.subscribe(session, signer.user, signer.key_id)}
    if method == "userDataStream.unsubscribe":
        subscription = params.integer("subscriptionId")
        if not users.unsubscribe(session, subscription):
            raise BinanceError(-2011, "No such subscription.")
        return {}
    if method == "ping":
        return {}
    if method not in METHODS:
        raise BinanceError(-1020, "This operation is not supported.")
    operation, trades = METHODS[method]
    signer = await _signer(ctx, session, params, trade=trades, signature=True)
    return await translated(operation(trade.Call(ctx, shapes, params, signer)))


async def _signer(ctx: Context, session: Session, params: Params, *, trade: bool,
                  signature: bool) -> Signer:
    """A logged-on session's signer for a request signed by none, else the signature's."""
    if session.signer is not None and params.get("signature") is None:
        if ctx.accounts.signing_key(session.signer.key_id) is None:  # revoked since
            session.signer = None
            raise BinanceError(-2015, "Invalid API-key, IP, or permissions for action.", 401)
        if trade and not session.signer.trade:
            raise BinanceError(-2015, "Invalid API-key, IP, or permissions for action.", 401)
        return session.signer
    if not signature:
        raise BinanceError(-2015, "Invalid API-key, IP, or permissions for action.", 401)
    return await signed(params.get("apiKey"), params, ctx.accounts, trade=trade)
