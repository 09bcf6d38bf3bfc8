"""The gateway's service logic: turn users' requests into commands, and answer them.

A request becomes a command with a fresh `seq` (and, for a new order, the same number
as its order id) from `Ids`, is handed to the deployment's `Driver`, and waits
(`Waiting`) for the event that answers it. Every event carries the `seq` of the command
that caused it, which is how an answer finds its request.

Whatever the exchange reports comes back through the driver one batch at a time: the
driver folds it into the views (`folding`), and once it is safe to say so (durable, and
recorded where REST reads it), `publish` answers the waiting requests and tells the
listeners (the WebSocket hub) what changed, once per batch. All of it runs on the event
loop, so nothing here needs a lock.

Two drivers exist: the embedded pipeline (exchange.pipeline.pipeline), where one
`Exchange` runs a journal of commands in this process, and the bus (`busdriver`), where
commands go to the risk service over Kafka and events come back on topics.
"""

import asyncio
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any

from exchange.core.commands import (
    CancelAll,
    CancelOrder,
    Command,
    OpenAccount,
    PlaceOrder,
    ReduceOrder,
)
from exchange.core.events import (
    AccountOpened,
    CancelRejected,
    Event,
    OrderAccepted,
    OrderCancelled,
    OrderReduced,
    OrderRejected,
)
from exchange.core.markets import Config
from exchange.core.types import OrderType, Reject, SelfTrade, Side, TimeInForce, Trigger
from exchange.services.ids import Ids
from exchange.services.readmodels import (
    Folding,
    LocalModels,
    MarketChanges,
    ReadModels,
    UserChanges,
)
from exchange.services.views import OrderView, Views
from exchange.services.waiting import Waiting
from exchange.store.port import Store


class Refused(Exception):
    """The exchange refused a command; `reason` says why."""

    def __init__(self, reason: Reject) -> None:
        super().__init__(reason.name.lower())
        self.reason = reason


class NoAnswer(Exception):
    """The exchange did not answer in time; the command may still take effect."""


class Unavailable(Exception):
    """The exchange cannot take commands now (it is restoring, or stopping); the command
    was not sent."""


Listener = Callable[[dict[str, MarketChanges], dict[int, UserChanges]], None]


class Driver(ABC):
    """How one deployment carries a gateway's commands and brings their outcomes back."""

    @abstractmethod
    async def start(self, gateway: "Gateway") -> None:
        """Restore what the gateway serves and start feeding it batches."""

    @abstractmethod
    def submit(self, cmd: Command) -> None:
        """Send a command on; raise `Unavailable` if it cannot be taken now."""

    @abstractmethod
    async def stop(self) -> None:
        """Send what was submitted, stop feeding, and keep what must survive a restart."""

    def status(self) -> dict[str, Any]:
        """What `GET /api/v1/status` should say of the driver (e.g. restoring progress)."""
        return {}

    @property
    def ready(self) -> bool:
        """Whether the views are whole and commands are taken."""
        return True

    def why_unavailable(self) -> str:
        """What to tell a client while not `ready`."""
        return "the exchange is not taking commands now"


