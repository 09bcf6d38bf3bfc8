"""Binance's signed endpoints under /api/v3: the account, orders and trades.

Each is a thin adapter: it reads Binance's parameters, checks the signature
(`params.signed`), and calls the gateway and the read models as `/api/v1` does. Nothing
here decides anything about orders or money.
"""

import re
import secrets
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any, NamedTuple

from starlette.requests import Request

from exchange.binance.errors import (
    UNKNOWN_ORDER,
    BinanceError,
    illegal,
    missing,
    rejected,
)
from exchange.binance.market import services
from exchange.binance.params import Params, Signer, signed
from exchange.binance.routes import Routes
from exchange.binance.shapes import (
    ORDER_TYPES,
    SIDES,
    STP_MODES,
    TIFS,
    Shapes,
    binance_symbol,
)
from exchange.core.markets import Market
from exchange.core.numbers import InvalidNumber
from exchange.core.types import OrderType, SelfTrade, Side, TimeInForce, Trigger
from exchange.services.views import CANCELLED, FILLED, OrderView
from exchange.web.auth import now_ms
from exchange.web.context import Context
from exchange.web.render import Units

routes = Routes()  # under /api/v3 (see `binance.routes`)
_DECIMAL = re.compile(r"^[0-9]{1,20}(\.[0-9]{1,20})?$")
_CLIENT_ID = re.compile(r"^[.A-Z:/a-z0-9_-]{1,36}$")
_PPM = Units(Decimal("0.000001"))
_FILLS = 1000  # recent fills searched for an order's own in a FULL answer
_NOT_YET = {"icebergQty": "Iceberg orders are not supported for this symbol.",
            "trailingDelta": "Trailing stop orders are not supported for this symbol."}


class Call(NamedTuple):
    """A signed request, by REST or over the WebSocket API: what an operation needs."""

    ctx: Context
    shapes: Shapes
    params: Params
    signer: Signer


Operation = Callable[[Call], Awaitable[Any]]


# ---- the account ----------------------------------------------------------------------

async def account(call: Call) -> dict[str, Any]:
    ctx, _, _, signer = call
    balances = await ctx.models.balances(signer.user)
    maker, taker = _rates(ctx.config.markets[0]) if ctx.config.markets else ("0", "0")
    rows = []
    for asset in ctx.config.assets:
        units = ctx.render.assets[asset.code]
        free, locked = balances.get(asset.code, (0, 0))
        rows.append({"asset": asset.code, "free": units(free), "locked": units(locked)})
    first = ctx.config.markets[0] if ctx.config.markets else None
    return {
        "makerCommission": first.maker_fee_ppm // 100 if first else 0,
        "takerCommission": first.taker_fee_ppm // 100 if first else 0,
        "buyerCommission": 0, "sellerCommission": 0,
        "commissionRates": {"maker": maker, "taker": taker, "buyer": "0", "seller": "0"},
        "canTrade": signer.trade, "canWithdraw": False, "canDeposit": False,
        "brokered": False, "requireSelfTradePrevention": False, "preventSor": False,
        "updateTime": now_ms(), "accountType": "SPOT", "balances": rows,
        "permissions": ["SPOT"], "uid": signer.user}


async def commission(call: Call) -> dict[str, Any]:
    _, shapes, params, _ = call
    market = shapes.market(params.need("symbol"))
    maker, taker = _rates(market)
    zero = {"maker": "0", "taker": "0", "buyer": "0", "seller": "0"}
    return {"symbol": binance_symbol(market),
            "standardCommission": {"maker": maker, "taker": taker, "buyer": "0",
                                   "seller": "0"},
            "specialCommission": zero, "taxCommission": zero,
            "discount": {"enabledForAccount": False, "enabledForSymbol": False,
                         "discountAsset": "", "discount": "0"}}


def _rates(market: Market) -> tuple[str, str]:
    return _PPM(market.maker_fee_ppm), _PPM(market.taker_fee_ppm)


# ---- placing ----------------------------------------------------------------------------

