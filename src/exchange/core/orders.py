"""The record of one open order, shared by risk (the ledger) and the book.

An open order is a plain list, the cheapest mutable record Python has: one is created
for almost every command, and on this hardware each extra object an order keeps, or a
cancel has to read, costs more than the logic around it.

    [book_left, risk_left, held, account, offset, level, command]

Each field has exactly one writer, so that the ledger and a book can share one record
when they run in one process (`Exchange`), and each keep a record of its own when they
run apart (the risk and match services) without either noticing the difference:

    book_left  lots still resting; 0 once the order left the book     (the book)
    risk_left  lots still open as risk last heard                      (the ledger)
    held       what the order holds now, in the held asset's units     (the ledger)
    account    the owner's `ledger.Account`; None in a book alone      (the ledger)
    offset     where the held asset's balance starts in the account    (the ledger)
    level      the `book.Level` the order rests in; None in risk alone (the book)
    command    the `PlaceOrder` that created it: immutable, never copied

In one process the two "left" fields hold the same number whenever a command has been
applied in full; they are two only so that each has one writer. Apart, a record leaves
the other side's fields unused (`book.new_order`, `Ledger.hold`).
"""

from typing import Any

Order = list[Any]

BOOK_LEFT = 0
RISK_LEFT = 1
HELD = 2
ACCOUNT = 3
OFFSET = 4
LEVEL = 5
COMMAND = 6
