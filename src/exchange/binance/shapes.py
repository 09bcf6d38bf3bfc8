"""Our markets, orders and fills in Binance's shapes.

Symbols are Binance style, the base and quote codes run together (`COIN-USD` is
`COINUSD`); assets keep their names. Amounts are decimal strings at each market's own
precision. An order's type and time in force map as:

    limit gtc|ioc|fok   LIMIT with that timeInForce
    limit post_only     LIMIT_MAKER (Binance reports GTC)
    market              MARKET (Binance reports GTC)

and its status: open NEW or PARTIALLY_FILLED, FILLED, and a cancelled order CANCELED
(by its owner), EXPIRED (an IOC or market order's unfilled rest) or EXPIRED_IN_MATCH
(self-trade prevention).
"""

from typing import Any

from exchange.binance.errors import bad_symbol
from exchange.core.markets import Config, Market
from exchange.core.types import CancelReason, OrderType, SelfTrade, Side, TimeInForce, Trigger
from exchange.services.views import CANCELLED, FILLED, NEW, PARTIALLY_FILLED, OrderView
from exchange.web.render import MarketFormat, Render

SIDES = {"BUY": Side.BUY, "SELL": Side.SELL}
SIDE_NAMES = {int(v): k for k, v in SIDES.items()}
STP_MODES = {"EXPIRE_TAKER": SelfTrade.CANCEL_TAKER, "EXPIRE_MAKER": SelfTrade.CANCEL_MAKER,
             "EXPIRE_BOTH": SelfTrade.CANCEL_BOTH}
# Binance's order types: what the core's order is, and what waits for its stop price.
ORDER_TYPES: dict[str, tuple[OrderType, Trigger]] = {
    "LIMIT": (OrderType.LIMIT, Trigger.NONE), "LIMIT_MAKER": (OrderType.LIMIT, Trigger.NONE),
    "MARKET": (OrderType.MARKET, Trigger.NONE),
    "STOP_LOSS": (OrderType.MARKET, Trigger.STOP_LOSS),
    "STOP_LOSS_LIMIT": (OrderType.LIMIT, Trigger.STOP_LOSS),
    "TAKE_PROFIT": (OrderType.MARKET, Trigger.TAKE_PROFIT),
    "TAKE_PROFIT_LIMIT": (OrderType.LIMIT, Trigger.TAKE_PROFIT),
}
_TYPE_NAMES = {(int(kind), int(trigger)): name for name, (kind, trigger) in ORDER_TYPES.items()
               if name != "LIMIT_MAKER"}
TIFS = {"GTC": TimeInForce.GTC, "IOC": TimeInForce.IOC, "FOK": TimeInForce.FOK}
_TIF_NAMES = {int(TimeInForce.GTC): "GTC", int(TimeInForce.IOC): "IOC",
              int(TimeInForce.FOK): "FOK", int(TimeInForce.POST_ONLY): "GTC"}
_STATUSES = {NEW: "NEW", PARTIALLY_FILLED: "PARTIALLY_FILLED", FILLED: "FILLED"}
_CANCELLED = {int(CancelReason.USER): "CANCELED", int(CancelReason.REDUCED): "CANCELED",
              int(CancelReason.EXPIRED): "EXPIRED",
              int(CancelReason.SELF_TRADE): "EXPIRED_IN_MATCH"}


def binance_symbol(market: Market) -> str:
    return market.base.code + market.quote.code


