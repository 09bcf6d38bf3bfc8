"""The risk ledger: balances, the funds each open order holds, and settlement.

Per account and asset there are two integers, `available` and `held`. Accepting an order
moves what it may cost from available to held; the book's events then settle and release:

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

Partitioning
    A ledger may own only some users (one risk partition). `apply` settles only the
    sides of a trade whose user it owns, so each side is settled exactly once when every
    partition applies every trade that concerns it.
"""

from collections.abc import Callable, Iterable
from typing import Any, NamedTuple

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
from exchange.core.markets import PPM, Config, Market
from exchange.core.types import OrderType, Reject, Side, TimeInForce

FEE_ACCOUNT = 0  # the user id that collects fees; no one can log in as it
BUY = Side.BUY
LIMIT = OrderType.LIMIT


class Hold:
    """An open order as risk sees it: the command that placed it and what it still holds."""

    __slots__ = ("cmd", "held", "remaining")

    def __init__(self, cmd: PlaceOrder, held: int) -> None:
        self.cmd = cmd
        self.remaining = cmd.qty
        self.held = held  # in the quote asset for a buy, the base asset for a sell


class Account:
    __slots__ = ("balances", "client_ids", "orders", "user")

    def __init__(self, user: int, assets: Iterable[str]) -> None:
        self.user = user
        self.balances: dict[str, list[int]] = {code: [0, 0] for code in assets}  # [avail, held]
        self.orders: dict[int, Hold] = {}  # open orders, oldest first
        self.client_ids: dict[str, int] = {}  # client order id -> order id, open orders only


class Terms(NamedTuple):
    """A market's numbers as risk uses them, unpacked once per order."""

    market: Market
    base: str
    quote: str
    base_scale: int
    quote_scale: int
    max_fee_ppm: int
    min_qty: int
    max_qty: int
    max_price: int

    def buy_obligation(self, price: int, qty: int) -> int:
        """Return what a limit buy of `qty` lots at `price` may still cost, fees included."""
        notional = price * qty * self.quote_scale
        return notional + notional * self.max_fee_ppm // PPM


