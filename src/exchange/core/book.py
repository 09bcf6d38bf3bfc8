"""The continuous limit order book of one market, and matching against it.

Book layout
    Each side maps a price to a `Level`: the resting orders at that price, oldest first,
    linked through their records (`Order.prev`, `Order.next`), and their total size. A
    heap of keys (the price for asks, minus the price for bids) finds the best level;
    its top always names a live level. An index maps order id to order.
    A resting order is the record of `orders`: the book writes its `book_left`, `level`,
    `prev` and `next` and reads its `command`, the `PlaceOrder` that created it. Run
    beside risk in one process (`Exchange`), the book rests the record risk made for the
    order rather than one of its own: one record per order, not two.

Ordering invariant
    Price-time priority: a taker meets the best price first and, within a level, the
    oldest order first. A trade's price is the resting order's. At rest the book is
    never crossed: every bid is below every ask.

Cancel and reduce
    O(1): the order is found by id and unlinked from its level. Reducing keeps the
    order's place; it never grows an order.

Trust
    The book trusts its input: risk has checked users, sizes, funds and that a cancel or
    reduction names the user's own order. A duplicate order id is a broken invariant and
    raises. Expected refusals (post-only would take, fill-or-kill cannot fill, order no
    longer in the book) are events.

Cost
    Resting an order: one record (unless risk made it), one dict insert, at most one
    heap push, and two events. Cancelling: one dict pop and two events. Matching:
    constant work per fill and per level touched.
"""

from collections.abc import Callable, Iterator
from heapq import heapify, heappop, heappush
from typing import Any, Final, Protocol

from exchange.core.commands import CancelOrder, PlaceOrder, ReduceOrder, place_order_from_list
from exchange.core.events import (
    CancelRejected,
    Event,
    LevelChanged,
    OrderAccepted,
    OrderCancelled,
    OrderDone,
    OrderReduced,
    OrderRejected,
    TradeExecuted,
)
from exchange.core.levels import Level
from exchange.core.markets import Market
from exchange.core.orders import Order
from exchange.core.types import (
    CancelReason,
    OrderType,
    Reject,
    SelfTrade,
    Side,
    TimeInForce,
)

# Enum members the hot paths compare with, as constants: compiled, a `Final` is a C static,
# where anything else is a lookup in the module's dict.
BUY: Final = Side.BUY
SELL: Final = Side.SELL
LIMIT: Final = OrderType.LIMIT
IOC: Final = TimeInForce.IOC
FOK: Final = TimeInForce.FOK
POST_ONLY: Final = TimeInForce.POST_ONLY
EXPIRED: Final = CancelReason.EXPIRED
SELF_TRADE: Final = CancelReason.SELF_TRADE
CANCEL_TAKER: Final = SelfTrade.CANCEL_TAKER
CANCEL_MAKER: Final = SelfTrade.CANCEL_MAKER
_NO_LIMIT: Final = 1 << 62  # a key no price reaches: market orders take whatever is there
_UNLIMITED_QTY: Final = 1 << 62  # a quote-budget market buy is bounded by money, not lots

# Why matching stopped taking.
FILLED: Final = 1
AT_LIMIT: Final = 2  # nothing left at or better than the limit
OUT_OF_BUDGET: Final = 3  # the quote budget cannot pay for one more lot
SELF_TRADED: Final = 4


class Risk(Protocol):
    """Risk in the same process as the book, told what matching does as it does it.

    Given one, the book reports each fill's resting side at once, the incoming order's
    side once for all it took, and every resting order that is reduced or leaves without
    filling (cancelled, reduced to nothing, cancelled by self-trade prevention), with the
    records in hand: risk then needs no events and no lookups, and settles the taker
    once however many orders it met (see `Exchange`).
    """

    def fill(self, maker: Order, notional: int, qty: int, fee: int) -> None:
        """Settle the maker's side of one trade; close it if this filled it."""

    def took(self, taker: Order, notional: int, qty: int, fee: int) -> None:
        """Settle the taker's side of all its trades in one command."""

    def reduced(self, order: Order, remaining: int) -> None:
        """Release what a resting order reduced to `remaining` lots no longer needs."""

    def closed(self, order: Order) -> None:
        """Release a resting order that left the book without filling."""


