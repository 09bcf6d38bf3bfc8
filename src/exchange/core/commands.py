"""Commands: what a caller asks of the core. Imperative names, immutable, numbered.

Every command carries `seq` (its position in the ordered input stream; the core ignores
a command whose `seq` it has already passed, which makes replays harmless) and `ts`
(nanoseconds, given by the caller: the core has no clock).

Commands are small native classes with read-only fields, like events (see `message`):
compiled, the core reads a field from the C struct and tells one command from another
by its type pointer, where a `NamedTuple` costs a generic attribute lookup for each
field and a lookup of the class in the module's dict for each `match`. (Measured with
the engine's workload: 3,578 instructions a command with NamedTuples, see
docs/benchmarks.md.) They iterate as their fields in order: plain arrays on the bus and
in the journal.
Amounts are integers in the market's units (see `markets`). Optional strings are "",
optional amounts 0. Fields are plain `int`s, not 64-bit ones: a command comes from
outside, and risk checks its numbers before anything relies on their size.
"""

from collections.abc import Sequence
from typing import Any, Final, final

from mypy_extensions import mypyc_attr

from exchange.core.message import Message
from exchange.core.types import OrderType, SelfTrade, Side, TimeInForce, Trigger


@mypyc_attr(acyclic=True)
class BaseCommand(Message):
    """What every command has: its place in the input stream and its time."""

    __slots__ = ("seq", "ts")

    def __init__(self, seq: int, ts: int) -> None:
        self.seq: Final = seq
        self.ts: Final = ts


@final
@mypyc_attr(acyclic=True)
class OpenAccount(BaseCommand):
    __slots__ = ("user",)
    _fields = ("seq", "ts", "user")

    def __init__(self, seq: int, ts: int, user: int) -> None:
        super().__init__(seq, ts)
        self.user: Final = user


@final
@mypyc_attr(acyclic=True)
class PlaceOrder(BaseCommand):
    __slots__ = ("budget", "client_order_id", "market", "order_id", "price", "qty",
                 "quote_qty", "side", "stop_price", "stp", "tif", "trigger", "type", "user")
    _fields = ("seq", "ts", "order_id", "user", "market", "side", "type", "tif", "price", "qty",
               "quote_qty", "client_order_id", "stp", "budget", "stop_price", "trigger")

    def __init__(self, seq: int, ts: int, order_id: int, user: int, market: str, side: Side,
                 type: OrderType, tif: TimeInForce, price: int, qty: int, quote_qty: int = 0,
                 client_order_id: str = "", stp: SelfTrade = SelfTrade.CANCEL_TAKER,
                 budget: int = 0, stop_price: int = 0, trigger: Trigger = Trigger.NONE,
                 ) -> None:
        super().__init__(seq, ts)
        self.order_id: Final = order_id  # unique across the exchange; given by the gateway
        self.user: Final = user
        self.market: Final = market
        self.side: Final = side
        self.type: Final = type
        self.tif: Final = tif
        self.price: Final = price  # ticks; 0 for a market order
        self.qty: Final = qty  # lots; 0 for a market buy by quote budget only
        # Market buy: the most quote (minor units, fees included) to spend.
        self.quote_qty: Final = quote_qty
        self.client_order_id: Final = client_order_id
        self.stp: Final = stp
        # Set by risk, never by a client: the quote a market buy by quantity alone may
        # spend (all the user had; risk cannot see the book). Apart from `quote_qty`, so
        # that the order still shows what its owner asked for.
        self.budget: Final = budget
        # A stop order (see `types.Trigger`): the price, in ticks, that triggers it.
        self.stop_price: Final = stop_price
        self.trigger: Final = trigger


@final
@mypyc_attr(acyclic=True)
class CancelOrder(BaseCommand):
    """Cancel one order, named by `order_id`, or by `client_order_id` when that is 0."""

    __slots__ = ("client_order_id", "market", "order_id", "user")
    _fields = ("seq", "ts", "user", "order_id", "client_order_id", "market")

    def __init__(self, seq: int, ts: int, user: int, order_id: int, client_order_id: str = "",
                 market: str = "") -> None:
        super().__init__(seq, ts)
        self.user: Final = user
        self.order_id: Final = order_id
        self.client_order_id: Final = client_order_id
        self.market: Final = market  # filled in by risk, which knows where the order rests


@final
@mypyc_attr(acyclic=True)
class CancelAll(BaseCommand):
    __slots__ = ("market", "user")
    _fields = ("seq", "ts", "user", "market")

    def __init__(self, seq: int, ts: int, user: int, market: str = "") -> None:
        super().__init__(seq, ts)
        self.user: Final = user
        self.market: Final = market  # "" cancels the user's orders in every market


@final
@mypyc_attr(acyclic=True)
class ReduceOrder(BaseCommand):
    """Take `reduce_by` lots off a resting order, keeping its place in the queue.

    Reducing by at least what remains cancels the order: a fill racing the reduction
    can never leave more than the user asked for.
    """

    __slots__ = ("client_order_id", "market", "order_id", "reduce_by", "user")
    _fields = ("seq", "ts", "user", "order_id", "reduce_by", "client_order_id", "market")

    def __init__(self, seq: int, ts: int, user: int, order_id: int, reduce_by: int,
                 client_order_id: str = "", market: str = "") -> None:
        super().__init__(seq, ts)
        self.user: Final = user
        self.order_id: Final = order_id
        self.reduce_by: Final = reduce_by
        self.client_order_id: Final = client_order_id
        self.market: Final = market


Command = OpenAccount | PlaceOrder | CancelOrder | CancelAll | ReduceOrder

# The fields of each command whose values are enum members (the wire sends their numbers).
ENUM_FIELDS: dict[type, dict[str, type]] = {
    PlaceOrder: {"side": Side, "type": OrderType, "tif": TimeInForce, "stp": SelfTrade,
                 "trigger": Trigger},
}


def place_order_to_list(cmd: PlaceOrder) -> list[Any]:
    """Return a PlaceOrder's fields for a snapshot: the stop's two only for a stop order,
    so that a state without one is written as before stop orders existed."""
    fields = list(cmd)
    return fields if cmd.trigger else fields[:14]


def place_order_from_list(fields: Sequence[Any]) -> PlaceOrder:
    """Rebuild a PlaceOrder from its fields as plain JSON gives them back (enums as ints)."""
    values = list(fields)
    values[5], values[6], values[7] = Side(values[5]), OrderType(values[6]), TimeInForce(values[7])
    if len(values) > 12:
        values[12] = SelfTrade(values[12])
    if len(values) > 15:
        values[15] = Trigger(values[15])
    return PlaceOrder(*values)