class Ledger:
    def __init__(self, config: Config) -> None:
        self.config = config
        self._terms = {
            m.symbol: Terms(m, m.base.code, m.quote.code, m.base_scale, m.quote_scale,
                            m.max_fee_ppm, m.min_qty, m.max_qty, m.max_price)
            for m in config.markets
        }
        self._assets = tuple(a.code for a in config.assets)
        self._accounts: dict[int, Account] = {FEE_ACCOUNT: Account(FEE_ACCOUNT, self._assets)}
        self._fees = self._accounts[FEE_ACCOUNT].balances
        self.granted: dict[str, int] = dict.fromkeys(self._assets, 0)
        self._on_event: dict[type, Callable[[Any], None]] = {
            TradeExecuted: self._settle,
            OrderDone: self._close,
            OrderCancelled: self._close,
            OrderRejected: self._close,
            OrderReduced: self._reduced,
        }

    # ---- commands from users --------------------------------------------------------

    def open_account(self, cmd: OpenAccount) -> AccountOpened | OrderRejected:
        """Create an account with the configured starting grant."""
        if cmd.user in self._accounts or cmd.user <= 0:
            return OrderRejected(cmd.seq, cmd.ts, 0, cmd.user, "", Reject.ACCOUNT_EXISTS)
        account = self._accounts[cmd.user] = Account(cmd.user, self._assets)
        for code, amount in self.config.grants:
            account.balances[code][0] += amount
            self.granted[code] += amount
        return AccountOpened(cmd.seq, cmd.ts, cmd.user)

    def place(self, cmd: PlaceOrder) -> PlaceOrder | OrderRejected:
        """Hold what the order may cost and pass it on to the book, or refuse it."""
        _, _, order_id, user, symbol, side, kind, _, price, qty, quote_qty, client_id, _ = cmd
        account = self._accounts.get(user)
        if account is None or user == FEE_ACCOUNT:
            return _rejected(cmd, Reject.UNKNOWN_ACCOUNT)
        terms = self._terms.get(symbol)
        if terms is None:
            return _rejected(cmd, Reject.UNKNOWN_MARKET)
        buy = side is BUY
        if kind is LIMIT:
            if not 0 < price <= terms.max_price:
                return _rejected(cmd, Reject.INVALID_PRICE)
            if not terms.min_qty <= qty <= terms.max_qty or quote_qty:
                return _rejected(cmd, Reject.INVALID_QUANTITY)
            need = terms.buy_obligation(price, qty) if buy else qty * terms.base_scale
        else:
            checked = self._market_order_need(cmd, terms, account)
            if checked.__class__ is OrderRejected:
                return checked
            need = checked  # type: ignore[assignment]
        orders = account.orders
        if order_id in orders:
            return _rejected(cmd, Reject.DUPLICATE_ORDER_ID)
        if client_id and client_id in account.client_ids:
            return _rejected(cmd, Reject.DUPLICATE_CLIENT_ORDER_ID)
        balance = account.balances[terms.quote if buy else terms.base]
        if balance[0] < need:
            return _rejected(cmd, Reject.INSUFFICIENT_FUNDS)
        balance[0] -= need
        balance[1] += need
        if buy and kind is not LIMIT and need != quote_qty:
            cmd = cmd._replace(quote_qty=need)  # the budget the book may spend
        orders[order_id] = Hold(cmd, need)
        if client_id:
            account.client_ids[client_id] = order_id
        return cmd

    def _market_order_need(
        self, cmd: PlaceOrder, terms: Terms, account: Account
    ) -> int | OrderRejected:
        if cmd.price or cmd.tif is not TimeInForce.IOC:
            return _rejected(cmd, Reject.INVALID_ORDER)
        qty, quote_qty = cmd.qty, cmd.quote_qty
        if qty and not terms.min_qty <= qty <= terms.max_qty:
            return _rejected(cmd, Reject.INVALID_QUANTITY)
        if cmd.side is not BUY:
            if quote_qty or not qty:
                return _rejected(cmd, Reject.INVALID_QUANTITY)
            return qty * terms.base_scale
        if quote_qty < 0 or not (qty or quote_qty):
            return _rejected(cmd, Reject.INVALID_QUANTITY)
        # Risk cannot see the book, so a buy by quantity alone may spend all it has.
        need = quote_qty or account.balances[terms.quote][0]
        return need if need else _rejected(cmd, Reject.INSUFFICIENT_FUNDS)

    def cancel(self, cmd: CancelOrder) -> CancelOrder | CancelRejected:
        """Check the order is the user's own and name it for the book."""
        hold = self._find(cmd.user, cmd.order_id, cmd.client_order_id)
        if hold is None:
            return CancelRejected(cmd.seq, cmd.ts, cmd.order_id, cmd.user, cmd.client_order_id,
                                  Reject.UNKNOWN_ORDER)
        return cmd._replace(order_id=hold.cmd.order_id, market=hold.cmd.market)

    def reduce(self, cmd: ReduceOrder) -> ReduceOrder | CancelRejected:
        """Check the order is the user's own and the reduction positive; name it for the book."""
        hold = self._find(cmd.user, cmd.order_id, cmd.client_order_id)
        if hold is None or cmd.reduce_by <= 0:
            reason = Reject.UNKNOWN_ORDER if hold is None else Reject.INVALID_QUANTITY
            return CancelRejected(cmd.seq, cmd.ts, cmd.order_id, cmd.user, cmd.client_order_id,
                                  reason)
        return cmd._replace(order_id=hold.cmd.order_id, market=hold.cmd.market)

    def cancel_all(self, cmd: CancelAll) -> list[CancelOrder]:
        """Expand into one cancel per open order of the user (in `cmd.market`, if given)."""
        account = self._accounts.get(cmd.user)
        if account is None:
            return []
        return [
            CancelOrder(cmd.seq, cmd.ts, cmd.user, h.cmd.order_id, h.cmd.client_order_id,
                        h.cmd.market)
            for h in account.orders.values()
            if not cmd.market or h.cmd.market == cmd.market
        ]

    def _find(self, user: int, order_id: int, client_order_id: str) -> Hold | None:
        account = self._accounts.get(user)
        if account is None:
            return None
        if not order_id:
            order_id = account.client_ids.get(client_order_id, 0)
        return account.orders.get(order_id)

    # ---- events from the book -------------------------------------------------------

    def apply(self, events: Iterable[Event]) -> None:
        """Settle trades and release holds as the book reports them."""
        on_event = self._on_event
        for event in events:
            handler = on_event.get(event.__class__)
            if handler is not None:
                handler(event)

    def _settle(self, trade: TradeExecuted) -> None:
        terms = self._terms[trade.market]
        notional = trade.price * trade.qty * terms.quote_scale
        quote = terms.quote
        for user, order_id, fee in (
            (trade.maker_user, trade.maker_order_id, trade.maker_fee),
            (trade.taker_user, trade.taker_order_id, trade.taker_fee),
        ):
            account = self._accounts.get(user)
            if account is None:
                continue  # another partition's user
            hold = account.orders[order_id]
            balances = account.balances
            hold.remaining -= trade.qty
            if hold.cmd.side is BUY:
                cost = notional + fee
                if hold.cmd.type is LIMIT:
                    still_needed = terms.buy_obligation(hold.cmd.price, hold.remaining)
                else:
                    still_needed = hold.held - cost
                balances[quote][1] -= hold.held - still_needed
                balances[quote][0] += hold.held - still_needed - cost
                hold.held = still_needed
                balances[terms.base][0] += trade.qty * terms.base_scale
            else:
                base_amount = trade.qty * terms.base_scale
                hold.held -= base_amount
                balances[terms.base][1] -= base_amount
                balances[quote][0] += notional - fee
            self._fees[quote][0] += fee

    def _reduced(self, event: OrderReduced) -> None:
        account = self._accounts.get(event.user)
        if account is None:
            return
        hold = account.orders[event.order_id]
        hold.remaining = event.remaining
        terms = self._terms[event.market]
        if hold.cmd.side is BUY:
            still_needed = terms.buy_obligation(hold.cmd.price, hold.remaining)
            balance = account.balances[terms.quote]
        else:
            still_needed = hold.remaining * terms.base_scale
            balance = account.balances[terms.base]
        balance[1] -= hold.held - still_needed
        balance[0] += hold.held - still_needed
        hold.held = still_needed

    def _close(self, event: OrderDone | OrderCancelled | OrderRejected) -> None:
        account = self._accounts.get(event.user)
        if account is None:
            return
        hold = account.orders.pop(event.order_id, None)
        if hold is None:
            return
        cmd = hold.cmd
        if cmd.client_order_id:
            del account.client_ids[cmd.client_order_id]
        terms = self._terms[cmd.market]
        balance = account.balances[terms.quote if cmd.side is BUY else terms.base]
        balance[1] -= hold.held
        balance[0] += hold.held

    # ---- queries --------------------------------------------------------------------

    def balance(self, user: int, asset: str) -> tuple[int, int]:
        """Return (available, held) in minor units."""
        available, held = self._accounts[user].balances[asset]
        return available, held

    def has_account(self, user: int) -> bool:
        return user in self._accounts

    def accounts(self) -> Iterable[Account]:
        return self._accounts.values()

    def open_orders(self, user: int) -> list[Hold]:
        account = self._accounts.get(user)
        return list(account.orders.values()) if account else []

    def totals(self) -> dict[str, int]:
        """Sum available + held per asset over every account, the fee account included."""
        totals = dict.fromkeys(self._assets, 0)
        for account in self._accounts.values():
            for code, (available, held) in account.balances.items():
                totals[code] += available + held
        return totals

    # ---- state ----------------------------------------------------------------------

    def to_state(self) -> dict[str, Any]:
        """Return accounts, balances and holds as plain data, accounts by id."""
        return {
            "granted": [[code, self.granted[code]] for code in self._assets],
            "accounts": [
                [
                    a.user,
                    [[code, *a.balances[code]] for code in self._assets],
                    [[list(h.cmd), h.remaining, h.held] for h in a.orders.values()],
                ]
                for a in sorted(self._accounts.values(), key=lambda a: a.user)
            ],
        }

    @classmethod
    def from_state(cls, config: Config, state: dict[str, Any]) -> "Ledger":
        ledger = cls(config)
        ledger.granted = {code: amount for code, amount in state["granted"]}
        ledger._accounts.clear()
        for user, balances, holds in state["accounts"]:
            account = ledger._accounts[user] = Account(user, ledger._assets)
            for code, available, held in balances:
                account.balances[code] = [available, held]
            for fields, remaining, held in holds:
                cmd = place_order_from_list(fields)
                hold = account.orders[cmd.order_id] = Hold(cmd, held)
                hold.remaining = remaining
                if cmd.client_order_id:
                    account.client_ids[cmd.client_order_id] = cmd.order_id
        ledger._fees = ledger._accounts[FEE_ACCOUNT].balances
        return ledger


def _rejected(cmd: PlaceOrder, reason: Reject) -> OrderRejected:
    return OrderRejected(cmd.seq, cmd.ts, cmd.order_id, cmd.user, cmd.client_order_id, reason)
