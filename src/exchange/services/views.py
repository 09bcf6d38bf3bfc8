"""Read models the gateway serves, folded from the user-events and market-data topics.

Pure: events in, state out, no I/O and no clock (queries that depend on time take `now`).
Everything stays in integer units (ticks, lots, minor units); the web layer formats.

Per market: level-2 depth with the version of its last change, recent trades, candles
for each interval (volume split by the taker's side, so averages of buys and of sells can
be drawn), and a 24-hour ticker summed from the one-minute candles.
Per user: balances, open orders, recent closed orders and recent fills.

Orders that were refused never appear: a refusal is the answer to the request that
placed it, and nothing of it was ever held or booked.
"""

from collections import deque
from collections.abc import Iterator
from typing import Any

from exchange.core.events import (
    AccountOpened,
    BalancesChanged,
    Event,
    LevelChanged,
    OrderAccepted,
    OrderCancelled,
    OrderDone,
    OrderReduced,
    OrderTriggered,
    TradeExecuted,
)
from exchange.core.markets import Config, Market
from exchange.core.types import Side

INTERVALS = {"1m": 60, "5m": 300, "1h": 3600, "1d": 86400}  # seconds
KEEP_TRADES = 500
KEEP_CANDLES = 1500  # per interval: a day and more of one-minute candles
KEEP_CLOSED = 500  # per user
KEEP_FILLS = 500

NEW, PARTIALLY_FILLED, FILLED, CANCELLED = "new", "partially_filled", "filled", "cancelled"
_NS_PER_MS = 1_000_000
_DAY_S = 86_400

# A candle is a list, updated in place: [start s, open, high, low, close (ticks),
# volume (lots), quote volume (minor units), buy volume, buy quote, sell volume,
# sell quote, trades]
Candle = list[int]


# An order view's fields in the order of its `to_state`, which stores keep: fields added
# later go at the end, with what a state written before them means (`_ADDED`).
_STATE = ("client_order_id", "created", "filled", "filled_quote", "market", "order_id",
          "price", "qty", "quote_qty", "reason", "side", "status", "tif", "type", "updated",
          "stop_price", "trigger", "waiting")


class OrderView:
    """One order as its owner sees it."""

    __slots__ = _STATE

    def __init__(self, accepted: OrderAccepted) -> None:
        self.order_id = accepted.order_id
        self.client_order_id = accepted.client_order_id
        self.market = accepted.market
        self.side = int(accepted.side)
        self.type = int(accepted.type)
        self.tif = int(accepted.tif)
        self.price = accepted.price
        self.qty = accepted.qty
        self.quote_qty = accepted.quote_qty
        self.filled = 0
        self.filled_quote = 0
        self.status = NEW
        self.reason = 0  # a CancelReason once cancelled
        self.created = self.updated = accepted.ts // _NS_PER_MS
        self.stop_price = accepted.stop_price  # ticks; 0 for an order with no stop
        self.trigger = int(accepted.trigger)
        self.waiting = bool(accepted.trigger)  # for its stop price, off the book

    def to_state(self) -> list[Any]:
        return [getattr(self, name) for name in _STATE]

    @classmethod
    def from_state(cls, state: list[Any]) -> "OrderView":
        names = _STATE
        if len(state) > len(names):
            raise ValueError(f"an order view has {len(names)} fields, not {len(state)}")
        order = cls.__new__(cls)
        for name, value in zip(names, state, strict=False):
            setattr(order, name, value)
        for name in names[len(state):]:
            setattr(order, name, _ADDED[name])  # KeyError: a field that was always there
        return order


_ADDED: dict[str, Any] = {"stop_price": 0, "trigger": 0, "waiting": False}


class UserView:
    def __init__(self) -> None:
        self.opened = False
        self.balances: dict[str, tuple[int, int]] = {}
        self.open: dict[int, OrderView] = {}
        self.closed: deque[OrderView] = deque(maxlen=KEEP_CLOSED)
        # A fill: [trade id, market, order id, side, price, qty, quote, fee, maker?, time ms]
        self.fills: deque[list[Any]] = deque(maxlen=KEEP_FILLS)

    def order(self, order_id: int) -> OrderView | None:
        found = self.open.get(order_id)
        if found is None:
            found = next((o for o in self.closed if o.order_id == order_id), None)
        return found

    def open_by_client_id(self, client_order_id: str) -> OrderView | None:
        return next((o for o in self.open.values() if o.client_order_id == client_order_id),
                    None)


