"""The whole core in one process: risk before the book, settlement after it.

`Exchange.execute` runs the same stages the services run apart (gateway -> risk ->
match -> risk), in order, for one command:

    1. risk checks the user and holds funds (or rejects);
    2. the market's book matches, rests or cancels, and reports events;
    3. risk settles trades and releases holds.

In one process risk and the books share each open order's record (`orders`), and the
books settle through risk as they match (`settlement.Settlement`) rather
than risk reading their events back; the outcome is the same as the services' (a
property test runs both).

It is deterministic: the same commands give the same events and the same state, on any
machine. Commands are numbered; one whose `seq` is not past the last one applied is
ignored, so replaying a journal over a snapshot applies each command once.
"""

import hashlib
from typing import Any, Final

import orjson

from exchange.core.book import OrderBook
from exchange.core.commands import (
    CancelAll,
    CancelOrder,
    Command,
    OpenAccount,
    PlaceOrder,
    ReduceOrder,
)
from exchange.core.events import CancelRejected, Event, OrderRejected
from exchange.core.ledger import Ledger
from exchange.core.markets import Config
from exchange.core.orders import Order
from exchange.core.types import CancelReason

STATE_FORMAT: Final = 1
USER: Final = CancelReason.USER


class Exchange:
    def __init__(self, config: Config) -> None:
        self.config = config
        self.ledger = Ledger(config)
        self.books = {m.symbol: OrderBook(m) for m in config.markets}
        self.seq = 0  # the last command applied
        self._link()

    def _link(self) -> None:
        """Let the books settle through risk as they match."""
        for symbol, book in self.books.items():
            book.risk = self.ledger.settlement(symbol)

    def execute(self, cmd: Command) -> list[Event]:
        """Apply one command and return what happened."""
        out: list[Event] = []
        self._execute(cmd, out)
        return out

    def execute_batch(self, commands: list[Command]) -> list[Event]:
        """Apply commands in order and return all that happened, in order; each event
        carries the seq of the command that caused it. Compiled, the loop is too: the
        pipeline hands over its group commits this way."""
        out: list[Event] = []
        for cmd in commands:
            self._execute(cmd, out)
        return out

    def _execute(self, cmd: Command, out: list[Event]) -> None:
        seq = cmd.seq
        if seq <= self.seq:
            return
        ledger = self.ledger
        match cmd:
            case PlaceOrder():
                order = ledger.hold(cmd)
                if isinstance(order, OrderRejected):
                    out.append(order)
                else:
                    # The book tells risk (`Settlement`) of an order that did not rest.
                    self.books[order.market].place(order, out)
            case CancelOrder():
                named = ledger.cancellable(cmd)
                if isinstance(named, CancelRejected):
                    out.append(named)
                else:
                    self.books[named.market].remove(named, seq, cmd.ts, USER, out)
            case ReduceOrder():
                reduction = ledger.reduce(cmd)
                if isinstance(reduction, ReduceOrder):
                    self.books[reduction.market].reduce(reduction, out)
                else:
                    out.append(reduction)
            case CancelAll():
                for each in ledger.cancel_all(cmd):
                    self.books[each.market].cancel(each, out)
            case OpenAccount():
                out.append(ledger.open_account(cmd))
            case _:
                raise TypeError(f"expected a command, got {cmd.__class__.__name__}")
        self.seq = seq

    # ---- state ----------------------------------------------------------------------

    def to_state(self) -> dict[str, Any]:
        return {
            "format": STATE_FORMAT,
            "seq": self.seq,
            "ledger": self.ledger.to_state(),
            "books": {symbol: book.to_state() for symbol, book in sorted(self.books.items())},
        }

    def dump(self) -> bytes:
        """Serialise the whole state; `load` gives back an exchange that behaves the same."""
        return orjson.dumps(self.to_state())

    @classmethod
    def load(cls, config: Config, data: bytes) -> "Exchange":
        return cls.from_state(config, orjson.loads(data))

    @classmethod
    def from_state(cls, config: Config, state: dict[str, Any]) -> "Exchange":
        """Rebuild an exchange from `to_state`; it behaves as the one that made it."""
        if state.get("format") != STATE_FORMAT:
            raise ValueError(f"expected state format {STATE_FORMAT}, got {state.get('format')}")
        exchange = cls(config)
        exchange.seq = state["seq"]
        ledger = exchange.ledger = Ledger.from_state(config, state["ledger"])

        def record(placed: PlaceOrder) -> Order:
            """Rest risk's record of each order in the book, as `execute` does."""
            order = ledger.find(placed.user, placed.order_id)
            if order is None:
                raise ValueError(f"order {placed.order_id} rests in a book but risk has no hold")
            return order

        for symbol, book_state in state["books"].items():
            exchange.books[symbol] = OrderBook.from_state(config.market(symbol), book_state,
                                                          record)
        exchange._link()
        return exchange

    def state_hash(self) -> str:
        """Digest the books and balances, so two replicas can prove they agree."""
        return hash_state(self.to_state())


def hash_state(state: dict[str, Any]) -> str:
    """Digest the books and balances of a `to_state`, as `Exchange.state_hash` does."""
    digest = {"ledger": state["ledger"], "books": state["books"]}
    return hashlib.sha256(orjson.dumps(digest)).hexdigest()