class OrderBook:
    def __init__(self, market: Market, risk: Risk | None = None) -> None:
        self.market = market
        self.symbol = market.symbol
        self.risk = risk
        self._bids: dict[int, Level] = {}
        self._asks: dict[int, Level] = {}
        self._bid_keys: list[int] = []  # heap of -price
        self._ask_keys: list[int] = []  # heap of price
        self._orders: dict[int, Order] = {}
        self.trade_id = 0
        self.version = 0  # numbers LevelChanged events

    # ---- commands -------------------------------------------------------------------

    def place(self, cmd: PlaceOrder, out: list[Event], order: Order | None = None) -> None:
        """Match an incoming order, rest what may rest, and append what happened to `out`.

        `order` is the record risk made for `cmd`, to rest instead of a new one.
        """
        order_id, side, tif, qty = cmd.order_id, cmd.side, cmd.tif, cmd.qty
        if order_id in self._orders:
            raise ValueError(f"order id {order_id} is already in the book")
        buy = side is BUY
        limit = cmd.type is LIMIT
        if limit:
            limit_key = cmd.price if buy else -cmd.price
            opposite = self._ask_keys if buy else self._bid_keys
            if not opposite or opposite[0] > limit_key:
                # The common case: a limit order that does not cross goes straight to rest.
                if tif is FOK:
                    out.append(_rejected(cmd, Reject.FOK_CANNOT_FILL))
                    return
                out.append(_accepted(cmd))
                if tif is IOC:
                    out.append(_cancelled(cmd, qty, EXPIRED))
                else:
                    self._rest(cmd, qty, out, order)
                return
            if tif is POST_ONLY:
                out.append(_rejected(cmd, Reject.POST_ONLY_WOULD_TAKE))
                return
            if tif is FOK and self._fillable(cmd, limit_key) < qty:
                out.append(_rejected(cmd, Reject.FOK_CANNOT_FILL))
                return
        else:
            limit_key = _NO_LIMIT
        out.append(_accepted(cmd))
        budget = (cmd.budget or cmd.quote_qty) if buy else 0
        left, stop = self._match(cmd, limit_key, qty or _UNLIMITED_QTY, budget, out, order)
        if stop == FILLED or (stop == OUT_OF_BUDGET and not qty):
            out.append(OrderDone(cmd.seq, cmd.ts, order_id, cmd.user, self.symbol, side))
        elif stop == SELF_TRADED:
            out.append(_cancelled(cmd, left if qty else 0, SELF_TRADE))
        elif limit and tif is not IOC:
            self._rest(cmd, left, out, order)
        else:  # a quote-only order has no lots to report
            out.append(_cancelled(cmd, left if qty else 0, EXPIRED))

    def cancel(self, cmd: CancelOrder, out: list[Event]) -> None:
        """Take a resting order of `cmd.user` out of the book."""
        order = self._orders.get(cmd.order_id)
        if order is None:
            out.append(CancelRejected(cmd.seq, cmd.ts, cmd.order_id, cmd.user,
                                      cmd.client_order_id, Reject.ORDER_NOT_IN_BOOK))
            return
        self.remove(order, cmd.seq, cmd.ts, CancelReason.USER, out)

    def reduce(self, cmd: ReduceOrder, out: list[Event]) -> None:
        """Take `cmd.reduce_by` lots off a resting order, keeping its priority."""
        order = self._orders.get(cmd.order_id)
        if order is None:
            out.append(CancelRejected(cmd.seq, cmd.ts, cmd.order_id, cmd.user,
                                      cmd.client_order_id, Reject.ORDER_NOT_IN_BOOK))
            return
        if cmd.reduce_by >= order.book_left:
            self.remove(order, cmd.seq, cmd.ts, CancelReason.REDUCED, out)
            return
        remaining = order.book_left = order.book_left - cmd.reduce_by
        level = order.level
        assert level is not None, "a resting order has its level"
        level.total -= cmd.reduce_by
        out.append(OrderReduced(cmd.seq, cmd.ts, cmd.order_id, cmd.user, self.symbol,
                                level.side, cmd.reduce_by, remaining))
        self.version += 1
        out.append(LevelChanged(cmd.seq, self.symbol, level.side, level.price, level.total,
                                self.version))
        if self.risk is not None:
            self.risk.reduced(order, remaining)

    # ---- matching -------------------------------------------------------------------

    def _match(
        self, cmd: PlaceOrder, limit_key: int, qty: int, budget: int, out: list[Event],
        order: Order | None,
    ) -> tuple[int, int]:
        """Take liquidity up to `limit_key`, `qty` lots and (if not 0) `budget` quote;
        return the lots not taken and why it stopped.

        `order` is the taker's record, which `self.risk` (if any) needs.
        """
        seq, ts, order_id, user, side, stp = (cmd.seq, cmd.ts, cmd.order_id, cmd.user,
                                              cmd.side, cmd.stp)
        if side is BUY:
            levels, keys, sign, maker_side = self._asks, self._ask_keys, 1, SELL
        else:
            levels, keys, sign, maker_side = self._bids, self._bid_keys, -1, BUY
        market, symbol, risk, index = self.market, self.symbol, self.risk, self._orders
        maker_rate, taker_rate = market.maker_fee_ppm, market.taker_fee_ppm
        # What the taker took, to settle at once when it is done (see `Risk`).
        taken_qty = taken_notional = taken_fees = 0
        bounded = budget > 0  # the budget may reach 0; "no budget" is 0 only on entry
        stop = AT_LIMIT
        while keys:
            key = keys[0]
            if key > limit_key:
                break
            price = key * sign
            level = levels[price]
            before = level.total
            maker = level.head
            while maker is not None:
                following = maker.next
                maker_left = maker.book_left
                placed = maker.command
                maker_id, maker_user = placed.order_id, placed.user
                if maker_user == user:
                    if stp is not CANCEL_TAKER:
                        level.unlink(maker)
                        del index[maker_id]
                        maker.book_left = 0
                        level.total -= maker_left
                        out.append(OrderCancelled(seq, ts, maker_id, user, symbol, maker_side,
                                                  maker_left, SELF_TRADE))
                        if risk is not None:
                            risk.closed(maker)
                    if stp is not CANCEL_MAKER:
                        stop = SELF_TRADED
                        break
                    maker = following
                    continue
                fill = qty if qty < maker_left else maker_left
                if bounded:
                    fill = min(fill, market.affordable(budget, price, taker_rate))
                    if not fill:
                        stop = OUT_OF_BUDGET
                        break
                notional = market.notional(price, fill)
                maker_fee = market.fee(notional, maker_rate)
                taker_fee = market.fee(notional, taker_rate)
                if bounded:
                    budget -= notional + taker_fee
                qty -= fill
                maker_left -= fill
                maker.book_left = maker_left
                level.total -= fill
                self.trade_id += 1
                out.append(TradeExecuted(seq, ts, symbol, self.trade_id, price, fill, side,
                                         maker_id, maker_user, order_id, user, maker_fee,
                                         taker_fee))
                if risk is not None:
                    risk.fill(maker, notional, fill, maker_fee)
                    taken_qty += fill
                    taken_notional += notional
                    taken_fees += taker_fee
                if not maker_left:
                    level.unlink(maker)
                    del index[maker_id]
                    out.append(OrderDone(seq, ts, maker_id, maker_user, symbol, maker_side))
                if not qty:
                    stop = FILLED
                    break
                maker = following
            if level.total != before:
                self.version += 1
                out.append(LevelChanged(seq, symbol, maker_side, price, level.total,
                                        self.version))
            if not level.total:
                self._drop_level(level)
            if stop != AT_LIMIT:
                break
        if taken_qty and risk is not None and order is not None:
            risk.took(order, taken_notional, taken_qty, taken_fees)
        return qty, stop

    def _fillable(self, cmd: PlaceOrder, limit_key: int) -> int:
        """Count what a fill-or-kill order could take, honouring self-trade prevention."""
        if cmd.side is BUY:
            levels, keys, sign = self._asks, self._ask_keys, 1
        else:
            levels, keys, sign = self._bids, self._bid_keys, -1
        total = 0
        for key in sorted({k for k in keys if k <= limit_key and k * sign in levels}):
            for order in levels[key * sign].orders():
                if order.command.user == cmd.user:
                    if cmd.stp is CANCEL_MAKER:
                        continue
                    return total
                total += order.book_left
                if total >= cmd.qty:
                    return total
        return total

    # ---- resting and removing -------------------------------------------------------

    def _rest(self, cmd: PlaceOrder, qty: int, out: list[Event], order: Order | None) -> None:
        """Rest `qty` lots of a limit order at the back of its level."""
        price, side = cmd.price, cmd.side
        levels = self._bids if side is BUY else self._asks
        level = levels.get(price)
        if level is None:
            level = levels[price] = self._new_level(side, price)
        if order is None:
            order = Order(cmd)
        order.book_left = qty
        order.level = level
        level.append(order)
        level.total += qty
        self._orders[cmd.order_id] = order
        self.version += 1
        out.append(LevelChanged(cmd.seq, self.symbol, side, price, level.total, self.version))

    def _new_level(self, side: Side, price: int) -> Level:
        """Make the level of a price that has none yet; the caller files it under `price`."""
        if side is BUY:
            levels, keys, key = self._bids, self._bid_keys, -price
        else:
            levels, keys, key = self._asks, self._ask_keys, price
        heappush(keys, key)
        if len(keys) > 2 * len(levels) + 64:
            # Levels removed below the top leave stale keys behind; drop them now and then.
            sign = 1 if key > 0 else -1
            keys[:] = [p * sign for p in levels]
            keys.append(key)
            heapify(keys)
        return Level(side, price)

    def _drop_level(self, level: Level) -> None:
        """Forget an empty level, and any keys at the top of its heap left stale."""
        if level.side is BUY:
            levels, keys, sign = self._bids, self._bid_keys, -1
        else:
            levels, keys, sign = self._asks, self._ask_keys, 1
        del levels[level.price]
        while keys and keys[0] * sign not in levels:
            heappop(keys)

    def remove(self, order: Order, seq: int, ts: int, reason: CancelReason,
               out: list[Event]) -> None:
        """Take a resting order out and report it gone (risk beside the book, which found
        the record itself, cancels this way)."""
        placed = order.command
        del self._orders[placed.order_id]
        left = order.book_left
        level = order.level
        assert level is not None, "a resting order has its level"
        level.unlink(order)
        order.book_left = 0
        level.total -= left
        if not level.total:
            self._drop_level(level)
        symbol, side = self.symbol, level.side
        out.append(OrderCancelled(seq, ts, placed.order_id, placed.user, symbol, side, left,
                                  reason))
        self.version += 1
        out.append(LevelChanged(seq, symbol, side, level.price, level.total, self.version))
        if self.risk is not None:
            self.risk.closed(order)

    # ---- queries --------------------------------------------------------------------

    def best_bid(self) -> int | None:
        return -self._bid_keys[0] if self._bid_keys else None

    def best_ask(self) -> int | None:
        return self._ask_keys[0] if self._ask_keys else None

    def depth(self, side: Side, limit: int = 50) -> list[tuple[int, int]]:
        """Return up to `limit` levels of one side as (price, total size), best first."""
        levels = self._bids if side is BUY else self._asks
        prices = sorted(levels, reverse=side is BUY)[:limit]
        return [(p, levels[p].total) for p in prices]

    def resting(self, side: Side) -> Iterator[tuple[PlaceOrder, int]]:
        """Yield one side's orders in priority order, as (command, remaining lots)."""
        levels = self._bids if side is BUY else self._asks
        for price in sorted(levels, reverse=side is BUY):
            for order in levels[price].orders():
                yield order.command, order.book_left

    def __len__(self) -> int:
        return len(self._orders)

    # ---- state ----------------------------------------------------------------------

    def to_state(self) -> dict[str, Any]:
        """Return the book as plain data, in priority order, independent of its layout."""
        return {
            "trade_id": self.trade_id,
            "version": self.version,
            "bids": [[remaining, list(placed)] for placed, remaining in self.resting(BUY)],
            "asks": [[remaining, list(placed)] for placed, remaining in self.resting(SELL)],
        }

    @classmethod
    def from_state(
        cls, market: Market, state: dict[str, Any],
        records: Callable[[PlaceOrder], Order] = Order,
    ) -> "OrderBook":
        """Rebuild a book from `to_state`; `records` gives each order's record (risk's)."""
        book = cls(market)
        for name, levels in (("bids", book._bids), ("asks", book._asks)):
            for remaining, fields in state[name]:
                placed = place_order_from_list(fields)
                level = levels.get(placed.price)
                if level is None:
                    level = levels[placed.price] = Level(placed.side, placed.price)
                order = records(placed)
                order.book_left = remaining
                order.level = level
                level.append(order)
                level.total += remaining
                book._orders[placed.order_id] = order
        book._bid_keys = [-p for p in book._bids]
        book._ask_keys = list(book._asks)
        heapify(book._bid_keys)
        heapify(book._ask_keys)
        book.trade_id = state["trade_id"]
        book.version = state["version"]
        return book


def _accepted(cmd: PlaceOrder) -> OrderAccepted:
    # A limit order never carries a quote quantity (risk refuses one that does).
    return OrderAccepted(cmd.seq, cmd.ts, cmd.order_id, cmd.user, cmd.market, cmd.side,
                         cmd.type, cmd.tif, cmd.price, cmd.qty, cmd.quote_qty,
                         cmd.client_order_id)


def _cancelled(cmd: PlaceOrder, left: int, reason: CancelReason) -> OrderCancelled:
    return OrderCancelled(cmd.seq, cmd.ts, cmd.order_id, cmd.user, cmd.market, cmd.side, left,
                          reason)


def _rejected(cmd: PlaceOrder, reason: Reject) -> OrderRejected:
    return OrderRejected(cmd.seq, cmd.ts, cmd.order_id, cmd.user, cmd.client_order_id, reason)
