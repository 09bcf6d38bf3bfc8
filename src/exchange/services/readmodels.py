"""The read models a gateway serves, behind one port: in its own memory, or in Redis.

Every gateway folds every event into its own `Views` (see exchange.services.views): it
needs them to answer its requests and to push changes to its WebSocket clients. What it
serves over REST comes from a `ReadModels`:

- `LocalModels` reads the gateway's own fold. One process (`exchange run`) needs nothing
  else.
- `RedisModels` (exchange.store.redis_models) reads models kept in Redis, where every
  gateway of a cluster records what each batch changed. Any gateway can then serve any
  user, a new one serves at once without folding the history first, and what a user
  reads does not depend on which gateway answers.

Recording
    After folding a batch, a gateway records the `Changes` (`prepare`, then `write`): for
    each partition it
    read, the offsets the batch covered, and the state after the batch of every entity
    (order, balances, book level, candle) it changed, plus what it appended (fills,
    closed orders, trades). The gateway answers the batch's requests only after `record`
    returned, so a user who was answered reads what the answer said, from any gateway.

    Every gateway records every batch; the models keep, per partition, the position they
    were recorded up to, and a batch that does not reach past it changes nothing. The
    fold is deterministic, so the entities a batch reports are what any other gateway
    would report at that position: writing them over older ones is always right.
    Appended items carry their event's offset and only those at or past the stored
    position are appended, so a batch that overlaps one recorded before adds nothing
    twice.
"""

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from exchange.core.events import (
    AccountOpened,
    BalancesChanged,
    Event,
    OrderAccepted,
    OrderCancelled,
    OrderDone,
    TradeExecuted,
)
from exchange.core.types import Side
from exchange.services import topics
from exchange.services.views import Candle, OrderView, Views

# One record of a topic as the gateway reads it: topic, partition, offset, key, event.
Record = tuple[str, int, int, bytes, Event]


@dataclass(slots=True)
class MarketChanges:
    """What one batch changed in one market."""

    partition: int
    prev_version: int
    version: int = 0
    levels: dict[tuple[int, int], int] = field(default_factory=dict)  # (side, price): qty
    trades: list[list[int]] = field(default_factory=list)
    trade_offsets: list[int] = field(default_factory=list)  # the offset of each trade
    # Every candle the batch changed, by (interval seconds, start): a batch that spans a
    # new minute closes one candle and opens the next.
    candles: dict[tuple[int, int], Candle] = field(default_factory=dict)


@dataclass(slots=True)
class UserChanges:
    """What one batch changed for one user."""

    partition: int
    orders: dict[int, OrderView] = field(default_factory=dict)
    closed_at: dict[int, int] = field(default_factory=dict)  # order id: offset it closed at
    accepted_at: dict[int, int] = field(default_factory=dict)  # order id: offset
    fills: list[list[Any]] = field(default_factory=list)
    fill_offsets: list[int] = field(default_factory=list)
    balances: dict[str, tuple[int, int]] | None = None
    opened: bool = False


@dataclass
class Changes:
    """What one batch changed, and the offsets it covered: (topic, partition): (first, end)."""

    markets: dict[str, MarketChanges] = field(default_factory=dict)
    users: dict[int, UserChanges] = field(default_factory=dict)
    ranges: dict[tuple[str, int], tuple[int, int]] = field(default_factory=dict)


class Folding:
    """Fold one batch of events into the views, noting what it changed in `changes`.

    Events reach it by stream: a user's (`user`) or a market's (`market`). A gateway over
    the bus hands it the records it read (`record`), which also notes the offsets read;
    the embedded pipeline hands it `Exchange`'s events as they are made. `offer` is told
    of each event of a user's stream (the gateway's waiting requests) and appends the
    requests it answers to `answered`.
    """

    __slots__ = ("answered", "changes", "offer", "views")

    def __init__(self, views: Views,
                 offer: Callable[[Event, list[Any]], None] | None = None) -> None:
        self.views = views
        self.offer = offer
        self.changes = Changes()
        self.answered: list[Any] = []

    def record(self, record: Record) -> None:
        """Fold one record read from the bus."""
        topic, partition, offset, key, event = record
        ranges = self.changes.ranges
        span = ranges.get((topic, partition))
        ranges[(topic, partition)] = (offset if span is None else span[0], offset + 1)
        if topic == topics.MARKET_DATA:
            self.market(partition, offset, event)
        else:
            self.user(partition, offset, int(key), event)

    def user(self, partition: int, offset: int, user: int, event: Event) -> None:
        """Fold an event of `user`'s stream."""
        views = self.views
        changed = views.apply_user(user, event)
        if self.offer is not None:
            self.offer(event, self.answered)
        users = self.changes.users
        mine = users.get(user)
        if mine is None:
            mine = users[user] = UserChanges(partition)
        kind = event.__class__
        if isinstance(changed, OrderView):
            mine.orders[changed.order_id] = changed
            if kind is OrderAccepted:
                mine.accepted_at[changed.order_id] = offset
            elif kind is OrderDone or kind is OrderCancelled:
                mine.closed_at[changed.order_id] = offset
        elif changed is not None:  # a fill; the order it filled changed too
            mine.fills.append(changed)
            mine.fill_offsets.append(offset)
            filled = views.users[user].open.get(changed[2])
            if filled is not None:
                mine.orders[filled.order_id] = filled
        elif kind is BalancesChanged:
            mine.balances = views.users[user].balances
        elif kind is AccountOpened:
            mine.opened = True

    def market(self, partition: int, offset: int, event: Event) -> None:
        """Fold an event of a market's stream (a trade or a level change)."""
        market = event.market  # type: ignore[union-attr]
        view = self.views.markets[market]
        markets = self.changes.markets
        changes = markets.get(market)
        if changes is None:
            changes = markets[market] = MarketChanges(partition, view.version, view.version)
        candles = self.views.apply_market(event)
        if isinstance(event, TradeExecuted):
            changes.trades.append(view.trades[0])
            changes.trade_offsets.append(offset)
            for seconds, candle in (candles or {}).items():
                changes.candles[(seconds, candle[0])] = candle
        else:
            changes.levels[(int(event.side), event.price)] = event.qty  # type: ignore[union-attr]
            changes.version = view.version


