"""Views as JSON: integer units become decimal strings here, and only here.

Formatting is integer arithmetic (a step such as 0.01 is a mantissa and a number of
places), so it is exact and cheap enough for every message the gateway sends.
"""

from decimal import Decimal
from typing import Any

from exchange.core.markets import Config, Market
from exchange.core.types import CancelReason, OrderType, Side, TimeInForce, Trigger
from exchange.services.views import OrderView

# Keyed by the enums, which hash and compare as their ints: a view's plain int finds its
# name without building the enum member first.
SIDES: dict[int, str] = {Side.BUY: "buy", Side.SELL: "sell"}
TYPES: dict[int, str] = {OrderType.LIMIT: "limit", OrderType.MARKET: "market"}
TIFS: dict[int, str] = {TimeInForce.GTC: "gtc", TimeInForce.IOC: "ioc", TimeInForce.FOK: "fok",
                        TimeInForce.POST_ONLY: "post_only"}
REASONS: dict[int, str] = {reason: reason.name.lower() for reason in CancelReason}
TRIGGERS: dict[int, str] = {Trigger.STOP_LOSS: "stop_loss", Trigger.TAKE_PROFIT: "take_profit"}
_EXTRA = 4  # decimals an average price has beyond the tick's


class Units:
    """Render whole numbers of a decimal step (a tick, a lot, a minor unit) as strings."""

    def __init__(self, step: Decimal) -> None:
        sign, digits, exponent = step.normalize().as_tuple()
        assert isinstance(exponent, int) and not sign
        mantissa = int("".join(map(str, digits)))
        self.places = max(0, -exponent)
        self.mantissa = mantissa * 10 ** max(0, exponent)
        self._width = self.places + 1  # at least one digit before the point

    def __call__(self, units: int) -> str:
        # Every message has several of these: padding the digits and cutting them is
        # about twice as fast as divmod and a format spec.
        value = units * self.mantissa
        if not self.places:
            return str(value)
        if value < 0:
            return "-" + self(-units)
        digits = str(value).rjust(self._width, "0")
        places = self.places
        return f"{digits[:-places]}.{digits[-places:]}"


class MarketFormat:
    """How one market's prices, quantities and amounts are written."""

    def __init__(self, market: Market) -> None:
        self.market = market
        self.price = Units(market.tick)
        self.qty = Units(market.lot)
        self.base = Units(market.base.unit)
        self.quote = Units(market.quote.unit)
        self._fine = Units(Decimal(1).scaleb(-(self.price.places + _EXTRA)))

    def average_price(self, quote: int, lots: int) -> str | None:
        """Return the volume-weighted price of `lots` that cost `quote` minor units, to
        four decimals past the tick's, rounded half to even."""
        if not lots:
            return None
        # quote = ticks x lots x quote_scale and a tick is mantissa / 10^places, so the
        # average in units of 10^-(places + 4) is quote x mantissa x 10^4 / (lots x
        # quote_scale) exactly: integer arithmetic, no Decimal context.
        divisor = lots * self.market.quote_scale
        whole, rest = divmod(quote * self.price.mantissa * 10**_EXTRA, divisor)
        if 2 * rest > divisor or (2 * rest == divisor and whole % 2):
            whole += 1
        text = self._fine(whole)
        # Keep the price's own decimals, drop the zeros of the extra precision.
        return (text[:len(text) - _EXTRA] + text[len(text) - _EXTRA:].rstrip("0")).rstrip(".")


