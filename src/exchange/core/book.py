"""The continuous limit order book of one market, and matching against it.

Book layout
    Each side is a `levels.Ladder`: its price levels linked from the best price to the
    worst, each level's resting orders linked oldest first. An index finds a resting
    order by (user, order id) for a cancel or a reduction from a risk apart.
    A resting order is the record of `orders`: the book writes its `book_left`, `level`,
    `prev` and `next` and reads the rest. Run beside risk in one process (`Exchange`),
    the book rests the record risk made for the order: one record per order, not two.

Ordering invariant
    Price-time priority: a taker meets the best price first and, within a level, the
    oldest order first. A trade's price is the resting order's. At rest the book is
    never crossed: every bid is below every ask.

Stop orders
    A stop order waits off the book (`stops.Stops`) until the last trade price reaches
    its stop; then, in the same command, it is placed as its type, limit or market, and
    takes its place in time at that moment. A stop already reached on arrival is
    refused. What a triggered order's own trades reach fires next, oldest first.

Cancel and reduce
    O(1): the order is found by id and unlinked from its level. Reducing keeps the
    order's place; it never grows an order. A waiting stop order can be cancelled, not
    reduced (it is in no level yet).

Trust
    The book trusts its input: risk has checked users, sizes, funds and that a cancel or
    reduction names the user's own order. A duplicate order id is a broken invariant and
    raises. Expected refusals (post-only would take, fill-or-kill cannot fill, order no
    longer in the book) are events.

Cost
    Resting an order: a lookup of its price, an index insert, and two events (a new
    price also walks the ladder to its place). Cancelling: an index removal and two
    events. Matching: constant work per fill and per level touched.
"""

from collections.abc import Callable, Iterator
from typing import Any, Final

from mypy_extensions import i64

