"""The requests a gateway is waiting on, and the events that answer them.

Every event carries the `seq` of the command that caused it: a request waits under its
command's seq for the first event of the kinds that answer it. A cancel-all waits for
every order it is closing instead, by order id, since one command closes many.
"""

import asyncio

from exchange.core.events import Event, OrderCancelled, OrderDone


class Waiter:
    __slots__ = ("answer", "deadline", "future", "kinds", "open_ids")

    def __init__(self, future: "asyncio.Future[Event | None]", kinds: tuple[type, ...],
                 open_ids: set[int] | None = None, deadline: float = 0.0) -> None:
        self.future = future
        self.kinds = kinds
        self.open_ids = open_ids  # cancel-all: the orders still to close
        self.deadline = deadline  # loop time after which `expired` gives it up
        self.answer: Event | None = None


class Waiting:
    """The waiting requests. Each gets the same timeout, so their deadlines come in the
    order they were made, and `expired` (asked now and then) stops at the first request
    still in time: no timer per request."""

    def __init__(self, timeout: float = 5.0) -> None:
        self.timeout = timeout
        self._by_seq: dict[int, Waiter] = {}
        self._closing: dict[int, Waiter] = {}  # order id -> the cancel-all waiting for it

    def expect(self, seq: int, kinds: tuple[type, ...]) -> Waiter:
        """Wait for the first event of one of `kinds` caused by command `seq`."""
        loop = asyncio.get_running_loop()
        waiter = self._by_seq[seq] = Waiter(loop.create_future(), kinds,
                                            deadline=loop.time() + self.timeout)
        return waiter

    def expired(self, now: float) -> list[tuple[int, Waiter]]:
        """Return the unanswered requests whose deadline is past, by seq."""
        late = []
        for seq, waiter in self._by_seq.items():
            if waiter.deadline > now:
                break
            if not waiter.future.done():
                late.append((seq, waiter))
        return late

    def expect_closed(self, order_ids: set[int]) -> Waiter:
        """Wait until every order of `order_ids` is cancelled or done."""
        waiter = Waiter(asyncio.get_running_loop().create_future(), (), set(order_ids))
        for order_id in order_ids:
            self._closing[order_id] = waiter
        return waiter

    def forget(self, seq: int) -> None:
        self._by_seq.pop(seq, None)

    def forget_closed(self, order_ids: set[int]) -> None:
        for order_id in order_ids:
            self._closing.pop(order_id, None)

    def offer(self, event: Event, answered: list[Waiter]) -> None:
        """Note `event`; append each waiter it completes to `answered`."""
        waiter = self._by_seq.get(event.seq)
        if waiter is not None and waiter.answer is None and isinstance(event, waiter.kinds):
            waiter.answer = event
            answered.append(waiter)
        if self._closing and isinstance(event, OrderCancelled | OrderDone):
            closing = self._closing.pop(event.order_id, None)
            if closing is not None and closing.open_ids is not None:
                closing.open_ids.discard(event.order_id)
                if not closing.open_ids:
                    answered.append(closing)

    @staticmethod
    def answer(answered: list[Waiter]) -> None:
        """Complete the futures of `answered` (once the events are folded and kept)."""
        for waiter in answered:
            if not waiter.future.done():
                waiter.future.set_result(waiter.answer)