class Render:
    """JSON-ready dicts for everything the API returns."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.formats = {m.symbol: MarketFormat(m) for m in config.markets}
        self.assets = {a.code: Units(a.unit) for a in config.assets}

    def market(self, market: Market) -> dict[str, Any]:
        f = self.formats[market.symbol]
        return {
            "symbol": market.symbol, "base": market.base.code, "quote": market.quote.code,
            "tick_size": f.price(1), "lot_size": f.qty(1),
            "min_quantity": f.qty(market.min_qty), "max_quantity": f.qty(market.max_qty),
            "max_price": f.price(market.max_price),
            "maker_fee": Units(Decimal("0.000001"))(market.maker_fee_ppm),
            "taker_fee": Units(Decimal("0.000001"))(market.taker_fee_ppm),
            "price_decimals": f.price.places, "quantity_decimals": f.qty.places,
        }

    def order(self, order: OrderView) -> dict[str, Any]:
        f = self.formats[order.market]
        limit = order.type == OrderType.LIMIT
        return {
            "order_id": order.order_id, "client_order_id": order.client_order_id,
            "market": order.market, "side": SIDES[order.side],
            "type": TYPES[order.type],
            "time_in_force": TIFS[order.tif],
            "price": f.price(order.price) if limit else None,
            "quantity": f.qty(order.qty) if order.qty else None,
            "quote_quantity": f.quote(order.quote_qty) if order.quote_qty else None,
            "filled": f.qty(order.filled), "filled_quote": f.quote(order.filled_quote),
            "average_price": f.average_price(order.filled_quote, order.filled),
            "status": order.status,
            "reason": REASONS[order.reason] if order.reason else None,
            "trigger": TRIGGERS.get(order.trigger),
            "stop_price": f.price(order.stop_price) if order.trigger else None,
            "waiting": order.waiting,
            "created": order.created, "updated": order.updated,
        }

    def fill(self, fill: list[Any]) -> dict[str, Any]:
        trade_id, market, order_id, side, price, qty, quote, fee, maker, time_ms = fill
        f = self.formats[market]
        return {"trade_id": trade_id, "market": market, "order_id": order_id,
                "side": SIDES[side], "price": f.price(price), "quantity": f.qty(qty),
                "quote_quantity": f.quote(quote), "fee": f.quote(fee),
                "liquidity": "maker" if maker else "taker", "time": time_ms}

    def balances(self, balances: dict[str, tuple[int, int]]) -> list[dict[str, str]]:
        rows = []
        for asset in self.config.assets:
            available, held = balances.get(asset.code, (0, 0))
            units = self.assets[asset.code]
            rows.append({"asset": asset.code, "available": units(available),
                         "held": units(held), "total": units(available + held)})
        return rows

    def trade(self, market: str, trade: list[int]) -> dict[str, Any]:
        trade_id, price, qty, taker_side, time_ms = trade
        f = self.formats[market]
        return {"trade_id": trade_id, "price": f.price(price), "quantity": f.qty(qty),
                "taker_side": SIDES[taker_side], "time": time_ms}

    def candle(self, market: str, candle: list[int]) -> dict[str, Any]:
        f = self.formats[market]
        start, open_, high, low, close, volume, quote, buy_v, buy_q, sell_v, sell_q, n = candle
        return {"time": start, "open": f.price(open_), "high": f.price(high),
                "low": f.price(low), "close": f.price(close), "volume": f.qty(volume),
                "quote_volume": f.quote(quote), "buy_volume": f.qty(buy_v),
                "buy_quote": f.quote(buy_q), "sell_volume": f.qty(sell_v),
                "sell_quote": f.quote(sell_q), "trades": n}

    def levels(self, market: str, levels: list[tuple[int, int]]) -> list[list[str]]:
        f = self.formats[market]
        return [[f.price(price), f.qty(qty)] for price, qty in levels]

    def ticker(self, symbol: str, t: dict[str, int | None]) -> dict[str, Any]:
        """Format what MarketView.ticker counted."""
        f = self.formats[symbol]
        last, open_ = t["last"], t["open"]

        def price(value: int | None) -> str | None:
            return None if value is None else f.price(value)

        change = percent = None
        if last is not None and open_:
            change = f.price(last - open_)
            percent = f"{(Decimal(last - open_) * 100 / open_).quantize(Decimal('0.01')):f}"
        return {"market": symbol, "last": price(last), "open": price(open_),
                "high": price(t["high"]), "low": price(t["low"]),
                "volume": f.qty(t["volume"] or 0), "quote_volume": f.quote(t["quote_volume"] or 0),
                "change": change, "change_percent": percent, "best_bid": price(t["best_bid"]),
                "best_ask": price(t["best_ask"]), "trades": t["trades"]}