from exchange.core.commands import (
    CancelOrder,
    PlaceOrder,
    ReduceOrder,
    place_order_from_list,
    place_order_to_list,
)
from exchange.core.events import (
    CancelRejected,
    Event,
    LevelChanged,
    OrderAccepted,
    OrderCancelled,
    OrderDone,
    OrderReduced,
    OrderRejected,
    OrderTriggered,
    TradeExecuted,
)
from exchange.core.levels import Ladder
from exchange.core.markets import Market
from exchange.core.orders import Order, OrderIndex
from exchange.core.settlement import Settlement
from exchange.core.stops import Stops, reached
from exchange.core.types import (
    CancelReason,
    OrderType,
    Reject,
    SelfTrade,
    Side,
    TimeInForce,
    Trigger,
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
NO_TRIGGER: Final = Trigger.NONE
_NO_LIMIT: Final = 1 << 62  # a key no price reaches: market orders take whatever is there
_UNLIMITED_QTY: Final = 1 << 62  # a quote-budget market buy is bounded by money, not lots

# Why matching stopped taking.
FILLED: Final = 1
AT_LIMIT: Final = 2  # nothing left at or better than the limit
OUT_OF_BUDGET: Final = 3  # the quote budget cannot pay for one more lot
SELF_TRADED: Final = 4


class OrderBook:
    def __init__(self, market: Market, risk: Settlement | None = None) -> None:
        self.market = market
        self.symbol = market.symbol
        # Risk in the same process, told what matching does as it does it (see
        # `settlement.Settlement`); None for a book apart, whose events risk reads.
        self.risk = risk
        self._bids = Ladder(BUY)
        self._asks = Ladder(SELL)
        self._orders = OrderIndex()  # resting and waiting (stop) orders
        self.stops = Stops()
        self.last_price: i64 = 0  # of the last trade; 0 before the first
        self.trade_id: i64 = 0
        self.version: i64 = 0  # numbers LevelChanged events

    # ---- commands -------------------------------------------------------------------

    def place(self, order: Order, out: list[Event]) -> None:
        """Match an incoming order, rest what may rest (a stop order: wait for its stop),
        and append what happened to `out`, with what the order's trades triggered.

        `order` is the order's record: risk's, or a new one for a book apart.
        """
        if self._orders.has_id(order.order_id):
            raise ValueError(f"order id {order.order_id} is already in the book")
        if order.trigger is not NO_TRIGGER:
            self._arm(order, out)
            return
        self._take(order, order.seq, order.ts, out, True)
        if len(self.stops):
            self._fire(order.seq, order.ts, out)

    def _take(self, order: Order, seq: int, ts: int, out: list[Event], fresh: bool) -> None:
        """Match an order placed now (`fresh`) or a stop order triggered by command `seq`,
        then rest it or end it. Risk beside the book hears of one that did not rest."""
        side, tif, qty = order.side, order.tif, order.qty
        buy = side is BUY
        limit = order.type is LIMIT
        if limit:
            best = self._asks.best if buy else self._bids.best
            crosses = best is not None and (
                best.price <= order.price if buy else best.price >= order.price)
            refusal: Reject | None = None
            if tif is POST_ONLY and crosses:
                refusal = Reject.POST_ONLY_WOULD_TAKE
            elif tif is FOK and (not crosses or self._fillable(order) < qty):
                refusal = Reject.FOK_CANNOT_FILL
            if refusal is not None:
                # A triggered order was accepted long ago: what cannot fill expires.
                out.append(_rejected(order, refusal) if fresh
                           else _cancelled(order, seq, ts, qty, EXPIRED))
                self._closed(order)
                return
            if fresh:
                out.append(_accepted(order))
            if not crosses:
                # The common case: a limit order that does not cross goes straight to rest.
                if tif is IOC:
                    out.append(_cancelled(order, seq, ts, qty, EXPIRED))
                    self._closed(order)
                else:
                    self._rest(order, qty, seq, out)
                return
        elif fresh:
            out.append(_accepted(order))
        budget = (order.budget or order.quote_qty) if buy else 0
        left, stop = self._match(order, seq, ts, qty or _UNLIMITED_QTY, budget, out)
        if stop == FILLED or (stop == OUT_OF_BUDGET and not qty):
            out.append(OrderDone(seq, ts, order.order_id, order.user, self.symbol, side))
        elif stop == SELF_TRADED:
            out.append(_cancelled(order, seq, ts, left if qty else 0, SELF_TRADE))
        elif limit and tif is not IOC:
            self._rest(order, left, seq, out)
            return
        else:  # a quote-only order has no lots to report
            out.append(_cancelled(order, seq, ts, left if qty else 0, EXPIRED))
        self._closed(order)

    def _arm(self, order: Order, out: list[Event]) -> None:
        """Accept a stop order to wait off the book, unless its stop is already reached."""
        if reached(order, self.last_price):
            out.append(_rejected(order, Reject.WOULD_TRIGGER_IMMEDIATELY))
            self._closed(order)
            return
        out.append(_accepted(order))
        order.armed = True
        self.stops.add(order)
        self._orders.add(order)

    def _fire(self, seq: int, ts: int, out: list[Event]) -> None:
        """Place the stop orders the last trades reached, oldest first, as if they came
        now, and those their own trades reach, until no more are reached."""
        while True:
            due = self.stops.due(self.last_price)
            if not due:
                return
            for order in due:
                order.armed = False
                self._orders.remove(order)
                out.append(OrderTriggered(seq, ts, order.order_id, order.user, self.symbol,
                                          order.side))
                self._take(order, seq, ts, out, False)

    def _side(self, order: Order) -> Ladder:
        return self._bids if order.side is BUY else self._asks

    def _closed(self, order: Order) -> None:
        """An order that will not rest is done with: risk beside the book releases it."""
        if self.risk is not None:
            self.risk.closed(order)

    def cancel(self, cmd: CancelOrder, out: list[Event]) -> None:
        """Take a resting order of `cmd.user` out of the book."""
        order = self._orders.get(cmd.user, cmd.order_id)
        if order is None:
            out.append(CancelRejected(cmd.seq, cmd.ts, cmd.order_id, cmd.user,
                                      cmd.client_order_id, Reject.ORDER_NOT_IN_BOOK))
            return
        self.remove(order, cmd.seq, cmd.ts, CancelReason.USER, out)

    def reduce(self, cmd: ReduceOrder, out: list[Event]) -> None:
        """Take `cmd.reduce_by` lots off a resting order, keeping its priority (a stop
        order waiting for its stop is not in the book: it can be cancelled, not reduced)."""
        order = self._orders.get(cmd.user, cmd.order_id)
        if order is None or order.armed:
            out.append(CancelRejected(cmd.seq, cmd.ts, cmd.order_id, cmd.user,
                                      cmd.client_order_id, Reject.ORDER_NOT_IN_BOOK))
            return
        if cmd.reduce_by >= order.book_left:
            self.remove(order, cmd.seq, cmd.ts, CancelReason.REDUCED, out)
            return
        reduce_by: i64 = cmd.reduce_by
        remaining = order.book_left = order.book_left - reduce_by
        level = self._side(order).at(order.price)
        level.total -= reduce_by
        out.append(OrderReduced(cmd.seq, cmd.ts, cmd.order_id, cmd.user, self.symbol,
                                level.side, reduce_by, remaining))
        self.version += 1
        out.append(LevelChanged(cmd.seq, self.symbol, level.side, level.price, level.total,
                                self.version))
        if self.risk is not None:
            self.risk.reduced(order, remaining)

    # ---- matching -------------------------------------------------------------------

    def _match(self, order: Order, seq: int, ts: int, qty: i64, budget: int,
               out: list[Event]) -> tuple[i64, int]:
        """Take liquidity up to the order's limit price, `qty` lots and (if not 0)
        `budget` quote, for command `seq`; return the lots not taken and why it stopped."""
        order_id, user, side, stp = order.order_id, order.user, order.side, order.stp
        buy = side is BUY
        ladder = self._asks if buy else self._bids
        maker_side = SELL if buy else BUY
        limit = order.type is LIMIT
        # Compare prices as a buyer would, negating a seller's: take while key <= limit_key.
        sign: i64 = 1 if buy else -1
        limit_key: i64 = order.price * sign if limit else _NO_LIMIT
        market, symbol, risk = self.market, self.symbol, self.risk
        maker_rate, taker_rate = market.maker_fee_ppm, market.taker_fee_ppm
        # What the taker took, to settle at once when it is done (see `Settlement`).
        taken_qty: i64 = 0
        taken_notional: i64 = 0
        taken_fees: i64 = 0
        bounded = budget > 0  # the budget may reach 0; "no budget" is 0 only on entry
        stop = AT_LIMIT
        level = ladder.best
        while level is not None:
            price = level.price
            if price * sign > limit_key:
                break
            worse = level.worse
            before = level.total
            maker = level.head
            while maker is not None:
                following = maker.next
                maker_left = maker.book_left
                maker_id, maker_user = maker.order_id, maker.user
                if maker_user == user:
                    if stp is not CANCEL_TAKER:
                        level.unlink(maker)
                        self._orders.remove(maker)
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
                self.last_price = price
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
                    self._orders.remove(maker)
                    out.append(OrderDone(seq, ts, maker_id, maker_user, symbol, maker_side))
                if not qty:
                    stop = FILLED
                    break
                if maker_left:
                    # The budget ran short of this maker. Fees round down trade by trade,
                    # so what is left may still pay for a lot as a trade of its own: try
                    # the same maker again (no lot affordable stops it above).
                    continue
                maker = following
            if level.total != before:
                self.version += 1
                out.append(LevelChanged(seq, symbol, maker_side, price, level.total,
                                        self.version))
            if not level.total:
                ladder.drop(level)
            if stop != AT_LIMIT:
                break
            level = worse
        if taken_qty and risk is not None:
            risk.took(order, taken_notional, taken_qty, taken_fees)
        return qty, stop

    def _fillable(self, order: Order) -> int:
        """Count what a fill-or-kill limit order could take, honouring self-trade
        prevention."""
        buy = order.side is BUY
        total = 0
        for level in (self._asks if buy else self._bids).levels():
            if level.price > order.price if buy else level.price < order.price:
                break
            for resting in level.orders():
                if resting.user == order.user:
                    if order.stp is CANCEL_MAKER:
                        continue
                    return total
                total += resting.book_left
                if total >= order.qty:
                    return total
        return total

    # ---- resting and removing -------------------------------------------------------

    def _rest(self, order: Order, qty: i64, seq: int, out: list[Event]) -> None:
        """Rest `qty` lots of a limit order at the back of its level."""
        level = self._side(order).at(order.price)
        level.append(order, qty)
        self._orders.add(order)
        self.version += 1
        out.append(LevelChanged(seq, self.symbol, order.side, order.price, level.total,
                                self.version))

    def remove(self, order: Order, seq: int, ts: int, reason: CancelReason,
               out: list[Event]) -> None:
        """Take a resting or waiting order out and report it gone (risk beside the book,
        which found the record itself, cancels this way)."""
        self._orders.remove(order)
        if order.armed:  # a stop order: nothing of it is in a level
            order.armed = False
            self.stops.remove(order)
            out.append(OrderCancelled(seq, ts, order.order_id, order.user, self.symbol,
                                      order.side, order.qty, reason))
            self._closed(order)
            return
        left = order.book_left
        level = self._side(order).at(order.price)
        level.unlink(order)
        order.book_left = 0
        level.total -= left
        side = level.side
        if not level.total:
            (self._bids if side is BUY else self._asks).drop(level)
        symbol = self.symbol
        out.append(OrderCancelled(seq, ts, order.order_id, order.user, symbol, side, left,
                                  reason))
        self.version += 1
        out.append(LevelChanged(seq, symbol, side, level.price, level.total, self.version))
        self._closed(order)

    # ---- queries --------------------------------------------------------------------

    def best_bid(self) -> int | None:
        best = self._bids.best
        return None if best is None else best.price

    def best_ask(self) -> int | None:
        best = self._asks.best
        return None if best is None else best.price

    def depth(self, side: Side, limit: int = 50) -> list[tuple[int, int]]:
        """Return up to `limit` levels of one side as (price, total size), best first."""
        found: list[tuple[int, int]] = []
        for level in (self._bids if side is BUY else self._asks).levels():
            if len(found) >= limit:
                break
            found.append((level.price, level.total))
        return found

    def resting(self, side: Side) -> Iterator[tuple[PlaceOrder, int]]:
        """Yield one side's orders in priority order, as (command, remaining lots)."""
        for level in (self._bids if side is BUY else self._asks).levels():
            for order in level.orders():
                yield order.command(), order.book_left

    def find(self, user: int, order_id: int) -> Order | None:
        """Return the resting order of `user` with `order_id`, if any."""
        return self._orders.get(user, order_id)

    def __len__(self) -> int:
        return len(self._orders)

    # ---- state ----------------------------------------------------------------------

    def to_state(self) -> dict[str, Any]:
        """Return the book as plain data, in priority order, independent of its layout.

        The last trade price and the waiting stop orders are written only once there are
        any, so a book that never had them is written as before stop orders existed.
        """
        state: dict[str, Any] = {
            "trade_id": self.trade_id,
            "version": self.version,
            "bids": [[remaining, place_order_to_list(placed)]
                     for placed, remaining in self.resting(BUY)],
            "asks": [[remaining, place_order_to_list(placed)]
                     for placed, remaining in self.resting(SELL)],
        }
        if self.last_price:
            state["last_price"] = self.last_price
        if len(self.stops):
            state["stops"] = [place_order_to_list(o.command()) for o in self.stops.orders()]
        return state

    @classmethod
    def from_state(
        cls, market: Market, state: dict[str, Any],
        records: Callable[[PlaceOrder], Order] = Order,
    ) -> "OrderBook":
        """Rebuild a book from `to_state`; `records` gives each order's record (risk's)."""
        book = cls(market)
        for name, ladder in (("bids", book._bids), ("asks", book._asks)):
            for remaining, fields in state[name]:
                order = records(place_order_from_list(fields))
                ladder.at(order.price).append(order, remaining)
                book._orders.add(order)
        for fields in state.get("stops", ()):
            order = records(place_order_from_list(fields))
            order.armed = True
            book.stops.add(order)
            book._orders.add(order)
        book.last_price = state.get("last_price", 0)
        book.trade_id = state["trade_id"]
        book.version = state["version"]
        return book


def _accepted(order: Order) -> OrderAccepted:
    # A limit order never carries a quote quantity (risk refuses one that does).
    return OrderAccepted(order.seq, order.ts, order.order_id, order.user, order.market,
                         order.side, order.type, order.tif, order.price, order.qty,
                         order.quote_qty, order.client_order_id, order.stop_price,
                         order.trigger)


def _cancelled(order: Order, seq: int, ts: int, left: int,
               reason: CancelReason) -> OrderCancelled:
    return OrderCancelled(seq, ts, order.order_id, order.user, order.market, order.side, left,
                          reason)


def _rejected(order: Order, reason: Reject) -> OrderRejected:
    return OrderRejected(order.seq, order.ts, order.order_id, order.user,
                         order.client_order_id, reason)
