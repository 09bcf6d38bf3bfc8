"""Events: what happened, in the past tense. Immutable, stamped with the command's seq and ts.

Life of an order: `OrderAccepted` or `OrderRejected`; then any number of
`TradeExecuted` and `OrderReduced`; then exactly one terminal event, `OrderDone` (fully
filled) or `OrderCancelled` (the rest is gone, with a reason). An order that rests emits
no terminal event until it leaves the book. `LevelChanged` reports the new total size
of a price level after every change, numbered per market by `version` with no gaps, so
a client can check it missed nothing.
"""

from typing import NamedTuple

from exchange.core.types import CancelReason, OrderType, Reject, Side, TimeInForce


class AccountOpened(NamedTuple):
    seq: int
    ts: int
    user: int


class OrderAccepted(NamedTuple):
    seq: int
    ts: int
    order_id: int
    user: int
    market: str
    side: Side
    type: OrderType
    tif: TimeInForce
    price: int
    qty: int
    quote_qty: int
    client_order_id: str


class OrderRejected(NamedTuple):
    """A new order was refused; nothing of it is held or rests."""

    seq: int
    ts: int
    order_id: int
    user: int
    client_order_id: str
    reason: Reject


class CancelRejected(NamedTuple):
    """A cancel or reduce was refused; the order it named is unchanged."""

    seq: int
    ts: int
    order_id: int
    user: int
    client_order_id: str
    reason: Reject


class TradeExecuted(NamedTuple):
    seq: int
    ts: int
    market: str
    trade_id: int  # numbered per market from 1
    price: int  # always the resting (maker) order's price
    qty: int
    taker_side: Side
    maker_order_id: int
    maker_user: int
    taker_order_id: int
    taker_user: int
    maker_fee: int  # quote minor units
    taker_fee: int


class OrderReduced(NamedTuple):
    seq: int
    ts: int
    order_id: int
    user: int
    market: str
    side: Side
    reduced_by: int
    remaining: int


class OrderCancelled(NamedTuple):
    seq: int
    ts: int
    order_id: int
    user: int
    market: str
    side: Side
    qty: int  # the lots that were still open and are now gone
    reason: CancelReason


class OrderDone(NamedTuple):
    """The order is completely filled (or, for a quote budget, spent) and has left."""

    seq: int
    ts: int
    order_id: int
    user: int
    market: str
    side: Side


class LevelChanged(NamedTuple):
    seq: int
    market: str
    side: Side
    price: int
    qty: int  # the level's new total; 0 means the level is gone
    version: int


class BalancesChanged(NamedTuple):
    """A user's balances after something changed them: (asset, available, held) each.

    Risk reports these so that gateways show balances without redoing risk's arithmetic.
    """

    seq: int
    user: int
    balances: tuple[tuple[str, int, int], ...]


Event = (
    AccountOpened
    | OrderAccepted
    | OrderRejected
    | CancelRejected
    | TradeExecuted
    | OrderReduced
    | OrderCancelled
    | OrderDone
    | LevelChanged
    | BalancesChanged
)
