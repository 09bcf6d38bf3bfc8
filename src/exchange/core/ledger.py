"""The risk ledger: balances, the funds each open order holds, and settlement.

Per account and asset there are two integers, `available` and `held`. Accepting an order
moves what it may cost from available to held; the book's events then settle and release
(the arithmetic is in `settlement`):

    limit buy   holds price x qty x quote_scale + the largest fee it could pay
    sell        holds qty x base_scale of the base asset
    market buy  holds its quote budget (or, by quantity only, all available quote)

Invariants (checked by the property tests after every command)
    * Every hold equals its order's remaining obligation, and an account's held amount
      is the sum of its orders' holds. Whatever an order no longer needs (a fill at a
      better price, a reduction, a cancel, the end of a market order) is released at once.
    * No balance is ever negative.
    * For each asset, the sum over all accounts (the fee account included) of available
      plus held equals what was granted. Fees move quote from traders to the fee account.

Layout
    Each account (`settlement.Account`) keeps its balances in one list and its open
    orders in a dict by order id, oldest first: the records of `orders`. An order id is
    unique per user: each account's dict is also what proves that a cancel names the
    user's own order, and what cancel-all walks. Balances are Python ints: no overflow.

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
from exchange.core.orders import Order
from exchange.core.settlement import Account, Settlement, Terms, close, reduced, settle
from exchange.core.types import OrderType, Reject, Side, TimeInForce

FEE_ACCOUNT: Final = 0  # the user id that collects fees; no one can trade as it
BUY: Final = Side.BUY  # constants, not lookups in the module's dict (see book.py)
LIMIT: Final = OrderType.LIMIT


class Ledger:
    def __init__(self, config: Config) -> None:
        self.config = config
        self._assets = tuple(a.code for a in config.assets)
        self._offset = {code: 2 * i for i, code in enumerate(self._assets)}
        self._terms = {m.symbol: Terms(m, self._offset[m.base.code], self._offset[m.quote.code])
                       for m in config.markets}
        self._width = 2 * len(self._assets)  # balances per account
        self._accounts: dict[int, Account] = {}
        self._fee_account = Account(FEE_ACCOUNT, self._width)
        self.granted: dict[str, int] = dict.fromkeys(self._assets, 0)

    # ---- commands from users --------------------------------------------------------

    def open_account(self, cmd: OpenAccount) -> AccountOpened | OrderRejected:
        """Create an account with the configured starting grant."""
        if cmd.user in self._accounts or cmd.user <= 0:
            return OrderRejected(cmd.seq, cmd.ts, 0, cmd.user, "", Reject.ACCOUNT_EXISTS)
        account = self._accounts[cmd.user] = Account(cmd.user, self._width)
        for code, amount in self.config.grants:
            account.add(self._offset[code], amount)
            self.granted[code] += amount
        return AccountOpened(cmd.seq, cmd.ts, cmd.user)

    def place(self, cmd: PlaceOrder) -> PlaceOrder | OrderRejected:
        """Hold what the order may cost and pass it on to the book, or refuse it."""
        checked = self.hold(cmd)
        if isinstance(checked, OrderRejected):
            return checked
        return checked.command

    def hold(self, cmd: PlaceOrder) -> Order | OrderRejected:
        """Hold what the order may cost and return its record (see `orders`), or refuse it.

        The record's command is what the book must be given: a market buy by quantity
        alone learns there the budget risk held for it.
        """
        _, _, order_id, user, symbol, side, kind, _, price, qty, quote_qty, client_id, _, _ = cmd
        account = self._accounts.get(user)
        if account is None:
            return _rejected(cmd, Reject.UNKNOWN_ACCOUNT)
        if cmd.budget:  # risk's to set, not the sender's
            return _rejected(cmd, Reject.INVALID_ORDER)
        terms = self._terms.get(symbol)
        if terms is None:
            return _rejected(cmd, Reject.UNKNOWN_MARKET)
        market = terms.market
        buy = side is BUY
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
        orders = account.orders
        if order_id in orders:
            return _rejected(cmd, Reject.DUPLICATE_ORDER_ID)
        if client_id and client_id in account.client_ids:
            return _rejected(cmd, Reject.DUPLICATE_CLIENT_ORDER_ID)
        offset = terms.quote if buy else terms.base
        if account.balances[offset] < need:
            return _rejected(cmd, Reject.INSUFFICIENT_FUNDS)
        account.hold(offset, need)
        if buy and kind is not LIMIT and need != quote_qty:
            cmd = cmd._replace(budget=need)  # what the book may spend
        order = orders[order_id] = Order(cmd, qty, need, account, offset)
        if client_id:
            account.client_ids[client_id] = order_id
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
        # Risk cannot see the book, so a buy by quantity alone may spend all it has.
        need = quote_qty or account.balances[terms.quote]
        return need if need else _rejected(cmd, Reject.INSUFFICIENT_FUNDS)

    def cancellable(self, cmd: CancelOrder) -> Order | CancelRejected:
        """Return the open order a cancel names if it is the user's own, or the refusal."""
        order = self.find(cmd.user, cmd.order_id, cmd.client_order_id)
        if order is None:
            return CancelRejected(cmd.seq, cmd.ts, cmd.order_id, cmd.user, cmd.client_order_id,
                                  Reject.UNKNOWN_ORDER)
        return order

    def cancel(self, cmd: CancelOrder) -> CancelOrder | CancelRejected:
        """Check the order is the user's own and name it for a book apart."""
        order = self.cancellable(cmd)
        if isinstance(order, CancelRejected):
            return order
        placed = order.command
        return CancelOrder(cmd.seq, cmd.ts, cmd.user, placed.order_id, cmd.client_order_id,
                           placed.market)

    def reduce(self, cmd: ReduceOrder) -> ReduceOrder | CancelRejected:
        """Check the order is the user's own and the reduction positive; name it for the book."""
        order = self.find(cmd.user, cmd.order_id, cmd.client_order_id)
        if order is None or cmd.reduce_by <= 0:
            reason = Reject.UNKNOWN_ORDER if order is None else Reject.INVALID_QUANTITY
            return CancelRejected(cmd.seq, cmd.ts, cmd.order_id, cmd.user, cmd.client_order_id,
                                  reason)
        placed = order.command
        return ReduceOrder(cmd.seq, cmd.ts, cmd.user, placed.order_id, cmd.reduce_by,
                           cmd.client_order_id, placed.market)

    def cancel_all(self, cmd: CancelAll) -> list[CancelOrder]:
        """Expand into one cancel per open order of the user (in `cmd.market`, if given)."""
        account = self._accounts.get(cmd.user)
        if account is None:
            return []
        cancels = []
        for order_id, order in account.orders.items():
            placed = order.command
            if not cmd.market or placed.market == cmd.market:
                cancels.append(CancelOrder(cmd.seq, cmd.ts, cmd.user, order_id,
                                           placed.client_order_id, placed.market))
        return cancels

    def find(self, user: int, order_id: int, client_order_id: str = "") -> Order | None:
        """Return the open order of `user` named by `order_id`, or by client id if that is 0."""
        account = self._accounts.get(user)
        if account is None:
            return None
        if not order_id:
            order_id = account.client_ids.get(client_order_id, 0)
        return account.orders.get(order_id)

    # ---- events from the book -------------------------------------------------------

    def apply(self, events: Iterable[Event]) -> None:
        """Settle trades and release holds as a book apart reports them."""
        for event in events:
            match event:
                case TradeExecuted():
                    self._settle(event)
                case OrderDone() | OrderCancelled() | OrderRejected():
                    self._close(event.user, event.order_id)
                case OrderReduced():
                    order = self.find(event.user, event.order_id)
                    if order is not None:
                        reduced(order, self._terms[event.market], event.remaining)
                case _:
                    pass  # nothing of risk's: an acceptance, a level's change

    def _settle(self, trade: TradeExecuted) -> None:
        terms = self._terms[trade.market]
        qty = trade.qty
        notional = terms.market.notional(trade.price, qty)
        accounts = self._accounts
        for user, order_id, fee in ((trade.maker_user, trade.maker_order_id, trade.maker_fee),
                                    (trade.taker_user, trade.taker_order_id, trade.taker_fee)):
            account = accounts.get(user)
            if account is None:
                continue  # another partition's user
            order = account.orders.get(order_id)
            if order is None:
                continue  # not an open order here: nothing to settle
            settle(order, terms, qty, notional, fee)
            self._fee_account.add(terms.quote, fee)

    def _close(self, user: int, order_id: int) -> None:
        account = self._accounts.get(user)
        order = account.orders.get(order_id) if account is not None else None
        if order is not None:
            close(order)

    def settlement(self, symbol: str) -> Settlement:
        """Return what settles the fills of `symbol`'s book as they happen (`book.Risk`)."""
        return Settlement(self._terms[symbol], self._fee_account)

    # ---- queries --------------------------------------------------------------------

    def balance(self, user: int, asset: str) -> tuple[int, int]:
        """Return (available, held) in minor units."""
        account = self._fee_account if user == FEE_ACCOUNT else self._accounts[user]
        offset = self._offset[asset]
        return account.balances[offset], account.balances[offset + 1]

    def balances(self, user: int) -> dict[str, tuple[int, int]]:
        """Return every asset's (available, held) of one account."""
        return {code: self.balance(user, code) for code in self._assets}

    def balance_rows(self, user: int) -> tuple[tuple[str, int, int], ...]:
        """Return (asset, available, held) for every asset of one account."""
        balances = self._accounts[user].balances
        # A list first: building a tuple from a generator costs several times more.
        return tuple([(code, balances[offset], balances[offset + 1])
                      for code, offset in self._offset.items()])

    def has_account(self, user: int) -> bool:
        return user in self._accounts

    def accounts(self) -> list[Account]:
        """Return every account, the fee account first."""
        return [self._fee_account, *self._accounts.values()]

    def open_orders(self, user: int) -> list[tuple[PlaceOrder, int, int]]:
        """Return a user's open orders, oldest first, as (command, remaining lots, held)."""
        account = self._accounts.get(user)
        if account is None:
            return []
        return [(o.command, o.risk_left, o.held) for o in account.orders.values()]

    def totals(self) -> dict[str, int]:
        """Sum available + held per asset over every account, the fee account included."""
        accounts = self.accounts()
        return {
            code: sum(a.balances[offset] + a.balances[offset + 1] for a in accounts)
            for code, offset in self._offset.items()
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
                    [[held, remaining, list(placed)]
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
            if user == FEE_ACCOUNT:
                account = ledger._fee_account
            else:
                account = ledger._accounts[user] = Account(user, ledger._width)
            for code, available, held in balances:
                offset = ledger._offset[code]
                account.balances[offset] = available
                account.balances[offset + 1] = held
            for held, remaining, fields in holds:
                placed = place_order_from_list(fields)
                terms = ledger._terms[placed.market]
                offset = terms.quote if placed.side is BUY else terms.base
                account.orders[placed.order_id] = Order(placed, remaining, held, account,
                                                        offset)
                if placed.client_order_id:
                    account.client_ids[placed.client_order_id] = placed.order_id
        return ledger


def _rejected(cmd: PlaceOrder, reason: Reject) -> OrderRejected:
    return OrderRejected(cmd.seq, cmd.ts, cmd.order_id, cmd.user, cmd.client_order_id, reason)