class NewOrder:
    """A `POST /api/v3/order`'s parameters, checked and in the core's units."""

    def __init__(self, shapes: Shapes, params: Params) -> None:
        self.market = market = shapes.market(params.need("symbol"))
        self.side = SIDES[params.choice("side", tuple(SIDES))]
        name = params.need("type")
        if name not in ORDER_TYPES:
            raise BinanceError(-1116, "Invalid orderType.")
        self.name = name
        self.kind, self.trigger = ORDER_TYPES[name]
        limit = self.kind is OrderType.LIMIT
        tif = params.get("timeInForce")
        if limit and name != "LIMIT_MAKER":
            if tif is None:
                raise missing("timeInForce")
            if tif not in TIFS:
                raise BinanceError(-1115, "Invalid timeInForce.")
            self.tif = TIFS[tif]
        elif tif is not None:
            raise not_required("timeInForce")
        else:
            self.tif = TimeInForce.POST_ONLY if limit else TimeInForce.IOC
        self.stop = 0
        if self.trigger is not Trigger.NONE:
            self.stop = _units(market.parse_price, _decimal(params, "stopPrice"), "PRICE_FILTER")
        elif params.get("stopPrice") is not None:
            raise not_required("stopPrice")
        for extra, refusal in _NOT_YET.items():
            if params.get(extra) is not None:
                raise rejected(refusal)
        self.price = self.qty = self.quote = 0
        quantity, quote = params.get("quantity"), params.get("quoteOrderQty")
        if not limit:
            if params.get("price") is not None:
                raise not_required("price")
            if (quantity is None) == (quote is None):
                raise BinanceError(-1102, "Param 'quantity' or 'quoteOrderQty' must be sent, "
                                          "but both were empty/null!")
            if quote is not None and self.side is Side.SELL:
                raise rejected("Quote order qty market orders are not support for this "
                               "symbol.")
        else:
            self.price = _units(market.parse_price, _decimal(params, "price"), "PRICE_FILTER")
            quantity = params.need("quantity")
            if quote is not None:
                raise not_required("quoteOrderQty")
        if quantity is not None:
            self.qty = _units(market.parse_qty, _decimal(params, "quantity"), "LOT_SIZE")
        if quote is not None:
            self.quote = _units(market.parse_quote, _decimal(params, "quoteOrderQty"),
                                "NOTIONAL")
        client_id = params.get("newClientOrderId")
        if client_id is not None and not _CLIENT_ID.match(client_id):
            raise illegal("newClientOrderId", "^[\\.A-Z\\:/a-z0-9_-]{1,36}$")
        # Binance makes one when none is sent: every order can be named by client id.
        self.client_id = client_id or "web_" + secrets.token_urlsafe(16).replace("-", "_")
        self.stp = STP_MODES[params.choice("selfTradePreventionMode", tuple(STP_MODES),
                                           "EXPIRE_TAKER")]
        # Binance's default: a full answer for limit and market orders, an ACK for others.
        full = "FULL" if name in ("LIMIT", "MARKET") else "ACK"
        self.response = params.choice("newOrderRespType", ("ACK", "RESULT", "FULL"), full)


def not_required(name: str) -> BinanceError:
    return BinanceError(-1106, f"Parameter '{name}' sent when not required.")


def _decimal(params: Params, name: str) -> str:
    value = params.need(name)
    if not _DECIMAL.match(value):
        raise illegal(name, "^([0-9]{1,20})(\\.[0-9]{1,20})?$")
    return value


def _units(parse: Any, value: str, filter_name: str) -> int:
    try:
        units: int = parse(value)
    except InvalidNumber:
        raise BinanceError(-1013, f"Filter failure: {filter_name}") from None
    return units


async def place(call: Call) -> dict[str, Any]:
    ctx, shapes, params, signer = call
    new = NewOrder(shapes, params)
    order = await ctx.gateway.place(signer.user, new.market.symbol, new.side, new.kind,
                                    new.tif, new.price, new.qty, new.quote, new.client_id,
                                    new.stp, new.stop, new.trigger)
    answer: dict[str, Any] = {"symbol": binance_symbol(new.market), "orderId": order.order_id,
                              "orderListId": -1, "clientOrderId": order.client_order_id,
                              "transactTime": order.created}
    if new.response == "ACK":
        return answer
    full = shapes.order(order)
    for name in ("price", "origQty", "executedQty", "origQuoteOrderQty",
                 "cummulativeQuoteQty", "status", "timeInForce", "type", "side",
                 "workingTime"):
        answer[name] = full[name]
    if new.trigger is not Trigger.NONE:
        answer["stopPrice"] = full["stopPrice"]
    answer["selfTradePreventionMode"] = _stp_name(new.stp)
    if new.response == "FULL":
        fills = await ctx.models.fills(signer.user, new.market.symbol, _FILLS)
        answer["fills"] = [shapes.fill(f) for f in reversed(fills) if f[2] == order.order_id]
    return answer


async def test_order(call: Call) -> dict[str, Any]:
    _, shapes, params, _ = call
    NewOrder(shapes, params)
    return {}


def _stp_name(stp: SelfTrade) -> str:
    return next(name for name, mode in STP_MODES.items() if mode is stp)


# ---- orders -----------------------------------------------------------------------------

async def _named(ctx: Context, shapes: Shapes, params: Params, user: int) -> OrderView:
    """The order `orderId` or `origClientOrderId` names in `symbol`; -2013 if none."""
    market = shapes.market(params.need("symbol"))
    order_id = params.integer("orderId", low=1)
    client_id = params.get("origClientOrderId")
    if order_id is None and client_id is None:
        raise BinanceError(-1102, "Param 'origClientOrderId' or 'orderId' must be sent, "
                                  "but both were empty/null!")
    found: OrderView | None = None
    if order_id is not None:
        found = await ctx.models.order(user, order_id)
    else:
        candidates = await ctx.models.open_orders(user, market.symbol)
        candidates += await ctx.models.closed_orders(user, market.symbol, 500)
        found = next((o for o in candidates if o.client_order_id == client_id), None)
    if found is None or found.market != market.symbol or (
            client_id is not None and found.client_order_id != client_id):
        raise BinanceError(-2013, "Order does not exist.")
    return found


