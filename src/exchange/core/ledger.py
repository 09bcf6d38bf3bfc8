"""The risk ledger: balances, the funds each open order holds, and settlement.

Per account and asset there are two integers, `available` and `held`. Accepting an order
moves what it may cost from available to held; the book's events then settle and release
(the arithmetic is in `settlement`):

    limit buy   holds price x qty x quote_scale + the largest fee it could pay
    sell        holds qty x base_scale of the base asset
    market buy  holds its quote budget (or, by quantity only, all available quote;
                a stop-market buy by quantity: what it costs at its stop price)

A stop order holds from its acceptance, as any order does, while it waits for its stop.

Invariants (checked by the property tests after every command)
    * Every hold equals its order's remaining obligation, and an account's held amount
      is the sum of its orders' holds. Whatever an order no longer needs (a fill at a
      better price, a reduction, a cancel, the end of a market order) is released at once.
    * No balance is ever negative.
    * For each asset, the sum over all accounts (the fee account included) of available
      plus held equals what was granted. Fees move quote from traders to the fee account.

Layout
    Each account (`settlement.Account`) keeps one `Balance` per asset and its open
    orders' records (see `orders`), oldest first, which cancel-all and the snapshot
    walk. The ledger files every open record by (user, order id) in one index
    (`orders.OrderIndex`): an order id is unique per user, and that lookup is what proves
    that a cancel names the user's own order. Balances are Python ints: no overflow.

Partitioning
    A ledger may own only some users (one risk partition). `apply` settles only the
    sides of a trade whose user it owns, so each side is settled exactly once when every
    partition applies every trade that concerns it.
"""

from collections.abc import Iterable
from typing import Any, Final

from exchange.core.commands import (
    CancelAll,
    CancelOrder,
    OpenAccount,
    PlaceOrder,
    ReduceOrder,
    place_order_from_list,
    place_order_to_list,
)
from exchange.core.events import (
    AccountOpened,
    CancelRejected,
    Event,
    OrderCancelled,
    OrderDone,
    OrderReduced,
    OrderRejected,
    TradeExecuted,
)
from exchange.core.markets import Config
from exchange.core.orders import Order, OrderIndex
from exchange.core.settlement import Account, Settlement, Terms, close, reduced, settle
from exchange.core.types import OrderType, Reject, Side, TimeInForce, Trigger

FEE_ACCOUNT: Final = 0  # the user id that collects fees; no one can trade as it
# Order ids are positive and under 2^62: compiled, an int below that compares in machine
# integers, and anything larger as a Python object (which costs ten times as much).
MAX_ID: Final = (1 << 62) - 1
# User ids come from a counter and index a list of accounts: the most one ledger takes.
USER_LIMIT: Final = 1 << 24
BUY: Final = Side.BUY  # constants, not lookups in the module's dict (see book.py)
LIMIT: Final = OrderType.LIMIT
NO_TRIGGER: Final = Trigger.NONE