class Gateway:
    def __init__(self, config: Config, store: Store, driver: Driver, *,
                 timeout: float = 5.0, clock_ns: Callable[[], int] = time.time_ns,
                 models: ReadModels | None = None) -> None:
        self.config = config
        self.store = store
        self.driver = driver
        self.timeout = timeout
        self.clock_ns = clock_ns
        self.views = Views(config)
        # What the REST API reads: this gateway's own fold unless told otherwise.
        self.models = models if models is not None else LocalModels(lambda: self.views)
        self.listeners: list[Listener] = []
        self.ids = Ids(store)
        self.waiting = Waiting(timeout)
        self._expiry: asyncio.TimerHandle | None = None

    async def start(self) -> None:
        await self.driver.start(self)
        self._expire()

    async def stop(self) -> None:
        if self._expiry is not None:
            self._expiry.cancel()
        await self.driver.stop()

    def _expire(self) -> None:
        """Every tenth of the timeout: fail the requests that waited too long."""
        loop = asyncio.get_running_loop()
        for seq, waiter in self.waiting.expired(loop.time()):
            waiter.future.set_exception(NoAnswer(
                f"no answer to command {seq} within {self.timeout} s"))
        self._expiry = loop.call_later(self.timeout / 10, self._expire)

    # ---- batches from the driver ------------------------------------------------------

    def folding(self) -> Folding:
        """Begin folding a batch into the views."""
        return Folding(self.views, self.waiting.offer)

    def publish(self, folding: Folding) -> None:
        """Answer the requests a folded batch answered, then tell the listeners."""
        Waiting.answer(folding.answered)
        changes = folding.changes
        for listener in self.listeners:
            listener(changes.markets, changes.users)

    # ---- commands -------------------------------------------------------------------

    def new_id(self) -> int:
        return self.ids.new()

    async def open_account(self, user: int) -> None:
        """Open the ledger account of a new user (or make sure it is open)."""
        seq = self.new_id()
        answer = await self._ask(seq, OpenAccount(seq, self.clock_ns(), user),
                                 (AccountOpened, OrderRejected))
        if isinstance(answer, OrderRejected) and answer.reason is not Reject.ACCOUNT_EXISTS:
            raise Refused(answer.reason)

    async def place(self, user: int, market: str, side: Side, kind: OrderType,
                    tif: TimeInForce, price: int, qty: int, quote_qty: int = 0,
                    client_order_id: str = "",
                    stp: SelfTrade = SelfTrade.CANCEL_TAKER, stop_price: int = 0,
                    trigger: Trigger = Trigger.NONE) -> OrderView:
        """Place an order; return it once the exchange accepted it, with any fills so far."""
        seq = self.new_id()
        cmd = PlaceOrder(seq, self.clock_ns(), seq, user, market, side, kind, tif, price, qty,
                         quote_qty, client_order_id, stp, 0, stop_price, trigger)
        answer = await self._ask(seq, cmd, (OrderAccepted, OrderRejected))
        if isinstance(answer, OrderRejected):
            raise Refused(answer.reason)
        return self._order(user, seq)

    async def cancel(self, user: int, order_id: int = 0, client_order_id: str = "") -> OrderView:
        seq = self.new_id()
        answer = await self._ask(seq, CancelOrder(seq, self.clock_ns(), user, order_id,
                                                  client_order_id),
                                 (OrderCancelled, CancelRejected))
        if isinstance(answer, CancelRejected):
            raise Refused(answer.reason)
        assert isinstance(answer, OrderCancelled)
        return self._order(user, answer.order_id)

    async def reduce(self, user: int, order_id: int, reduce_by: int) -> OrderView:
        seq = self.new_id()
        answer = await self._ask(seq, ReduceOrder(seq, self.clock_ns(), user, order_id, reduce_by),
                                 (OrderReduced, OrderCancelled, CancelRejected))
        if isinstance(answer, CancelRejected):
            raise Refused(answer.reason)
        return self._order(user, order_id)

    async def cancel_all(self, user: int, market: str = "") -> list[int]:
        """Cancel every open order of the user (in one market); return the ids cancelled."""
        seq = self.new_id()
        ids = {o.order_id for o in self.views.open_orders(user, market)}
        waiter = self.waiting.expect_closed(ids)
        try:
            self.driver.submit(CancelAll(seq, self.clock_ns(), user, market))
            if ids:
                await asyncio.wait_for(waiter.future, self.timeout)
        except TimeoutError:
            pass  # report what closed so far; the rest may still close
        finally:
            self.waiting.forget_closed(ids)
        view = self.views.user(user)
        return sorted(i for i in ids if (o := view.order(i)) is not None
                      and o.status == "cancelled")

    def _order(self, user: int, order_id: int) -> OrderView:
        order = self.views.user(user).order(order_id)
        if order is None:  # pragma: no cover - the answer was folded into the views first
            raise RuntimeError(f"order {order_id} answered but not in the views")
        return order

    async def _ask(self, seq: int, cmd: Command, kinds: tuple[type, ...]) -> Event | None:
        future = self.waiting.expect(seq, kinds).future
        try:
            self.driver.submit(cmd)
            return await future
        finally:
            self.waiting.forget(seq)
