"""A price level of a book: the orders resting at one price, oldest first, and their total.

The orders are linked through their records (`Order.prev`, `Order.next`, which the book
writes), so appending, unlinking from anywhere and walking in time order are all O(1)
per order, with no container to grow, shift or compact.
"""

from collections.abc import Iterator

from exchange.core.orders import Order
from exchange.core.types import Side


class Level:
    """The orders at one price, oldest first, and their total size."""

    __slots__ = ("head", "price", "side", "tail", "total")

    def __init__(self, side: Side, price: int) -> None:
        self.side = side
        self.price = price
        self.head: Order | None = None
        self.tail: Order | None = None
        self.total = 0

    def append(self, order: Order) -> None:
        tail = self.tail
        if tail is None:
            self.head = order
        else:
            tail.next = order
            order.prev = tail
        self.tail = order

    def unlink(self, order: Order) -> None:
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