class MarketView:
    def __init__(self, market: Market) -> None:
        self.market = market
        self.bids: dict[int, int] = {}
        self.asks: dict[int, int] = {}
        self.version = 0
        # A trade: [trade id, price, qty, taker side, time ms]
        self.trades: deque[list[int]] = deque(maxlen=KEEP_TRADES)
        self.candles: dict[int, deque[Candle]] = {
            seconds: deque(maxlen=KEEP_CANDLES) for seconds in INTERVALS.values()}

    def depth(self, side: Side, limit: int) -> list[tuple[int, int]]:
        """Return up to `limit` levels, best first."""
        if side is Side.BUY:
            return sorted(self.bids.items(), reverse=True)[:limit]
        return sorted(self.asks.items())[:limit]

    def best(self, side: Side) -> int | None:
        levels = self.bids if side is Side.BUY else self.asks
        if not levels:
            return None
        return max(levels) if side is Side.BUY else min(levels)

    def ticker(self, now_ms: int) -> dict[str, int | None]:
        """Sum the one-minute candles of the last 24 hours."""
        since = now_ms // 1000 - _DAY_S
        window = [c for c in self.candles[60] if c[0] > since]
        last = self.trades[0][1] if self.trades else None
        return {
            "last": last,
            "open": window[0][1] if window else None,
            "high": max(c[2] for c in window) if window else None,
            "low": min(c[3] for c in window) if window else None,
            "volume": sum(c[5] for c in window),
            "quote_volume": sum(c[6] for c in window),
            "trades": sum(c[11] for c in window),
            "best_bid": self.best(Side.BUY),
            "best_ask": self.best(Side.SELL),
        }

    def _level(self, event: LevelChanged) -> None:
        levels = self.bids if event.side is Side.BUY else self.asks
        if event.qty:
            levels[event.price] = event.qty
        else:
            levels.pop(event.price, None)
        self.version = event.version

    def _trade(self, trade: TradeExecuted) -> dict[int, Candle]:
        """Record a public trade; return the candles it changed."""
        time_ms = trade.ts // _NS_PER_MS
        self.trades.appendleft([trade.trade_id, trade.price, trade.qty, int(trade.taker_side),
                                time_ms])
        quote = trade.price * trade.qty * self.market.quote_scale
        buy = trade.taker_side is Side.BUY
        changed = {}
        for seconds, candles in self.candles.items():
            start = time_ms // 1000 // seconds * seconds
            if candles and candles[-1][0] == start:
                candle = candles[-1]
                candle[2] = max(candle[2], trade.price)
                candle[3] = min(candle[3], trade.price)
                candle[4] = trade.price
            elif candles and candles[-1][0] > start:
                continue  # a clock stepped back; keep candles in order, drop its volume
            else:
                candle = [start, trade.price, trade.price, trade.price, trade.price,
                          0, 0, 0, 0, 0, 0, 0]
                candles.append(candle)
            candle[5] += trade.qty
            candle[6] += quote
            candle[7 if buy else 9] += trade.qty
            candle[8 if buy else 10] += quote
            candle[11] += 1
            changed[seconds] = candle
        return changed


