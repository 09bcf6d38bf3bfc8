"""Events: what happened, in the past tense. Immutable, stamped with the command's seq and ts.

Life of an order: `OrderAccepted` or `OrderRejected`; for a stop order, later
`OrderTriggered`; then any number of `TradeExecuted` and `OrderReduced`; then exactly one
terminal event, `OrderDone` (fully filled) or `OrderCancelled` (the rest is gone, with a
reason). An order that rests, or waits for its stop, emits no terminal event until it
leaves the book. `LevelChanged` reports the new total size
of a price level after every change, numbered per market by `version` with no gaps, so
a client can check it missed nothing.

Each event is a small native class with read-only fields (compiled, writing one raises;
mypy refuses it either way), built by its constructor with the fields in order: see
`message`. The core makes two or more for every command, and compiled, one of these
costs a fifth of a `NamedTuple`, whose constructor is Python code the compiled core
would call back into.
"""

from typing import Final, final

from mypy_extensions import mypyc_attr

from exchange.core.message import Message
from exchange.core.types import CancelReason, OrderType, Reject, Side, TimeInForce, Trigger


@final
@mypyc_attr(acyclic=True)
class AccountOpened(Message):
    __slots__ = ("seq", "ts", "user")
    _fields = ("seq", "ts", "user")

    def __init__(self, seq: int, ts: int, user: int) -> None:
        self.seq: Final = seq
        self.ts: Final = ts
        self.user: Final = user


@final
@mypyc_attr(acyclic=True)
class OrderAccepted(Message):
    __slots__ = ("client_order_id", "market", "order_id", "price", "qty", "quote_qty", "seq",
                 "side", "stop_price", "tif", "trigger", "ts", "type", "user")
    _fields = ("seq", "ts", "order_id", "user", "market", "side", "type", "tif", "price", "qty",
               "quote_qty", "client_order_id", "stop_price", "trigger")

    def __init__(self, seq: int, ts: int, order_id: int, user: int, market: str, side: Side,
                 type: OrderType, tif: TimeInForce, price: int, qty: int, quote_qty: int,
                 client_order_id: str, stop_price: int = 0,
                 trigger: Trigger = Trigger.NONE) -> None:
        self.seq: Final = seq
        self.ts: Final = ts
        self.order_id: Final = order_id
        self.user: Final = user
        self.market: Final = market
        self.side: Final = side
        self.type: Final = type
        self.tif: Final = tif
        self.price: Final = price
        self.qty: Final = qty
        self.quote_qty: Final = quote_qty
        self.client_order_id: Final = client_order_id
        # A stop order waits, off the book, for the last trade price to reach its stop.
        self.stop_price: Final = stop_price
        self.trigger: Final = trigger


@mypyc_attr(acyclic=True)
class _Refusal(Message):
    """A command refused, with why; the two kinds differ in what was refused."""

    __slots__ = ("client_order_id", "order_id", "reason", "seq", "ts", "user")
    _fields = ("seq", "ts", "order_id", "user", "client_order_id", "reason")

    def __init__(self, seq: int, ts: int, order_id: int, user: int, client_order_id: str,
                 reason: Reject) -> None:
        self.seq: Final = seq
        self.ts: Final = ts
        self.order_id: Final = order_id
        self.user: Final = user
        self.client_order_id: Final = client_order_id
        self.reason: Final = reason


@final
@mypyc_attr(acyclic=True)
class OrderRejected(_Refusal):
    """A new order was refused; nothing of it is held or rests."""

    __slots__ = ()


@final
@mypyc_attr(acyclic=True)
class CancelRejected(_Refusal):
    """A cancel or reduce was refused; the order it named is unchanged."""

    __slots__ = ()


@final
@mypyc_attr(acyclic=True)
class TradeExecuted(Message):
    __slots__ = ("maker_fee", "maker_order_id", "maker_user", "market", "price", "qty", "seq",
                 "taker_fee", "taker_order_id", "taker_side", "taker_user", "trade_id", "ts")
    _fields = ("seq", "ts", "market", "trade_id", "price", "qty", "taker_side",
               "maker_order_id", "maker_user", "taker_order_id", "taker_user", "maker_fee",
               "taker_fee")

    def __init__(self, seq: int, ts: int, market: str, trade_id: int, price: int, qty: int,
                 taker_side: Side, maker_order_id: int, maker_user: int, taker_order_id: int,
                 taker_user: int, maker_fee: int, taker_fee: int) -> None:
        self.seq: Final = seq
        self.ts: Final = ts
        self.market: Final = market
        self.trade_id: Final = trade_id  # numbered per market from 1
        self.price: Final = price  # always the resting (maker) order's price
        self.qty: Final = qty
        self.taker_side: Final = taker_side
        self.maker_order_id: Final = maker_order_id
        self.maker_user: Final = maker_user
        self.taker_order_id: Final = taker_order_id
        self.taker_user: Final = taker_user
        self.maker_fee: Final = maker_fee  # quote minor units
        self.taker_fee: Final = taker_fee