async def get_order(call: Call) -> dict[str, Any]:
    ctx, shapes, params, signer = call
    return shapes.order(await _named(ctx, shapes, params, signer.user))


async def cancel(call: Call) -> dict[str, Any]:
    ctx, shapes, params, signer = call
    try:
        named = await _named(ctx, shapes, params, signer.user)
    except BinanceError as error:
        if error.code == -2013:
            raise BinanceError(-2011, UNKNOWN_ORDER) from None
        raise
    if named.status in (FILLED, CANCELLED):
        raise BinanceError(-2011, UNKNOWN_ORDER)
    order = await ctx.gateway.cancel(signer.user, named.order_id)
    return _cancelled(shapes, order)


def _cancelled(shapes: Shapes, order: OrderView) -> dict[str, Any]:
    shown = shapes.order(order)
    return {"symbol": shown["symbol"], "origClientOrderId": order.client_order_id,
            "orderId": order.order_id, "orderListId": -1,
            "clientOrderId": order.client_order_id, "transactTime": order.updated,
            **{name: shown[name] for name in ("price", "origQty", "executedQty",
                                              "origQuoteOrderQty", "cummulativeQuoteQty",
                                              "status", "timeInForce", "type", "side")}}


async def open_orders(call: Call) -> list[dict[str, Any]]:
    ctx, shapes, params, signer = call
    symbol = params.get("symbol")
    market = shapes.market(symbol).symbol if symbol is not None else ""
    found = await ctx.models.open_orders(signer.user, market)
    return [shapes.order(o) for o in sorted(found, key=lambda o: o.order_id)]


async def cancel_open_orders(call: Call) -> list[dict[str, Any]]:
    ctx, shapes, params, signer = call
    market = shapes.market(params.need("symbol"))
    ids = await ctx.gateway.cancel_all(signer.user, market.symbol)
    cancelled = [await ctx.models.order(signer.user, i) for i in ids]
    return [_cancelled(shapes, o) for o in cancelled if o is not None]


async def all_orders(call: Call) -> list[dict[str, Any]]:
    ctx, shapes, params, signer = call
    market = shapes.market(params.need("symbol"))
    limit = params.integer("limit", 500, low=1, high=1000)
    first = params.integer("orderId")
    start, end = params.integer("startTime"), params.integer("endTime")
    found = await ctx.models.open_orders(signer.user, market.symbol)
    found += await ctx.models.closed_orders(signer.user, market.symbol, 1000)
    found.sort(key=lambda o: o.order_id)
    chosen = [o for o in found if (first is None or o.order_id >= first)
              and (start is None or o.created >= start) and (end is None or o.created <= end)]
    assert limit is not None
    return [shapes.order(o) for o in (chosen[:limit] if first is not None or start is not None
                                      else chosen[-limit:])]


async def my_trades(call: Call) -> list[dict[str, Any]]:
    ctx, shapes, params, signer = call
    market = shapes.market(params.need("symbol"))
    limit = params.integer("limit", 500, low=1, high=1000)
    order_id, first = params.integer("orderId"), params.integer("fromId")
    start, end = params.integer("startTime"), params.integer("endTime")
    fills = list(reversed(await ctx.models.fills(signer.user, market.symbol, 1000)))
    chosen = [f for f in fills if (order_id is None or f[2] == order_id)
              and (first is None or f[0] >= first) and (start is None or f[9] >= start)
              and (end is None or f[9] <= end)]
    assert limit is not None
    return [shapes.my_trade(f) for f in (chosen[:limit] if first is not None or start is not None
                                         else chosen[-limit:])]


# ---- the operations as REST endpoints (the WebSocket API has them as methods: wsapi.py) --

def _rest(method: str, path: str, operation: Operation, *, trade: bool) -> None:
    async def handler(request: Request) -> Any:
        ctx, shapes = services(request)
        params = await Params.of(request)
        signer = await signed(request.headers.get("x-mbx-apikey"), params, ctx.accounts,
                              trade=trade)
        return await operation(Call(ctx, shapes, params, signer))

    handler.__name__ = operation.__name__
    routes.add(method.upper(), path)(handler)


_rest("get", "/account", account, trade=False)
_rest("get", "/account/commission", commission, trade=False)
_rest("post", "/order", place, trade=True)
_rest("post", "/order/test", test_order, trade=True)
_rest("get", "/order", get_order, trade=False)
_rest("delete", "/order", cancel, trade=True)
_rest("get", "/openOrders", open_orders, trade=False)
_rest("delete", "/openOrders", cancel_open_orders, trade=True)
_rest("get", "/allOrders", all_orders, trade=False)
_rest("get", "/myTrades", my_trades, trade=False)