def fold(views: Views, batch: list[Record]) -> Changes:
    """Fold a batch of records into `views`; return what it changed."""
    folding = Folding(views)
    for record in batch:
        folding.record(record)
    return folding.changes


class ReadModels(ABC):
    """What the REST API reads. Prices and sizes in integer units, newest first unless
    said otherwise; an unknown user reads as one with nothing."""

    #: Whether batches must be recorded (and that waited for) before they are answered.
    records = False

    def prepare(self, changes: Changes) -> Any:
        """Turn what a batch changed into what `write` sends, on the thread that folds.

        Right after the fold, while the views are exactly as the batch left them: the
        next batch changes the same objects in place.
        """
        return changes

    def write(self, prepared: Any) -> None:  # noqa: B027 - most models fold themselves
        """Keep a prepared batch (called off the event loop; may block)."""

    def record(self, changes: Changes) -> None:
        self.write(self.prepare(changes))

    @abstractmethod
    async def opened(self, user: int) -> bool:
        """Whether the user's ledger account is open."""

    @abstractmethod
    async def balances(self, user: int) -> dict[str, tuple[int, int]]: ...

    @abstractmethod
    async def open_orders(self, user: int, market: str = "") -> list[OrderView]:
        """The user's open orders (in one market), newest first."""

    @abstractmethod
    async def closed_orders(self, user: int, market: str, limit: int) -> list[OrderView]:
        """Up to `limit` of the user's recently closed orders (in one market)."""

    @abstractmethod
    async def order(self, user: int, order_id: int) -> OrderView | None:
        """One of the user's orders, open or recently closed."""

    @abstractmethod
    async def fills(self, user: int, market: str, limit: int) -> list[list[Any]]: ...

    @abstractmethod
    async def depth(self, symbol: str, limit: int) -> tuple[int, list[tuple[int, int]],
                                                            list[tuple[int, int]]]:
        """The book's version and up to `limit` bid and ask levels, best first."""

    @abstractmethod
    async def trades(self, symbol: str, limit: int) -> list[list[int]]: ...

    @abstractmethod
    async def candles(self, symbol: str, seconds: int, limit: int) -> list[Candle]:
        """The last `limit` candles of an interval, oldest first."""

    @abstractmethod
    async def ticker(self, symbol: str, now_ms: int) -> dict[str, int | None]:
        """The last 24 hours, as exchange.services.views.MarketView.ticker counts them."""

    @abstractmethod
    async def users(self) -> int:
        """How many users have an open account."""


class LocalModels(ReadModels):
    """The gateway's own fold; `views` returns it (a restart replaces the object)."""

    def __init__(self, views: Callable[[], Views]) -> None:
        self._views = views

    async def opened(self, user: int) -> bool:
        found = self._views().users.get(user)
        return found is not None and found.opened

    async def balances(self, user: int) -> dict[str, tuple[int, int]]:
        found = self._views().users.get(user)
        return {} if found is None else found.balances

    async def open_orders(self, user: int, market: str = "") -> list[OrderView]:
        return list(self._views().open_orders(user, market))

    async def closed_orders(self, user: int, market: str, limit: int) -> list[OrderView]:
        found = self._views().users.get(user)
        if found is None:
            return []
        return [o for o in found.closed if not market or o.market == market][:limit]

    async def order(self, user: int, order_id: int) -> OrderView | None:
        found = self._views().users.get(user)
        return None if found is None else found.order(order_id)

    async def fills(self, user: int, market: str, limit: int) -> list[list[Any]]:
        found = self._views().users.get(user)
        if found is None:
            return []
        return [f for f in found.fills if not market or f[1] == market][:limit]

    async def depth(self, symbol: str, limit: int) -> tuple[int, list[tuple[int, int]],
                                                            list[tuple[int, int]]]:
        view = self._views().markets[symbol]
        return view.version, view.depth(Side.BUY, limit), view.depth(Side.SELL, limit)

    async def trades(self, symbol: str, limit: int) -> list[list[int]]:
        return list(self._views().markets[symbol].trades)[:limit]

    async def candles(self, symbol: str, seconds: int, limit: int) -> list[Candle]:
        return list(self._views().markets[symbol].candles[seconds])[-limit:]

    async def ticker(self, symbol: str, now_ms: int) -> dict[str, int | None]:
        return self._views().markets[symbol].ticker(now_ms)

    async def users(self) -> int:
        return sum(1 for view in self._views().users.values() if view.opened)