class Ledger:
    def __init__(self, config: Config) -> None:
        self.config = config
        self._assets = tuple(a.code for a in config.assets)
        self._position = {code: i for i, code in enumerate(self._assets)}
        self._orders = OrderIndex()  # every open order's record, by (user, order id)
        self._accounts: list[Account | None] = [None]  # by user id; 0 is no one's
        self._fee_account = self._new_account(FEE_ACCOUNT)
        fees = self._fee_account.balances
        self._terms = {m.symbol: Terms(m, self._position[m.base.code],
                                       self._position[m.quote.code],
                                       fees[self._position[m.quote.code]])
                       for m in config.markets}
        self.granted: dict[str, int] = dict.fromkeys(self._assets, 0)

    def _new_account(self, user: int) -> Account:
        return Account(user, len(self._assets), self._orders)

    def _add_account(self, user: int) -> Account:
        account = self._new_account(user)
        accounts = self._accounts
        if user >= len(accounts):
            accounts.extend([None] * (user + 1 - len(accounts)))
        accounts[user] = account
        return account

    # ---- commands from users --------------------------------------------------------

    def open_account(self, cmd: OpenAccount) -> AccountOpened | OrderRejected:
        """Create an account with the configured starting grant."""
        user = cmd.user
        if not 0 < user < USER_LIMIT:
            return OrderRejected(cmd.seq, cmd.ts, 0, user, "", Reject.INVALID_ACCOUNT)
        if self.has_account(user):
            return OrderRejected(cmd.seq, cmd.ts, 0, user, "", Reject.ACCOUNT_EXISTS)
        account = self._add_account(user)
        for code, amount in self.config.grants:
            balance = account.balances[self._position[code]]
            balance.available = balance.available + amount
            self.granted[code] += amount
        return AccountOpened(cmd.seq, cmd.ts, cmd.user)

    def place(self, cmd: PlaceOrder) -> PlaceOrder | OrderRejected:
        """Hold what the order may cost and pass it on to the book, or refuse it."""
        checked = self.hold(cmd)
        if isinstance(checked, OrderRejected):
            return checked
        return cmd if checked.budget == cmd.budget else checked.command()

    def hold(self, cmd: PlaceOrder) -> Order | OrderRejected:
        """Hold what the order may cost and return its record (see `orders`), or refuse it.

        The record is what the book must be given: a market buy by quantity alone learns
        there the budget risk held for it.
        """
        order_id, user, side, kind = cmd.order_id, cmd.user, cmd.side, cmd.type
        price, qty, quote_qty, client_id = cmd.price, cmd.qty, cmd.quote_qty, cmd.client_order_id
        account = self._account(user)
        if account is None:
            return _rejected(cmd, Reject.UNKNOWN_ACCOUNT)
        if cmd.budget or not 0 < order_id <= MAX_ID:  # the budget is risk's to set
            return _rejected(cmd, Reject.INVALID_ORDER)
        terms = self._terms.get(cmd.market)
        if terms is None:
            return _rejected(cmd, Reject.UNKNOWN_MARKET)
        market = terms.market
        buy = side is BUY
        if cmd.trigger is not NO_TRIGGER:
            # A stop order: its stop price is a price of the market; it is never maker-only.
            if not 0 < cmd.stop_price <= market.max_price:
                return _rejected(cmd, Reject.INVALID_PRICE)
            if cmd.tif is TimeInForce.POST_ONLY:
                return _rejected(cmd, Reject.INVALID_ORDER)
        elif cmd.stop_price:
            return _rejected(cmd, Reject.INVALID_ORDER)
        if kind is LIMIT:
            if not 0 < price <= market.max_price:
                return _rejected(cmd, Reject.INVALID_PRICE)
            if not market.min_qty <= qty <= market.max_qty or quote_qty:
                return _rejected(cmd, Reject.INVALID_QUANTITY)
            need = market.buy_obligation(price, qty) if buy else market.base_amount(qty)
        else:
            checked = self._market_order_need(cmd, terms, account)
            if isinstance(checked, OrderRejected):
                return checked
            need = checked
        if self._orders.get(user, order_id) is not None:
            return _rejected(cmd, Reject.DUPLICATE_ORDER_ID)
        if client_id and client_id in account.client_ids:
            return _rejected(cmd, Reject.DUPLICATE_CLIENT_ORDER_ID)
        if account.balances[terms.quote if buy else terms.base].available < need:
            return _rejected(cmd, Reject.INSUFFICIENT_FUNDS)
        order = Order(cmd)
        if buy and kind is not LIMIT and need != quote_qty:
            order.budget = need  # what the book may spend
        _file(order, account, terms, need, qty)
        holds = order.holds
        assert holds is not None
        holds.available = holds.available - need
        holds.held = holds.held + need
        return order

    def _market_order_need(
        self, cmd: PlaceOrder, terms: Terms, account: Account
    ) -> int | OrderRejected:
        if cmd.price or cmd.tif is not TimeInForce.IOC:
            return _rejected(cmd, Reject.INVALID_ORDER)
        qty, quote_qty, market = cmd.qty, cmd.quote_qty, terms.market
        if qty and not market.min_qty <= qty <= market.max_qty:
            return _rejected(cmd, Reject.INVALID_QUANTITY)
        if cmd.side is not BUY:
            if quote_qty or not qty:
                return _rejected(cmd, Reject.INVALID_QUANTITY)
            return market.base_amount(qty)
        if quote_qty < 0 or not (qty or quote_qty):
            return _rejected(cmd, Reject.INVALID_QUANTITY)
        if quote_qty:
            need = quote_qty
        elif cmd.trigger is not NO_TRIGGER:
            # A stop-market buy by quantity holds what it costs at its stop price and may
            # spend that once triggered: it buys fewer lots if the price has run past it.
            need = market.buy_obligation(cmd.stop_price, qty)
        else:
            # Risk cannot see the book, so a buy by quantity alone may spend all it has.
            need = account.balances[terms.quote].available
        return need if need else _rejected(cmd, Reject.INSUFFICIENT_FUNDS)

    def cancellable(self, cmd: CancelOrder) -> Order | CancelRejected:
        """Return the open order a cancel names if it is the user's own, or the refusal."""
        user, order_id, client_id = cmd.user, cmd.order_id, cmd.client_order_id
        order = self.find(user, order_id, client_id)
        if order is None:
            return CancelRejected(cmd.seq, cmd.ts, order_id, user, client_id,
                                  Reject.UNKNOWN_ORDER)
        return order

    def cancel(self, cmd: CancelOrder) -> CancelOrder | CancelRejected:
        """Check the order is the user's own and name it for a book apart."""
        order = self.cancellable(cmd)
        if isinstance(order, CancelRejected):
            return order
        return CancelOrder(cmd.seq, cmd.ts, cmd.user, order.order_id, cmd.client_order_id,
                           order.market)

    def reduce(self, cmd: ReduceOrder) -> ReduceOrder | CancelRejected:
        """Check the order is the user's own and the reduction positive; name it for the book.

        A reduction by more than the order has left is one by what it has left: either
        cancels it.
        """
        order = self.find(cmd.user, cmd.order_id, cmd.client_order_id)
        if order is None or cmd.reduce_by <= 0:
            reason = Reject.UNKNOWN_ORDER if order is None else Reject.INVALID_QUANTITY
            return CancelRejected(cmd.seq, cmd.ts, cmd.order_id, cmd.user, cmd.client_order_id,
                                  reason)
        return ReduceOrder(cmd.seq, cmd.ts, cmd.user, order.order_id,
                           min(cmd.reduce_by, order.risk_left), cmd.client_order_id,
                           order.market)

    def cancel_all(self, cmd: CancelAll) -> list[CancelOrder]:
        """Expand into one cancel per open order of the user (in `cmd.market`, if given)."""
        account = self._account(cmd.user)
        if account is None:
            return []
        return [CancelOrder(cmd.seq, cmd.ts, cmd.user, order.order_id, order.client_order_id,
                            order.market)
                for order in account.orders() if not cmd.market or order.market == cmd.market]

    def find(self, user: int, order_id: int, client_order_id: str = "") -> Order | None:
        """Return the open order of `user` named by `order_id`, or by client id if that is 0."""
        if not order_id:
            account = self._account(user)
            return None if account is None else account.client_ids.get(client_order_id)
        if not (0 < order_id <= MAX_ID and 0 < user < USER_LIMIT):
            return None  # no such id is ever given
        return self._orders.get(user, order_id)

    # ---- events from the book -------------------------------------------------------

    def apply(self, events: Iterable[Event]) -> None:
        """Settle trades and release holds as a book apart reports them."""
        for event in events:
            match event:
                case TradeExecuted():
                    self._settle(event)
                case OrderDone() | OrderCancelled() | OrderRejected():
                    order = self.find(event.user, event.order_id)
                    if order is not None:
                        close(order, self._accounts)
                case OrderReduced():
                    order = self.find(event.user, event.order_id)
                    if order is not None:
                        reduced(order, self._terms[event.market].market, event.remaining)
                case _:
                    pass  # nothing of risk's: an acceptance, a level's change

    def _settle(self, trade: TradeExecuted) -> None:
        terms = self._terms[trade.market]
        qty = trade.qty
        notional = terms.market.notional(trade.price, qty)
        for user, order_id, fee in ((trade.maker_user, trade.maker_order_id, trade.maker_fee),
                                    (trade.taker_user, trade.taker_order_id, trade.taker_fee)):
            order = self.find(user, order_id)
            if order is not None:  # else another partition's user, or no longer open
                settle(order, terms, qty, notional, fee)

    def settlement(self, symbol: str) -> Settlement:
        """Return what settles the fills of `symbol`'s book as they happen."""
        return Settlement(self._terms[symbol], self._accounts)

    # ---- queries --------------------------------------------------------------------

    def balance(self, user: int, asset: str) -> tuple[int, int]:
        """Return (available, held) in minor units."""
        account = self._fee_account if user == FEE_ACCOUNT else self._account(user)
        if account is None:
            raise KeyError(user)
        balance = account.balances[self._position[asset]]
        return balance.available, balance.held

    def balances(self, user: int) -> dict[str, tuple[int, int]]:
        """Return every asset's (available, held) of one account."""
        return {code: self.balance(user, code) for code in self._assets}

    def balance_rows(self, user: int) -> tuple[tuple[str, int, int], ...]:
        """Return (asset, available, held) for every asset of one account."""
        account = self._account(user)
        if account is None:
            raise KeyError(user)
        balances = account.balances
        # A list first: building a tuple from a generator costs several times more.
        return tuple([(code, balances[i].available, balances[i].held)
                      for i, code in enumerate(self._assets)])

    def has_account(self, user: int) -> bool:
        return self._account(user) is not None

    def _account(self, user: int) -> Account | None:
        accounts = self._accounts
        return accounts[user] if 0 < user < len(accounts) else None

    def accounts(self) -> list[Account]:
        """Return every account, the fee account first."""
        return [self._fee_account, *[a for a in self._accounts if a is not None]]

    def open_orders(self, user: int) -> list[tuple[PlaceOrder, int, int]]:
        """Return a user's open orders, oldest first, as (command, remaining lots, held)."""
        account = self._account(user)
        if account is None:
            return []
        return [(o.command(), o.risk_left, o.held) for o in account.orders()]

    def open_count(self) -> int:
        """Count the open orders of every account."""
        return len(self._orders)

    def totals(self) -> dict[str, int]:
        """Sum available + held per asset over every account, the fee account included."""
        accounts = self.accounts()
        return {
            code: sum(a.balances[i].available + a.balances[i].held for a in accounts)
            for i, code in enumerate(self._assets)
        }

    # ---- state ----------------------------------------------------------------------

    def to_state(self) -> dict[str, Any]:
        """Return accounts, balances and holds as plain data, accounts by id."""
        return {
            "granted": [[code, self.granted[code]] for code in self._assets],
            "accounts": [
                [
                    a.user,
                    [[code, *self.balance(a.user, code)] for code in self._assets],
                    [[held, remaining, place_order_to_list(placed)]
                     for placed, remaining, held in self.open_orders(a.user)],
                ]
                for a in sorted(self.accounts(), key=lambda a: a.user)
            ],
        }

    @classmethod
    def from_state(cls, config: Config, state: dict[str, Any]) -> "Ledger":
        ledger = cls(config)
        ledger.granted = {code: amount for code, amount in state["granted"]}
        for user, balances, holds in state["accounts"]:
            account = ledger._fee_account if user == FEE_ACCOUNT else ledger._add_account(user)
            for code, available, held in balances:
                balance = account.balances[ledger._position[code]]
                balance.available, balance.held = available, held
            for held, remaining, fields in holds:
                order = Order(place_order_from_list(fields))
                _file(order, account, ledger._terms[order.market], held, remaining)
        return ledger


def _file(order: Order, account: Account, terms: Terms, held: int, remaining: int) -> None:
    """Make `order` risk's record of an open order of `account` that holds `held` (the
    balances are the caller's to move)."""
    balances = account.balances
    base, quote = balances[terms.base], balances[terms.quote]
    buy = order.side is BUY
    order.holds, order.gets = (quote, base) if buy else (base, quote)
    order.held = held
    order.risk_left = remaining
    account.add(order)


def _rejected(cmd: PlaceOrder, reason: Reject) -> OrderRejected:
    return OrderRejected(cmd.seq, cmd.ts, cmd.order_id, cmd.user, cmd.client_order_id, reason)