@final
@mypyc_attr(acyclic=True)
class OrderReduced(Message):
    __slots__ = ("market", "order_id", "reduced_by", "remaining", "seq", "side", "ts", "user")
    _fields = ("seq", "ts", "order_id", "user", "market", "side", "reduced_by", "remaining")

    def __init__(self, seq: int, ts: int, order_id: int, user: int, market: str, side: Side,
                 reduced_by: int, remaining: int) -> None:
        self.seq: Final = seq
        self.ts: Final = ts
        self.order_id: Final = order_id
        self.user: Final = user
        self.market: Final = market
        self.side: Final = side
        self.reduced_by: Final = reduced_by
        self.remaining: Final = remaining


@final
@mypyc_attr(acyclic=True)
class OrderCancelled(Message):
    __slots__ = ("market", "order_id", "qty", "reason", "seq", "side", "ts", "user")
    _fields = ("seq", "ts", "order_id", "user", "market", "side", "qty", "reason")

    def __init__(self, seq: int, ts: int, order_id: int, user: int, market: str, side: Side,
                 qty: int, reason: CancelReason) -> None:
        self.seq: Final = seq
        self.ts: Final = ts
        self.order_id: Final = order_id
        self.user: Final = user
        self.market: Final = market
        self.side: Final = side
        self.qty: Final = qty  # the lots that were still open and are now gone
        self.reason: Final = reason


@mypyc_attr(acyclic=True)
class _Moment(Message):
    """A moment in an order's life that needs no more than which order it was."""

    __slots__ = ("market", "order_id", "seq", "side", "ts", "user")
    _fields = ("seq", "ts", "order_id", "user", "market", "side")

    def __init__(self, seq: int, ts: int, order_id: int, user: int, market: str,
                 side: Side) -> None:
        self.seq: Final = seq
        self.ts: Final = ts
        self.order_id: Final = order_id
        self.user: Final = user
        self.market: Final = market
        self.side: Final = side


@final
@mypyc_attr(acyclic=True)
class OrderDone(_Moment):
    """The order is completely filled (or, for a quote budget, spent) and has left."""

    __slots__ = ()


@final
@mypyc_attr(acyclic=True)
class OrderTriggered(_Moment):
    """A stop order's stop price was reached: from now on it is its type, limit or market,
    placed at this moment (its trades, rest or end follow, with the same seq)."""

    __slots__ = ()


@final
@mypyc_attr(acyclic=True)
class LevelChanged(Message):
    __slots__ = ("market", "price", "qty", "seq", "side", "version")
    _fields = ("seq", "market", "side", "price", "qty", "version")

    def __init__(self, seq: int, market: str, side: Side, price: int, qty: int,
                 version: int) -> None:
        self.seq: Final = seq
        self.market: Final = market
        self.side: Final = side
        self.price: Final = price
        self.qty: Final = qty  # the level's new total; 0 means the level is gone
        self.version: Final = version


@final
@mypyc_attr(acyclic=True)
class BalancesChanged(Message):
    """A user's balances after something changed them: (asset, available, held) each.

    Risk reports these so that gateways show balances without redoing risk's arithmetic.
    """

    __slots__ = ("balances", "seq", "user")
    _fields = ("seq", "user", "balances")

    def __init__(self, seq: int, user: int,
                 balances: tuple[tuple[str, int, int], ...]) -> None:
        self.seq: Final = seq
        self.user: Final = user
        self.balances: Final = balances


Event = (
    AccountOpened
    | OrderAccepted
    | OrderTriggered
    | OrderRejected
    | CancelRejected
    | TradeExecuted
    | OrderReduced
    | OrderCancelled
    | OrderDone
    | LevelChanged
    | BalancesChanged
)

# The fields of each event whose values are enum members (the wire sends their numbers).
ENUM_FIELDS: dict[type, dict[str, type]] = {
    OrderAccepted: {"side": Side, "type": OrderType, "tif": TimeInForce, "trigger": Trigger},
    OrderTriggered: {"side": Side},
    OrderRejected: {"reason": Reject},
    CancelRejected: {"reason": Reject},
    TradeExecuted: {"taker_side": Side},
    OrderReduced: {"side": Side},
    OrderCancelled: {"side": Side, "reason": CancelReason},
    OrderDone: {"side": Side},
    LevelChanged: {"side": Side},
}
