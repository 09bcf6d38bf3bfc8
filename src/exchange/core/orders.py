"""The record of one open order, shared by risk (the ledger) and the book.

Each field has exactly one writer, so that the ledger and a book can share one record
when they run in one process (`Exchange`), and each keep a record of its own when they
run apart (the risk and match services) without either noticing the difference:

    book_left  lots still resting; 0 once the order left the book     (the book)
    level      the `levels.Level` it rests in; None in risk alone      (the book)
    prev, next its neighbours in the level, older and newer            (the book)
    risk_left  lots still open as risk last heard                      (the ledger)
    held       what the order holds now, in the held asset's units     (the ledger)
    account    the owner's `settlement.Account`; None in a book alone  (the ledger)
    offset     where the held asset's balance starts in the account    (the ledger)
    command    the `PlaceOrder` that created it: immutable, never copied

In one process the two "left" fields hold the same number whenever a command has been
applied in full; they are two only so that each has one writer.
"""

from typing import TYPE_CHECKING

from exchange.core.commands import PlaceOrder

if TYPE_CHECKING:
    from exchange.core.levels import Level
    from exchange.core.settlement import Account


class Order:
    __slots__ = ("account", "book_left", "command", "held", "level", "next", "offset", "prev",
                 "risk_left")

    def __init__(self, command: PlaceOrder, risk_left: int = 0, held: int = 0,
                 account: "Account | None" = None, offset: int = 0) -> None:
        """A book alone gives the command only; risk gives its fields too."""
        self.command = command
        self.book_left = 0
        self.level: Level | None = None
        self.prev: Order | None = None
        self.next: Order | None = None
        self.risk_left = risk_left
        self.held = held
        self.account = account
        self.offset = offset
