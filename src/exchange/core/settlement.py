"""Risk's side of a trade, a cancel and a reduction: moving money between balances.

An account keeps its balances in one list, available then held for each asset in the
configuration's order (`Account`). An order's record (`orders.Order`) knows its account
and where the held asset's balance starts in it (`offset`), so settling and releasing
index small constant offsets and never look an account up.

What an order holds is always its remaining obligation:

    limit buy   market.buy_obligation(price, remaining): the notional and the most fee
    sell        market.base_amount(remaining)
    market buy  its budget, less what it has spent

so each fill releases what the filled part no longer needs (a fill at a better price, or
as maker at a lower fee), and the end of an order releases the rest.

`Settlement` is how a book in the same process as the ledger (`Exchange`) reports what
matching does, with the records in hand (`book.Risk`); apart, the ledger reads the same
from the book's events (`Ledger.apply`). Both settle through the functions here.
"""

from typing import Final

from exchange.core.markets import Market
from exchange.core.orders import Order
from exchange.core.types import OrderType, Side

BUY: Final = Side.BUY  # constants, not lookups in the module's dict (see book.py)
LIMIT: Final = OrderType.LIMIT


class Account:
    __slots__ = ("balances", "client_ids", "orders", "user")

    def __init__(self, user: int, width: int) -> None:
        self.user = user
        self.balances = [0] * width  # available, held of each asset
        self.orders: dict[int, Order] = {}  # open orders by id, oldest first
        self.client_ids: dict[str, int] = {}  # client order id -> order id, open orders only

    # Compiled, `balances[i] += x` is a generic number operation; `balances[i] = ... + x`
    # stays in machine integers while the amounts fit them.

    def add(self, index: int, amount: int) -> None:
        """Add `amount` (less than 0: take it) to the balance at `index`."""
        balances = self.balances
        balances[index] = balances[index] + amount

    def hold(self, offset: int, amount: int) -> None:
        """Move `amount` of the asset at `offset` from available to held."""
        balances = self.balances
        balances[offset] = balances[offset] - amount
        balances[offset + 1] = balances[offset + 1] + amount


class Terms:
    """A market as risk sees it: the market, and where its assets' balances start in an
    account's list."""

    __slots__ = ("base", "market", "quote")

    def __init__(self, market: Market, base: int, quote: int) -> None:
        self.market = market
        self.base = base
        self.quote = quote


def account_of(order: Order) -> Account:
    account = order.account
    assert account is not None, "risk's record of an order has its account"
    return account


def settle(order: Order, terms: Terms, qty: int, notional: int, fee: int) -> None:
    """Settle one side of a trade of `qty` lots worth `notional` quote, paying `fee`."""
    held = order.held
    remaining = order.risk_left = order.risk_left - qty
    placed = order.command
    market = terms.market
    account = account_of(order)
    if placed.side is BUY:
        cost = notional + fee
        still_needed: int
        if placed.type is LIMIT:
            still_needed = market.buy_obligation(placed.price, remaining)
        else:
            still_needed = held - cost
        account.add(terms.quote + 1, still_needed - held)
        account.add(terms.quote, held - still_needed - cost)
        order.held = still_needed
        account.add(terms.base, market.base_amount(qty))
    else:
        base_amount: int = market.base_amount(qty)
        order.held = held - base_amount
        account.add(terms.base + 1, -base_amount)
        account.add(terms.quote, notional - fee)


def release(order: Order, amount: int) -> None:
    """Move `amount` of what `order` holds back to its owner's available balance."""
    account_of(order).hold(order.offset, -amount)
    order.held -= amount


def close(order: Order) -> None:
    """Take an order out of its account's open orders, free its client order id and
    release all it still holds (nothing, for one that filled)."""
    account, placed = account_of(order), order.command
    del account.orders[placed.order_id]
    if placed.client_order_id:
        del account.client_ids[placed.client_order_id]
    if order.held:
        release(order, order.held)


def reduced(order: Order, terms: Terms, remaining: int) -> None:
    """Release what an order reduced to `remaining` lots no longer needs."""
    order.risk_left = remaining
    placed = order.command
    if placed.side is BUY:
        still_needed = terms.market.buy_obligation(placed.price, remaining)
    else:
        still_needed = terms.market.base_amount(remaining)
    release(order, order.held - still_needed)


class Settlement:
    """Risk's side of one market's matching in the book's own process (`book.Risk`)."""

    __slots__ = ("fees", "terms")

    def __init__(self, terms: Terms, fees: Account) -> None:
        self.terms = terms
        self.fees = fees  # the fee account

    def fill(self, maker: Order, notional: int, qty: int, fee: int) -> None:
        settle(maker, self.terms, qty, notional, fee)
        if fee:
            self.fees.add(self.terms.quote, fee)
        if not maker.risk_left:  # filled: it held exactly what it paid
            close(maker)

    def took(self, taker: Order, notional: int, qty: int, fee: int) -> None:
        settle(taker, self.terms, qty, notional, fee)
        if fee:
            self.fees.add(self.terms.quote, fee)

    def reduced(self, order: Order, remaining: int) -> None:
        reduced(order, self.terms, remaining)

    def closed(self, order: Order) -> None:
        close(order)
