"""Risk's side of a trade, a cancel and a reduction: moving money between balances.

An account keeps one `Balance` per asset, in the configuration's order: what is
available and what open orders hold. An order's record (`orders.Order`) points at the
two balances it settles against, the one it holds from (`holds`) and the one its trades
pay into (`gets`), so settling and releasing never look an account or an asset up.
Balances are Python ints (compiled: tagged, unboxed while they fit 63 bits), so no sum
of them can overflow.

What an order holds is always its remaining obligation:

    limit buy   market.buy_obligation(price, remaining): the notional and the most fee
    sell        market.base_amount(remaining)
    market buy  its budget, less what it has spent

so each fill releases what the filled part no longer needs (a fill at a better price, or
as maker at a lower fee), and the end of an order releases the rest.

`Settlement` is how a book in the same process as the ledger (`Exchange`) reports what
matching does, with the records in hand (`book.OrderBook.risk`); apart, the ledger reads the same
from the book's events (`Ledger.apply`). Both settle through the functions here.
"""

from collections.abc import Iterator
from typing import Final

from mypy_extensions import i64

from exchange.core.markets import Market
from exchange.core.orders import Order, OrderIndex
from exchange.core.types import OrderType, Side

BUY: Final = Side.BUY  # constants, not lookups in the module's dict (see book.py)
LIMIT: Final = OrderType.LIMIT


class Balance:
    """One asset of one account, in minor units."""

    __slots__ = ("available", "held")

    def __init__(self) -> None:
        self.available = 0
        self.held = 0


class Account:
    """A user's balances, the open orders' records oldest first, and their client ids.

    The records are also filed by (user, order id) in an index the ledger's accounts
    share (`index`): the one lookup that proves an order is the user's own.
    """

    __slots__ = ("balances", "client_ids", "index", "newest", "oldest", "open", "user")

    def __init__(self, user: int, assets: int, index: OrderIndex) -> None:
        self.user = user
        self.balances = [Balance() for _ in range(assets)]
        self.index = index
        # Open orders, linked through their records (`Order.older`, `Order.newer`).
        self.oldest: Order | None = None
        self.newest: Order | None = None
        self.open = 0
        self.client_ids: dict[str, Order] = {}  # open orders that have one, by client id

    def add(self, order: Order) -> None:
        """Count `order` among the open ones, newest."""
        newest = self.newest
        if newest is None:
            self.oldest = order
        else:
            newest.newer = order
            order.older = newest
        self.newest = order
        self.open += 1
        self.index.add(order)
        if order.client_order_id:
            self.client_ids[order.client_order_id] = order

    def remove(self, order: Order) -> None:
        older, newer = order.older, order.newer
        if older is None:
            self.oldest = newer
        else:
            older.newer = newer
        if newer is None:
            self.newest = older
        else:
            newer.older = older
        order.older = order.newer = None
        self.open -= 1
        self.index.remove(order)
        if order.client_order_id:
            del self.client_ids[order.client_order_id]

    def orders(self) -> Iterator[Order]:
        """Yield the open orders, oldest first."""
        order = self.oldest
        while order is not None:
            yield order
            order = order.newer


class Terms:
    """A market as risk sees it: the market, where its assets are in an account's
    balances, and the fee account's balance of its quote asset, which fees go to."""

    __slots__ = ("base", "fees", "market", "quote")

    def __init__(self, market: Market, base: int, quote: int, fees: Balance) -> None:
        self.market = market
        self.base = base
        self.quote = quote
        self.fees = fees


def settle(order: Order, terms: Terms, qty: i64, notional: i64, fee: i64) -> None:
    """Settle one side of a trade of `qty` lots worth `notional` quote, paying `fee`."""
    held = order.held
    remaining = order.risk_left = order.risk_left - qty
    holds, gets, market = order.holds, order.gets, terms.market
    assert holds is not None and gets is not None, "risk's record has its balances"
    if order.side is BUY:
        cost = notional + fee
        still_needed: i64
        if order.type is LIMIT:
            still_needed = market.buy_obligation(order.price, remaining)
        else:
            still_needed = held - cost
        holds.held = holds.held + (still_needed - held)
        holds.available = holds.available + (held - still_needed - cost)
        order.held = still_needed
        gets.available = gets.available + market.base_amount(qty)
    else:
        base_amount = market.base_amount(qty)
        order.held = held - base_amount
        holds.held = holds.held - base_amount
        gets.available = gets.available + (notional - fee)
    if fee:
        fees = terms.fees
        fees.available = fees.available + fee


def release(order: Order, amount: i64) -> None:
    """Move `amount` of what `order` holds back to its owner's available balance."""
    holds = order.holds
    assert holds is not None, "risk's record has its balances"
    holds.held = holds.held - amount
    holds.available = holds.available + amount
    order.held -= amount


def close(order: Order, accounts: list[Account | None]) -> None:
    """Take an order out of its account's open orders and release all it still holds
    (nothing, for one that filled). `accounts` is the ledger's, by user id."""
    account = accounts[order.user]
    assert account is not None, "risk's record has its account"
    account.remove(order)
    if order.held:
        release(order, order.held)


def reduced(order: Order, market: Market, remaining: i64) -> None:
    """Release what an order reduced to `remaining` lots no longer needs."""
    order.risk_left = remaining
    if order.side is BUY:
        still_needed = market.buy_obligation(order.price, remaining)
    else:
        still_needed = market.base_amount(remaining)
    release(order, order.held - still_needed)


class Settlement:
    """Risk in the same process as one market's book, told what matching does as it
    does it.

    The book reports each fill's resting side at once (`fill`), the incoming order's side
    once for all it took (`took`), and every resting order that is reduced or leaves
    without filling (cancelled, reduced to nothing, cancelled by self-trade prevention),
    with the records in hand: risk then needs no events and no lookups, and settles the
    taker once however many orders it met (see `Exchange`).
    """

    __slots__ = ("accounts", "terms")

    def __init__(self, terms: Terms, accounts: list[Account | None]) -> None:
        self.terms = terms
        self.accounts = accounts  # the ledger's list, by user id

    def fill(self, maker: Order, notional: i64, qty: i64, fee: i64) -> None:
        settle(maker, self.terms, qty, notional, fee)
        if not maker.risk_left:  # filled: it held exactly what it paid
            close(maker, self.accounts)

    def took(self, taker: Order, notional: i64, qty: i64, fee: i64) -> None:
        settle(taker, self.terms, qty, notional, fee)

    def reduced(self, order: Order, remaining: i64) -> None:
        reduced(order, self.terms.market, remaining)

    def closed(self, order: Order) -> None:
        close(order, self.accounts)
