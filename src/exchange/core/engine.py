"""The whole core in one process: risk before the book, settlement after it.

`Exchange.execute` runs the same stages the services run apart (gateway -> risk ->
match -> risk), in order, for one command:

    1. risk checks the user and holds funds (or rejects);
    2. the market's book matches, rests or cancels, and reports events;
    3. risk settles trades and releases holds from those events.

It is deterministic: the same commands give the same events and the same state, on any
machine. Commands are numbered; one whose `seq` is not past the last one applied is
ignored, so replaying a journal over a snapshot applies each command once.
"""

import hashlib
from typing import Any

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

STATE_FORMAT = 1


class Exchange:
    def __init__(self, config: Config) -> None:
        self.config = config
        self.ledger = Ledger(config)
        self.books = {m.symbol: OrderBook(m) for m in config.markets}
        self.seq = 0  # the last command applied

    def execute(self, cmd: Command) -> list[Event]:
        """Apply one command and return what happened."""
        if cmd.seq <= self.seq:
            return []
        self.seq = cmd.seq
        out: list[Event] = []
        kind = cmd.__class__
        if kind is PlaceOrder:
            checked = self.ledger.place(cmd)  # type: ignore[arg-type]
            if checked.__class__ is OrderRejected:
                out.append(checked)
                return out
            self.books[cmd.market].place(checked, out)  # type: ignore[union-attr, arg-type]
        elif kind is CancelOrder:
            self._to_book(self.ledger.cancel(cmd), out)  # type: ignore[arg-type]
        elif kind is ReduceOrder:
            self._to_book(self.ledger.reduce(cmd), out)  # type: ignore[arg-type]
        elif kind is CancelAll:
            for cancel in self.ledger.cancel_all(cmd):  # type: ignore[arg-type]
                self.books[cancel.market].cancel(cancel, out)
        elif kind is OpenAccount:
            out.append(self.ledger.open_account(cmd))  # type: ignore[arg-type]
            return out
        else:
            raise TypeError(f"expected a command, got {kind.__name__}")
        self.ledger.apply(out)
        return out

    def _to_book(self, checked: CancelOrder | ReduceOrder | CancelRejected,
                 out: list[Event]) -> None:
        if checked.__class__ is CancelOrder:
            self.books[checked.market].cancel(checked, out)
        elif checked.__class__ is ReduceOrder:
            self.books[checked.market].reduce(checked, out)
        else:
            out.append(checked)  # type: ignore[arg-type]

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
        state = orjson.loads(data)
        if state.get("format") != STATE_FORMAT:
            raise ValueError(f"expected state format {STATE_FORMAT}, got {state.get('format')}")
        exchange = cls(config)
        exchange.seq = state["seq"]
        exchange.ledger = Ledger.from_state(config, state["ledger"])
        for symbol, book_state in state["books"].items():
            exchange.books[symbol] = OrderBook.from_state(config.market(symbol), book_state)
        return exchange

    def state_hash(self) -> str:
        """Digest the books and balances, so two replicas can prove they agree."""
        state = self.to_state()
        digest = {"ledger": state["ledger"], "books": state["books"]}
        return hashlib.sha256(orjson.dumps(digest)).hexdigest()
