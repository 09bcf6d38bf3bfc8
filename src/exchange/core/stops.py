"""A book's stop orders: off the book, waiting for the last trade price to reach them.

Binance's rule (see `types.Trigger`): a buy stop-loss and a sell take-profit trigger when
the last price rises to their stop price or past it; a sell stop-loss and a buy
take-profit when it falls to it or past it. So a book keeps two lists: the orders the
price must rise to, lowest stop first, and those it must fall to, highest stop first.
A trade then takes what it reached from the front of each, and the orders it triggered
go on in the order they were accepted (their `seq`): deterministic, and first come,
first served. Stop orders are few beside resting ones; the lists are plain and sorted
by insertion.
"""

from collections.abc import Iterator
from typing import Final

from mypy_extensions import i64

from exchange.core.orders import Order
from exchange.core.types import Side, Trigger

BUY: Final = Side.BUY
STOP_LOSS: Final = Trigger.STOP_LOSS


def rises(order: Order) -> bool:
    """Whether the order waits for the price to rise to its stop (else to fall to it)."""
    return (order.trigger is STOP_LOSS) == (order.side is BUY)


def reached(order: Order, last: i64) -> bool:
    """Whether a last trade price `last` (0: none yet) triggers the order."""
    if not last:
        return False
    return last >= order.stop_price if rises(order) else last <= order.stop_price


class Stops:
    __slots__ = ("_falling", "_rising")

    def __init__(self) -> None:
        self._rising: list[Order] = []  # lowest stop first, then oldest
        self._falling: list[Order] = []  # highest stop first, then oldest

    def add(self, order: Order) -> None:
        if rises(order):
            waiting, sign = self._rising, 1
        else:
            waiting, sign = self._falling, -1
        key = order.stop_price * sign
        at = len(waiting)
        while at and waiting[at - 1].stop_price * sign > key:
            at -= 1
        waiting.insert(at, order)

    def remove(self, order: Order) -> None:
        (self._rising if rises(order) else self._falling).remove(order)

    def due(self, last: i64) -> list[Order]:
        """Take out every order `last` triggers; return them oldest first."""
        fired: list[Order] = []
        for waiting in (self._rising, self._falling):
            count = 0
            while count < len(waiting) and reached(waiting[count], last):
                count += 1
            if count:
                fired.extend(waiting[:count])
                del waiting[:count]
        fired.sort(key=_seq)
        return fired

    def orders(self) -> Iterator[Order]:
        """Yield every waiting order, oldest first."""
        yield from sorted([*self._rising, *self._falling], key=_seq)

    def __len__(self) -> int:
        return len(self._rising) + len(self._falling)


def _seq(order: Order) -> int:
    return order.seq