class Shapes:
    """Our markets by Binance symbol, and what renders in Binance's shapes."""

    def __init__(self, config: Config, render: Render) -> None:
        self.config = config
        self.render = render
        self.markets = {binance_symbol(m): m for m in config.markets}

    def market(self, symbol: str) -> Market:
        found = self.markets.get(symbol)
        if found is None:
            raise bad_symbol()
        return found

    def format(self, market: Market) -> MarketFormat:
        return self.render.formats[market.symbol]

    def symbol_info(self, market: Market) -> dict[str, Any]:
        f = self.format(market)
        stp = list(STP_MODES)
        return {
            "symbol": binance_symbol(market), "status": "TRADING",
            "baseAsset": market.base.code, "baseAssetPrecision": market.base.precision,
            "quoteAsset": market.quote.code, "quotePrecision": market.quote.precision,
            "quoteAssetPrecision": market.quote.precision,
            "baseCommissionPrecision": market.base.precision,
            "quoteCommissionPrecision": market.quote.precision,
            "orderTypes": list(ORDER_TYPES), "icebergAllowed": False, "ocoAllowed": False,
            "otoAllowed": False, "quoteOrderQtyMarketAllowed": True,
            "allowTrailingStop": False, "cancelReplaceAllowed": False,
            "amendAllowed": False, "isSpotTradingAllowed": True,
            "isMarginTradingAllowed": False,
            "filters": [
                {"filterType": "PRICE_FILTER", "minPrice": f.price(1),
                 "maxPrice": f.price(market.max_price), "tickSize": f.price(1)},
                {"filterType": "LOT_SIZE", "minQty": f.qty(market.min_qty),
                 "maxQty": f.qty(market.max_qty), "stepSize": f.qty(1)},
                {"filterType": "MARKET_LOT_SIZE", "minQty": f.qty(market.min_qty),
                 "maxQty": f.qty(market.max_qty), "stepSize": f.qty(1)},
                # The core refuses only a zero notional: the least is a tick times a lot.
                {"filterType": "NOTIONAL", "minNotional": f.quote(market.quote_scale),
                 "applyMinToMarket": False,
                 "maxNotional": f.quote(market.max_price * market.max_qty
                                        * market.quote_scale),
                 "applyMaxToMarket": False, "avgPriceMins": 5},
            ],
            "permissions": [], "permissionSets": [["SPOT"]],
            "defaultSelfTradePreventionMode": "EXPIRE_TAKER",
            "allowedSelfTradePreventionModes": stp,
        }

    def order(self, order: OrderView) -> dict[str, Any]:
        """An order as `GET /api/v3/order` gives it."""
        market = self.config.market(order.market)
        f = self.format(market)
        return {
            "symbol": binance_symbol(market), "orderId": order.order_id, "orderListId": -1,
            "clientOrderId": order.client_order_id,
            "price": f.price(order.price) if order.type == OrderType.LIMIT else f.price(0),
            "origQty": f.qty(order.qty), "executedQty": f.qty(order.filled),
            "cummulativeQuoteQty": f.quote(order.filled_quote), "status": status(order),
            "timeInForce": _TIF_NAMES[order.tif] if order.type == OrderType.LIMIT else "GTC",
            "type": order_type(order),
            "side": SIDE_NAMES[order.side], "stopPrice": f.price(order.stop_price),
            "icebergQty": f.qty(0), "time": order.created, "updateTime": order.updated,
            "isWorking": order.status in (NEW, PARTIALLY_FILLED) and not order.waiting,
            # A stop order works from its trigger on (when it was last updated, then).
            "workingTime": order.updated if order.trigger and not order.waiting else
            order.created if not order.trigger else -1,
            "origQuoteOrderQty": f.quote(order.quote_qty),
        }

    def fill(self, fill: list[Any]) -> dict[str, Any]:
        """A fill of `fill`'s order as `POST /api/v3/order` lists it."""
        trade_id, symbol, _, _, price, qty, _, fee, _, _ = fill
        market = self.config.market(symbol)
        f = self.format(market)
        return {"price": f.price(price), "qty": f.qty(qty), "commission": f.quote(fee),
                "commissionAsset": market.quote.code, "tradeId": trade_id}

    def my_trade(self, fill: list[Any]) -> dict[str, Any]:
        """A fill as `GET /api/v3/myTrades` lists it."""
        trade_id, symbol, order_id, side, price, qty, quote, fee, maker, time_ms = fill
        market = self.config.market(symbol)
        f = self.format(market)
        return {"symbol": binance_symbol(market), "id": trade_id, "orderId": order_id,
                "orderListId": -1, "price": f.price(price), "qty": f.qty(qty),
                "quoteQty": f.quote(quote), "commission": f.quote(fee),
                "commissionAsset": market.quote.code, "time": time_ms,
                "isBuyer": side == Side.BUY, "isMaker": bool(maker), "isBestMatch": True}


def ticker(shapes: Shapes, market: Market, t: dict[str, int | None],
           bids: list[tuple[int, int]], asks: list[tuple[int, int]],
           recent: list[list[int]], now: int) -> dict[str, Any]:
    """The 24-hour ticker in `GET /api/v3/ticker/24hr`'s shape, from what the views count
    (`t`), the best levels and the last trade ([id, price, qty, taker side, time])."""
    f = shapes.format(market)
    last, open_ = t["last"], t["open"]
    volume, quote, count = t["volume"] or 0, t["quote_volume"] or 0, t["trades"] or 0
    change = (last - open_) if last is not None and open_ else 0
    last_id = recent[0][0] if recent else -1
    return {
        "symbol": binance_symbol(market), "priceChange": f.price(change),
        "priceChangePercent": f"{change * 100 / open_:.3f}" if open_ else "0.000",
        "weightedAvgPrice": f.average_price(quote, volume) or f.price(0),
        "prevClosePrice": f.price(open_ or 0), "lastPrice": f.price(last or 0),
        "lastQty": f.qty(recent[0][2]) if recent else f.qty(0),
        "bidPrice": f.price(bids[0][0]) if bids else f.price(0),
        "bidQty": f.qty(bids[0][1]) if bids else f.qty(0),
        "askPrice": f.price(asks[0][0]) if asks else f.price(0),
        "askQty": f.qty(asks[0][1]) if asks else f.qty(0),
        "openPrice": f.price(open_ or 0), "highPrice": f.price(t["high"] or 0),
        "lowPrice": f.price(t["low"] or 0), "volume": f.qty(volume),
        "quoteVolume": f.quote(quote), "openTime": now - 86_400_000, "closeTime": now,
        "firstId": last_id - count + 1 if count else -1,
        "lastId": last_id if count else -1, "count": count}


def status(order: OrderView) -> str:
    if order.status == CANCELLED:
        return _CANCELLED.get(order.reason, "CANCELED")
    return _STATUSES[order.status]


def order_type(order: OrderView) -> str:
    if order.tif == TimeInForce.POST_ONLY:
        return "LIMIT_MAKER"
    return _TYPE_NAMES[(order.type, order.trigger)]
