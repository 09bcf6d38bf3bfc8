"""One side of a book: its price levels, best first, and the orders resting at each.

A `Level` holds the orders at one price, oldest first, linked through their records
(`Order.prev`, `Order.next`, which the book writes), and their total. A `Ladder` links
one side's levels from the best price to the worst (`Level.worse`, `Level.better`) and
finds a level by price. So matching walks from the best level down with no lookup and
no heap; appending an order, unlinking it from anywhere and dropping an empty level are
O(1); only a new price walks the ladder to its place, from whichever end is nearer
(new prices come near the top of the book: a step or a few).

Finding the level of a price goes through a small cache, a list indexed by the price's
low bits, before the dict: the prices in use lie close together, so a rest nearly always
finds its level there, with no boxing and hashing of the price (compiled, a dict lookup
by an integer costs some forty times a list read).
"""

from collections.abc import Iterator
from typing import Final

from mypy_extensions import i64

from exchange.core.orders import Order
from exchange.core.types import Side


class Level:
    """The orders at one price, oldest first, and their total size."""

    __slots__ = ("better", "head", "price", "side", "tail", "total", "worse")

    def __init__(self, side: Side, price: i64) -> None:
        self.side = side
        self.price = price
        self.head: Order | None = None
        self.tail: Order | None = None
        self.total: i64 = 0
        self.better: Level | None = None
        self.worse: Level | None = None

    def append(self, order: Order, qty: i64) -> None:
        """Rest `qty` lots of `order` at the back of the queue."""
        order.book_left = qty
        tail = self.tail
        if tail is None:
            self.head = order
        else:
            tail.next = order
            order.prev = tail
        self.tail = order
        self.total += qty

    def unlink(self, order: Order) -> None:
        """Take `order` out of the queue (the caller adjusts `total`)."""
        before, after = order.prev, order.next
        if before is None:
            self.head = after
        else:
            before.next = after
        if after is None:
            self.tail = before
        else:
            after.prev = before
        order.prev = order.next = None

    def orders(self) -> Iterator[Order]:
        order = self.head
        while order is not None:
            yield order
            order = order.next


_NEAR: Final = 256  # slots of a ladder's cache of levels by price: a power of two


class Ladder:
    """One side's levels: by price, and linked from the best price to the worst."""

    __slots__ = ("_near", "best", "by_price", "side", "worst")

    def __init__(self, side: Side) -> None:
        self.side = side
        self.by_price: dict[int, Level] = {}
        self._near: list[Level | None] = [None] * _NEAR  # see the module's docstring
        self.best: Level | None = None
        self.worst: Level | None = None

    def at(self, price: i64) -> Level:
        """Return the level of `price`, made and linked into place if there was none
        (a resting order's price always has one)."""
        slot = price & (_NEAR - 1)
        level = self._near[slot]
        if level is not None and level.price == price:
            return level
        level = self.by_price.get(price)
        if level is None:
            level = self.by_price[price] = Level(self.side, price)
            self._link(level)
        self._near[slot] = level
        return level

    def drop(self, level: Level) -> None:
        """Forget an empty level."""
        del self.by_price[level.price]
        slot = level.price & (_NEAR - 1)
        if self._near[slot] is level:
            self._near[slot] = None
        better, worse = level.better, level.worse
        if better is None:
            self.best = worse
        else:
            better.worse = worse
        if worse is None:
            self.worst = better
        else:
            worse.better = better
        level.better = level.worse = None

    def levels(self) -> Iterator[Level]:
        """Yield the levels from the best price to the worst."""
        level = self.best
        while level is not None:
            yield level
            level = level.worse

    def __len__(self) -> int:
        return len(self.by_price)

    def _link(self, level: Level) -> None:
        best, worst, price = self.best, self.worst, level.price
        if best is None or worst is None:
            self.best = self.worst = level
            return
        # Bids are better the higher, asks the lower: compare as bids, negating asks.
        sign: i64 = 1 if self.side is Side.BUY else -1
        key = price * sign
        if key > best.price * sign:
            level.worse, best.better, self.best = best, level, level
            return
        if key < worst.price * sign:
            level.better, worst.worse, self.worst = worst, level, level
            return
        if best.price * sign - key <= key - worst.price * sign:
            above = best  # the last level better than `price`, walking down from the top
            while True:
                below = above.worse
                assert below is not None, "a level worse than `price` exists"
                if below.price * sign < key:
                    break
                above = below
        else:
            below = worst  # the first level worse than `price`, walking up from the bottom
            while True:
                up = below.better
                assert up is not None, "a level better than `price` exists"
                if up.price * sign > key:
                    above = up
                    break
                below = up
        level.better, level.worse = above, below
        above.worse = below.better = level