class Views:
    """The read models of every market and every user."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.markets = {m.symbol: MarketView(m) for m in config.markets}
        self.users: dict[int, UserView] = {}

    def user(self, user: int) -> UserView:
        view = self.users.get(user)
        if view is None:
            view = self.users[user] = UserView()
        return view

    # ---- folding events -------------------------------------------------------------

    def apply_market(self, event: Event) -> dict[int, Candle] | None:
        """Fold a market-data event; for a trade, return the candles it changed by interval."""
        if isinstance(event, LevelChanged):
            self.markets[event.market]._level(event)
            return None
        if isinstance(event, TradeExecuted):
            return self.markets[event.market]._trade(event)
        raise TypeError(f"not a market-data event: {event.__class__.__name__}")

    def apply_user(self, user: int, event: Event) -> OrderView | list[Any] | None:
        """Fold one event of a user's stream; return the order or fill it changed, if any."""
        view = self.user(user)
        if isinstance(event, BalancesChanged):
            view.balances = {code: (available, held) for code, available, held in event.balances}
            return None
        if isinstance(event, OrderAccepted):
            order = view.open[event.order_id] = OrderView(event)
            return order
        if isinstance(event, TradeExecuted):
            return self._fill(user, view, event)
        if isinstance(event, OrderTriggered):
            found = view.open.get(event.order_id)
            if found is not None:
                found.waiting = False
                found.updated = event.ts // _NS_PER_MS
            return found
        if isinstance(event, OrderReduced):
            found = view.open.get(event.order_id)
            if found is not None:
                found.qty = found.filled + event.remaining
                found.updated = event.ts // _NS_PER_MS
            return found
        if isinstance(event, OrderDone | OrderCancelled):
            closed = view.open.pop(event.order_id, None)
            if closed is not None:
                if isinstance(event, OrderDone):
                    closed.status = FILLED
                else:
                    closed.status = CANCELLED
                    closed.reason = int(event.reason)
                closed.updated = event.ts // _NS_PER_MS
                view.closed.appendleft(closed)
            return closed
        if isinstance(event, AccountOpened):
            view.opened = True
        return None  # refusals are answers to requests, not state

    def _fill(self, user: int, view: UserView, trade: TradeExecuted) -> list[Any] | None:
        quote = trade.price * trade.qty * self.markets[trade.market].market.quote_scale
        time_ms = trade.ts // _NS_PER_MS
        last = None
        for order_id, is_maker, fee in ((trade.maker_order_id, True, trade.maker_fee),
                                        (trade.taker_order_id, False, trade.taker_fee)):
            if (trade.maker_user if is_maker else trade.taker_user) != user:
                continue
            order = view.open.get(order_id)
            side = trade.taker_side if not is_maker else _other(trade.taker_side)
            if order is not None:
                order.filled += trade.qty
                order.filled_quote += quote
                order.status = PARTIALLY_FILLED
                order.updated = time_ms
            last = [trade.trade_id, trade.market, order_id, int(side), trade.price, trade.qty,
                    quote, fee, is_maker, time_ms]
            view.fills.appendleft(last)
        return last

    # ---- snapshots ------------------------------------------------------------------

    def to_state(self) -> dict[str, Any]:
        return {
            "markets": {symbol: {
                "bids": list(m.bids.items()), "asks": list(m.asks.items()),
                "version": m.version, "trades": list(m.trades),
                "candles": {str(s): list(c) for s, c in m.candles.items()},
            } for symbol, m in self.markets.items()},
            "users": {str(user): {
                "opened": u.opened, "balances": u.balances,
                "open": [o.to_state() for o in u.open.values()],
                "closed": [o.to_state() for o in u.closed], "fills": list(u.fills),
            } for user, u in self.users.items()},
        }

    @classmethod
    def from_state(cls, config: Config, state: dict[str, Any]) -> "Views":
        views = cls(config)
        for symbol, saved in state["markets"].items():
            market = views.markets[symbol]
            market.bids = {p: q for p, q in saved["bids"]}
            market.asks = {p: q for p, q in saved["asks"]}
            market.version = saved["version"]
            market.trades.extend(saved["trades"])
            for seconds, candles in saved["candles"].items():
                market.candles[int(seconds)].extend(candles)
        for user, saved in state["users"].items():
            view = views.user(int(user))
            view.opened = saved["opened"]
            view.balances = {code: (a, h) for code, (a, h) in saved["balances"].items()}
            for order in map(OrderView.from_state, saved["open"]):
                view.open[order.order_id] = order
            view.closed.extend(map(OrderView.from_state, saved["closed"]))
            view.fills.extend(saved["fills"])
        return views

    def open_orders(self, user: int, market: str = "") -> Iterator[OrderView]:
        """Yield a user's open orders, newest first."""
        view = self.users.get(user)
        if view is not None:
            for order in reversed(view.open.values()):
                if not market or order.market == market:
                    yield order


def _other(side: Side) -> Side:
    return Side.SELL if side is Side.BUY else Side.BUY

