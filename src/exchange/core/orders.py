"""The record of one open order, shared by risk (the ledger) and the book, and an index
of records by (user, order id).

The record holds the order's own fields, copied from the `PlaceOrder` that created it
into typed slots (compiled: 64-bit integers, not boxed ones), and `command()` rebuilds
that command when one is asked for. Each other field has exactly one writer, so that
the ledger and a book can share one record when they run in one process (`Exchange`),
and each keep a record of its own when they run apart (the risk and match services)
without either noticing the difference:

    book_left  lots still resting; 0 once the order left the book     (the book)
    prev, next its neighbours in its price level, older and newer      (the book)
    armed      a stop order waiting for its stop price                 (the book)
    risk_left  lots still open as risk last heard                      (the ledger)
    held       what the order holds now, in the held asset's units     (the ledger)
    budget     what a market buy may spend, if risk had to decide      (the ledger)
    holds      the owner's balance of the asset it holds               (the ledger)
    gets       the owner's balance of the asset it buys or sells for   (the ledger)
    older, newer  its neighbours among the account's open orders       (the ledger)

In one process the two "left" fields hold the same number whenever a command has been
applied in full; they are two only so that each has one writer.

What can be found in O(1) otherwise is not kept: the level by the order's price (see
`levels.Ladder`), the account by the user's id. Compiled, the record is then 240 bytes
with its headers, a size class of Python's allocator (each field more costs 16 bytes).
"""

from typing import TYPE_CHECKING, Final

from mypy_extensions import i64

from exchange.core.commands import PlaceOrder
from exchange.core.types import OrderType, SelfTrade, Side, TimeInForce, Trigger

if TYPE_CHECKING:
    from exchange.core.settlement import Balance


class Order:
    __slots__ = ("armed", "book_left", "budget", "client_order_id", "gets", "held", "holds",
                 "market", "newer", "next", "older", "order_id", "prev", "price", "qty",
                 "quote_qty", "risk_left", "seq", "side", "stop_price", "stp", "tif", "trigger",
                 "ts", "type", "user")

    def __init__(self, cmd: PlaceOrder) -> None:
        self.seq: i64 = cmd.seq
        self.ts: i64 = cmd.ts
        self.order_id: i64 = cmd.order_id
        self.user: i64 = cmd.user
        self.market: str = cmd.market
        self.side: Side = cmd.side
        self.type: OrderType = cmd.type
        self.tif: TimeInForce = cmd.tif
        self.price: i64 = cmd.price
        self.qty: i64 = cmd.qty
        self.quote_qty: i64 = cmd.quote_qty
        self.client_order_id: str = cmd.client_order_id
        self.stp: SelfTrade = cmd.stp
        self.budget: i64 = cmd.budget
        self.stop_price: i64 = cmd.stop_price
        self.trigger: Trigger = cmd.trigger
        self.book_left: i64 = 0
        self.prev: Order | None = None
        self.next: Order | None = None
        self.risk_left: i64 = 0
        self.held: i64 = 0
        self.holds: Balance | None = None
        self.gets: Balance | None = None
        self.older: Order | None = None
        self.newer: Order | None = None
        self.armed = False  # last: compiled, a bool fills what the fields before left

    def command(self) -> PlaceOrder:
        """Return the `PlaceOrder` that made this order (with the budget risk set)."""
        return PlaceOrder(self.seq, self.ts, self.order_id, self.user, self.market, self.side,
                          self.type, self.tif, self.price, self.qty, self.quote_qty,
                          self.client_order_id, self.stp, self.budget, self.stop_price,
                          self.trigger)


_FIRST_SIZE: Final = 16


class OrderIndex:
    """Records by (user, order id): open addressing, linear probing, at most half full.

    A dict would box both keys and hash a tuple on every lookup; here a lookup is a few
    native reads. An order's home slot is its id hashed by Fibonacci hashing, which
    spreads ids from a counter evenly over the table (ids as they come would pile the
    newest orders into runs behind the old ones still resting). Removal shifts the
    entries after the hole back (no tombstones), so a lookup stops at the first empty
    slot.
    """

    __slots__ = ("_count", "_mask", "_shift", "_slots")

    def __init__(self) -> None:
        self._slots: list[Order | None] = [None] * _FIRST_SIZE
        self._mask: i64 = _FIRST_SIZE - 1
        self._shift: i64 = 32 - _FIRST_SIZE.bit_length() + 1
        self._count: i64 = 0

    def get(self, user: i64, order_id: i64) -> Order | None:
        slots, mask = self._slots, self._mask
        at = _home(order_id, self._shift)
        while True:
            found = slots[at]
            if found is None or (found.order_id == order_id and found.user == user):
                return found
            at = (at + 1) & mask

    def has_id(self, order_id: i64) -> bool:
        """Say whether any user's record here has `order_id`."""
        slots, mask = self._slots, self._mask
        at = _home(order_id, self._shift)
        while True:
            found = slots[at]
            if found is None:
                return False
            if found.order_id == order_id:
                return True
            at = (at + 1) & mask

    def add(self, order: Order) -> None:
        """File `order`; the caller has checked that its (user, order id) is not here."""
        if 2 * (self._count + 1) > self._mask + 1:
            self._grow()
        self._put(order)
        self._count += 1

    def remove(self, order: Order) -> None:
        """Take out `order`, which must be here."""
        slots, mask = self._slots, self._mask
        hole = _home(order.order_id, self._shift)
        while slots[hole] is not order:
            hole = (hole + 1) & mask
        at = hole
        while True:
            at = (at + 1) & mask
            moving = slots[at]
            if moving is None:
                break
            home = _home(moving.order_id, self._shift)
            # The entry may fill the hole unless its home lies after the hole, up to it.
            if (home <= hole < at) or (at < home <= hole) or (hole < at < home):
                slots[hole] = moving
                hole = at
        slots[hole] = None
        self._count -= 1

    def __len__(self) -> int:
        return self._count

    def _put(self, order: Order) -> None:
        slots, mask = self._slots, self._mask
        at = _home(order.order_id, self._shift)
        while slots[at] is not None:
            at = (at + 1) & mask
        slots[at] = order

    def _grow(self) -> None:
        old = self._slots
        size = 2 * len(old)
        self._slots = [None] * size
        self._mask = size - 1
        self._shift -= 1
        for order in old:
            if order is not None:
                self._put(order)


_GOLDEN: Final = 0x9E3779B1  # 2^32 divided by the golden ratio, made odd


def _home(order_id: i64, shift: i64) -> i64:
    """Return the slot for `order_id`: the top bits of its product with `_GOLDEN`, mod 2^32.

    Only the product's low 32 bits are used, which are the same whether it wraps at 64
    bits (compiled) or not (interpreted). `shift` is 32 less the table's bits.
    """
    return ((order_id * _GOLDEN) & 0xFFFFFFFF) >> shift
