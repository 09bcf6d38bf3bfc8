"""A small driver for the core in tests: numbers the commands, parses decimal strings."""

from decimal import Decimal
from itertools import count

from exchange.core.commands import (
    CancelAll,
    CancelOrder,
    OpenAccount,
    PlaceOrder,
    ReduceOrder,
)
from exchange.core.engine import Exchange
from exchange.core.events import Event, LevelChanged, TradeExecuted
from exchange.core.markets import Config, Market, default_config
from exchange.core.types import OrderType, SelfTrade, Side, TimeInForce, Trigger


class Sim:
    def __init__(self, config: Config | None = None, users: int = 2) -> None:
        self.exchange = Exchange(config or default_config())
        self.seq = count(1)
        self.ids = count(1)
        self.events: list[Event] = []
        for user in range(1, users + 1):
            self.run(OpenAccount(next(self.seq), 0, user))

    def run(self, cmd: object) -> list[Event]:
        events = self.exchange.execute(cmd)  # type: ignore[arg-type]
        self.events.extend(events)
        return events

    def market(self, symbol: str = "COIN-USD") -> Market:
        return self.exchange.config.market(symbol)

    def order(
        self,
        user: int,
        side: str,
        qty: str | None,
        price: str | None = None,
        *,
        tif: TimeInForce = TimeInForce.GTC,
        quote: str | None = None,
        client_id: str = "",
        stp: SelfTrade = SelfTrade.CANCEL_TAKER,
        market: str = "COIN-USD",
        order_id: int | None = None,
        trigger: Trigger = Trigger.NONE,
        stop: str | None = None,
    ) -> list[Event]:
        m = self.market(market)
        kind = OrderType.LIMIT if price is not None else OrderType.MARKET
        if kind is OrderType.MARKET:
            tif = TimeInForce.IOC
        cmd = PlaceOrder(
            next(self.seq), 0, order_id if order_id is not None else next(self.ids), user, market,
            Side.BUY if side == "buy" else Side.SELL, kind, tif,
            m.parse_price(price) if price is not None else 0,
            m.parse_qty(qty) if qty is not None else 0,
            m.parse_quote(quote) if quote is not None else 0,
            client_id, stp, 0, m.parse_price(stop) if stop is not None else 0, trigger,
        )
        return self.run(cmd)

    def cancel(self, user: int, order_id: int = 0, client_id: str = "") -> list[Event]:
        return self.run(CancelOrder(next(self.seq), 0, user, order_id, client_id))

    def cancel_all(self, user: int, market: str = "") -> list[Event]:
        return self.run(CancelAll(next(self.seq), 0, user, market))

    def reduce(self, user: int, order_id: int, by: str, client_id: str = "") -> list[Event]:
        lots = self.market().parse_qty(by)
        return self.run(ReduceOrder(next(self.seq), 0, user, order_id, lots, client_id))

    def balance(self, user: int, asset: str) -> tuple[str, str]:
        """Return (available, held) as decimal strings, normalised: '1000', '12.5'."""
        unit = next(a for a in self.exchange.config.assets if a.code == asset).unit
        available, held = self.exchange.ledger.balance(user, asset)
        return _plain(available * unit), _plain(held * unit)

    def trades(self, events: list[Event] | None = None) -> list[tuple[str, str, int, int]]:
        """Return (price, qty, maker order, taker order) of each trade, as decimal strings."""
        m = self.market()
        return [
            (_plain(e.price * m.tick), _plain(e.qty * m.lot), e.maker_order_id, e.taker_order_id)
            for e in (self.events if events is None else events)
            if isinstance(e, TradeExecuted)
        ]

    def depth(self, side: Side, symbol: str = "COIN-USD") -> list[tuple[str, str]]:
        m = self.market(symbol)
        return [(_plain(p * m.tick), _plain(q * m.lot))
                for p, q in self.exchange.books[symbol].depth(side)]


def kinds(events: list[Event]) -> list[str]:
    """Name each event but the level-2 changes, which most examples do not look at."""
    return [type(e).__name__ for e in events if not isinstance(e, LevelChanged)]


def _plain(value: Decimal) -> str:
    d = value.normalize()
    return f"{d:f}"
