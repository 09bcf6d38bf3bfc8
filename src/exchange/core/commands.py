"""Commands: what a caller asks of the core. Imperative names, immutable, numbered.

Every command carries `seq` (its position in the ordered input stream; the core ignores
a command whose `seq` it has already passed, which makes replays harmless) and `ts`
(nanoseconds, given by the caller: the core has no clock).

Commands are `NamedTuple`s: immutable, cheap to build in the interpreted gateway that
makes them, readable by the compiled core at the cost of a tuple index, and plain arrays
on the bus and in the journal. (Events, which the compiled core makes, are small native
classes instead: see `events`.)
Amounts are integers in the market's units (see `markets`). Optional strings are "",
optional amounts 0.
"""

from collections.abc import Sequence
from typing import Any, NamedTuple

from exchange.core.types import OrderType, SelfTrade, Side, TimeInForce


class OpenAccount(NamedTuple):
    seq: int
    ts: int
    user: int


class PlaceOrder(NamedTuple):
    seq: int
    ts: int
    order_id: int  # unique across the exchange; given by the gateway
    user: int
    market: str
    side: Side
    type: OrderType
    tif: TimeInForce
    price: int  # ticks; 0 for a market order
    qty: int  # lots; 0 for a market buy by quote budget only
    quote_qty: int = 0  # market buy: the most quote (minor units, fees included) to spend
    client_order_id: str = ""
    stp: SelfTrade = SelfTrade.CANCEL_TAKER
    # Set by risk, never by a client: the quote a market buy by quantity alone may spend
    # (all the user had; risk cannot see the book). Apart from `quote_qty`, so that the
    # order still shows what its owner asked for.
    budget: int = 0


class CancelOrder(NamedTuple):
    """Cancel one order, named by `order_id`, or by `client_order_id` when that is 0."""

    seq: int
    ts: int
    user: int
    order_id: int
    client_order_id: str = ""
    market: str = ""  # filled in by risk, which knows where the order rests


class CancelAll(NamedTuple):
    seq: int
    ts: int
    user: int
    market: str = ""  # "" cancels the user's orders in every market


class ReduceOrder(NamedTuple):
    """Take `reduce_by` lots off a resting order, keeping its place in the queue.

    Reducing by at least what remains cancels the order: a fill racing the reduction
    can never leave more than the user asked for.
    """

    seq: int
    ts: int
    user: int
    order_id: int
    reduce_by: int
    client_order_id: str = ""
    market: str = ""


Command = OpenAccount | PlaceOrder | CancelOrder | CancelAll | ReduceOrder


def place_order_from_list(fields: Sequence[Any]) -> PlaceOrder:
    """Rebuild a PlaceOrder from its fields as plain JSON gives them back (enums as ints)."""
    values = list(fields)
    # The enums before the tuple is built: compiled, a field is checked against its type.
    values[5], values[6], values[7] = Side(values[5]), OrderType(values[6]), TimeInForce(values[7])
    if len(values) > 12:
        values[12] = SelfTrade(values[12])
    return PlaceOrder(*values)
