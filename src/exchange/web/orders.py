"""From a place-order body to the arguments of `Gateway.place`, with the market's rules."""

from typing import NamedTuple

from exchange.core.markets import Config, Market
from exchange.core.numbers import InvalidNumber
from exchange.core.types import OrderType, SelfTrade, Side, TimeInForce, Trigger
from exchange.web.errors import ApiError
from exchange.web.schemas import PlaceOrderBody

_SIDES = {"buy": Side.BUY, "sell": Side.SELL}
_TIFS = {"gtc": TimeInForce.GTC, "ioc": TimeInForce.IOC, "fok": TimeInForce.FOK,
         "post_only": TimeInForce.POST_ONLY}
_TRIGGERS = {"stop_loss": Trigger.STOP_LOSS, "take_profit": Trigger.TAKE_PROFIT}
_STPS = {"cancel_taker": SelfTrade.CANCEL_TAKER, "cancel_maker": SelfTrade.CANCEL_MAKER,
         "cancel_both": SelfTrade.CANCEL_BOTH}
_CODES = {"price": "invalid_price", "quantity": "invalid_quantity",
          "quote_quantity": "invalid_quantity", "reduce_by": "invalid_quantity"}


class PlaceArgs(NamedTuple):
    market: str
    side: Side
    kind: OrderType
    tif: TimeInForce
    price: int
    qty: int
    quote_qty: int
    client_order_id: str
    stp: SelfTrade
    stop_price: int = 0
    trigger: Trigger = Trigger.NONE


def invalid(error: InvalidNumber) -> ApiError:
    return ApiError(400, _CODES.get(error.field, "invalid_field"), str(error), error.field)


def market_of(config: Config, symbol: str) -> Market:
    """Return the market named `symbol`, or raise 404 naming the field."""
    try:
        return config.market(symbol)
    except KeyError:
        raise ApiError(404, "unknown_market", f"no market {symbol!r}", "market") from None


def parse_place(config: Config, body: PlaceOrderBody) -> PlaceArgs:
    """Check an order's fields against its market; raise ApiError naming the field at fault."""
    market = market_of(config, body.market)
    if (body.trigger is None) != (body.stop_price is None):
        raise ApiError(400, "invalid_order", "a stop order has both a trigger and a "
                       "stop_price; any other order neither", "stop_price")
    args = _parse(market, body)
    if body.trigger is None or body.stop_price is None:
        return args
    if body.time_in_force == "post_only":
        raise ApiError(400, "invalid_order", "a stop order is never post_only",
                       "time_in_force")
    try:
        stop = market.parse_price(body.stop_price, "stop_price")
    except InvalidNumber as error:
        raise invalid(error) from None
    return args._replace(stop_price=stop, trigger=_TRIGGERS[body.trigger])


def _parse(market: Market, body: PlaceOrderBody) -> PlaceArgs:
    side = _SIDES[body.side]
    try:
        if body.type == "limit":
            if body.price is None:
                raise ApiError(400, "missing_field", "a limit order needs a price", "price")
            if body.quote_quantity is not None:
                raise ApiError(400, "invalid_order", "quote_quantity is for market buys only",
                               "quote_quantity")
            if body.quantity is None:
                raise ApiError(400, "missing_field", "quantity is required", "quantity")
            return PlaceArgs(market.symbol, side, OrderType.LIMIT,
                             _TIFS[body.time_in_force or "gtc"],
                             market.parse_price(body.price), market.parse_qty(body.quantity), 0,
                             body.client_order_id or "", _STPS[body.self_trade])
        if body.price is not None:
            raise ApiError(400, "invalid_order", "a market order has no price", "price")
        if body.time_in_force not in (None, "ioc"):
            raise ApiError(400, "invalid_order", "a market order is always ioc", "time_in_force")
        if side is Side.SELL and body.quote_quantity is not None:
            raise ApiError(400, "invalid_order", "a market sell gives a quantity, not a "
                           "quote_quantity", "quote_quantity")
        if body.quantity is None and body.quote_quantity is None:
            raise ApiError(400, "missing_field", "a market order needs a quantity"
                           + (" or a quote_quantity" if side is Side.BUY else ""), "quantity")
        qty = market.parse_qty(body.quantity) if body.quantity is not None else 0
        quote = (market.parse_quote(body.quote_quantity)
                 if body.quote_quantity is not None else 0)
        return PlaceArgs(market.symbol, side, OrderType.MARKET, TimeInForce.IOC, 0, qty, quote,
                         body.client_order_id or "", _STPS[body.self_trade])
    except InvalidNumber as error:
        raise invalid(error) from None
