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

Layout
    All balances live in one flat array of signed 64-bit integers: an account owns
    2 x (number of assets) slots from `account.slot`, available then held for each asset.
    One array keeps every balance on a few memory pages; on this hardware a cache or TLB
    miss costs more than the rest of an order's risk check. A balance beyond 2**63 - 1
    minor units raises OverflowError, which stops the service: grants are bounded far below.
    An open order is a list, `[held, remaining lots, balance slot, client order id,
    PlaceOrder]`, in one index by order id. Settling, releasing and cancelling read the
    hold and the balance array only, never the account: a cold read costs more here than
    the arithmetic. Each account lists the ids of its orders for cancel-all; the list is
    appended to on place and pruned of closed orders as it grows, so closing an order
    does not touch it.

Partitioning
    A ledger may own only some users (one risk partition). `apply` settles only the
    sides of a trade whose user it owns, so each side is settled exactly once when every
    partition applies every trade that concerns it.
"""

from array import array
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

FEE_ACCOUNT = 0  # the user id that collects fees; no one can trade as it
BUY = Side.BUY
LIMIT = OrderType.LIMIT

# [held amount, remaining lots, slot of the held asset's balance, client order id, command]
Hold = list[Any]


class Account:
    __slots__ = ("client_ids", "order_ids", "pruned", "slot", "user")

    def __init__(self, user: int, slot: int) -> None:
        self.user = user
        self.slot = slot  # where this account's balances start in the ledger's array
        self.order_ids: list[int] = []  # open orders, oldest first, and some closed ones
        self.pruned = 0  # len(order_ids) after the last pruning
        self.client_ids: dict[str, int] = {}  # client order id -> order id, open orders only


class Terms(NamedTuple):
    """A market's numbers as risk uses them; `base` and `quote` are balance slot offsets."""

    market: Market
    base: int
    quote: int
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
        self._assets = tuple(a.code for a in config.assets)
        self._offset = {code: 2 * i for i, code in enumerate(self._assets)}
        self._terms = {
            m.symbol: Terms(m, self._offset[m.base.code], self._offset[m.quote.code],
                            m.base_scale, m.quote_scale, m.max_fee_ppm, m.min_qty, m.max_qty,
                            m.max_price)
            for m in config.markets
        }
        self._balances = array("q")
        self._width = 2 * len(self._assets)  # balance slots per account
        self._accounts: dict[int, Account] = {}
        self._holds: dict[int, Hold] = {}  # open orders by order id
        self._fee_account = self._new_account(FEE_ACCOUNT)
        self.granted: dict[str, int] = dict.fromkeys(self._assets, 0)
        self._on_event: dict[type, Callable[[Any], None]] = {
            TradeExecuted: self._settle,
            OrderDone: self._close,
            OrderCancelled: self._close,
            OrderRejected: self._close,
            OrderReduced: self._reduced,
        }

    def _new_account(self, user: int) -> Account:
        account = Account(user, len(self._balances))
        self._balances.extend([0] * self._width)
        return account

    # ---- commands from users --------------------------------------------------------

    def open_account(self, cmd: OpenAccount) -> AccountOpened | OrderRejected:
        """Create an account with the configured starting grant."""
        if cmd.user in self._accounts or cmd.user <= 0:
            return OrderRejected(cmd.seq, cmd.ts, 0, cmd.user, "", Reject.ACCOUNT_EXISTS)
        account = self._accounts[cmd.user] = self._new_account(cmd.user)
        for code, amount in self.config.grants:
            self._balances[account.slot + self._offset[code]] += amount
            self.granted[code] += amount
        return AccountOpened(cmd.seq, cmd.ts, cmd.user)

    def place(self, cmd: PlaceOrder) -> PlaceOrder | OrderRejected:
        """Hold what the order may cost and pass it on to the book, or refuse it."""
        _, _, order_id, user, symbol, side, kind, _, price, qty, quote_qty, client_id, _ = cmd
        account = self._accounts.get(user)
        if account is None:
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
            if isinstance(checked, OrderRejected):
                return checked
            need = checked
        if order_id in self._holds:
            return _rejected(cmd, Reject.DUPLICATE_ORDER_ID)
        if client_id and client_id in account.client_ids:
            return _rejected(cmd, Reject.DUPLICATE_CLIENT_ORDER_ID)
        slot = account.slot + (terms.quote if buy else terms.base)
        balances = self._balances
        if balances[slot] < need:
            return _rejected(cmd, Reject.INSUFFICIENT_FUNDS)
        balances[slot] -= need
        balances[slot + 1] += need
        if buy and kind is not LIMIT and need != quote_qty:
            cmd = cmd._replace(quote_qty=need)  # the budget the book may spend
        self._holds[order_id] = [need, qty, slot, client_id, cmd]
        order_ids = account.order_ids
        order_ids.append(order_id)
        if len(order_ids) > 2 * account.pruned + 32:
            order_ids[:] = [i for i in order_ids if i in self._holds]
            account.pruned = len(order_ids)
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
        need = quote_qty or self._balances[account.slot + terms.quote]
        return need if need else _rejected(cmd, Reject.INSUFFICIENT_FUNDS)

    def cancel(self, cmd: CancelOrder) -> CancelOrder | CancelRejected:
        """Check the order is the user's own and name it for the book."""
        hold = self._find(cmd.user, cmd.order_id, cmd.client_order_id)
        if hold is None:
            return CancelRejected(cmd.seq, cmd.ts, cmd.order_id, cmd.user, cmd.client_order_id,
                                  Reject.UNKNOWN_ORDER)
        placed: PlaceOrder = hold[4]
        return CancelOrder(cmd.seq, cmd.ts, cmd.user, placed.order_id, cmd.client_order_id,
                           placed.market)

    def reduce(self, cmd: ReduceOrder) -> ReduceOrder | CancelRejected:
        """Check the order is the user's own and the reduction positive; name it for the book."""
        hold = self._find(cmd.user, cmd.order_id, cmd.client_order_id)
        if hold is None or cmd.reduce_by <= 0:
            reason = Reject.UNKNOWN_ORDER if hold is None else Reject.INVALID_QUANTITY
            return CancelRejected(cmd.seq, cmd.ts, cmd.order_id, cmd.user, cmd.client_order_id,
                                  reason)
        placed: PlaceOrder = hold[4]
        return ReduceOrder(cmd.seq, cmd.ts, cmd.user, placed.order_id, cmd.reduce_by,
                           cmd.client_order_id, placed.market)

    def cancel_all(self, cmd: CancelAll) -> list[CancelOrder]:
        """Expand into one cancel per open order of the user (in `cmd.market`, if given)."""
        account = self._accounts.get(cmd.user)
        if account is None:
            return []
        cancels = []
        for order_id in account.order_ids:
            hold = self._holds.get(order_id)
            if hold is None:
                continue
            placed: PlaceOrder = hold[4]
            if placed.user == cmd.user and (not cmd.market or placed.market == cmd.market):
                cancels.append(CancelOrder(cmd.seq, cmd.ts, cmd.user, order_id, hold[3],
                                           placed.market))
        return cancels

    def _find(self, user: int, order_id: int, client_order_id: str) -> Hold | None:
        if not order_id:
            account = self._accounts.get(user)
            if account is None:
                return None
            order_id = account.client_ids.get(client_order_id, 0)
        hold = self._holds.get(order_id)
        if hold is None or hold[4].user != user:
            return None
        return hold

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
        qty = trade.qty
        notional = trade.price * qty * terms.quote_scale
        base_amount = qty * terms.base_scale
        balances = self._balances
        fees = self._fee_account.slot + terms.quote
        holds = self._holds
        for order_id, fee in ((trade.maker_order_id, trade.maker_fee),
                              (trade.taker_order_id, trade.taker_fee)):
            hold = holds.get(order_id)
            if hold is None:
                continue  # another partition's user
            held, remaining, slot, _, placed = hold
            remaining -= qty
            hold[1] = remaining
            if placed.side is BUY:  # `slot` is the quote balance's
                cost = notional + fee
                if placed.type is LIMIT:
                    still_needed = terms.buy_obligation(placed.price, remaining)
                else:
                    still_needed = held - cost
                balances[slot + 1] -= held - still_needed
                balances[slot] += held - still_needed - cost
                hold[0] = still_needed
                balances[slot - terms.quote + terms.base] += base_amount
            else:  # `slot` is the base balance's
                hold[0] = held - base_amount
                balances[slot + 1] -= base_amount
                balances[slot - terms.base + terms.quote] += notional - fee
            balances[fees] += fee

    def _reduced(self, event: OrderReduced) -> None:
        hold = self._holds.get(event.order_id)
        if hold is None:
            return
        held, _, slot, _, placed = hold
        hold[1] = remaining = event.remaining
        terms = self._terms[event.market]
        if placed.side is BUY:
            still_needed = terms.buy_obligation(placed.price, remaining)
        else:
            still_needed = remaining * terms.base_scale
        self._balances[slot + 1] -= held - still_needed
        self._balances[slot] += held - still_needed
        hold[0] = still_needed

    def _close(self, event: OrderDone | OrderCancelled | OrderRejected) -> None:
        hold = self._holds.pop(event.order_id, None)
        if hold is None:
            return
        held, _, slot, client_id, _ = hold
        if client_id:
            del self._accounts[event.user].client_ids[client_id]
        if held:
            self._balances[slot + 1] -= held
            self._balances[slot] += held

    # ---- queries --------------------------------------------------------------------

    def balance(self, user: int, asset: str) -> tuple[int, int]:
        """Return (available, held) in minor units."""
        account = self._fee_account if user == FEE_ACCOUNT else self._accounts[user]
        slot = account.slot + self._offset[asset]
        return self._balances[slot], self._balances[slot + 1]

    def balances(self, user: int) -> dict[str, tuple[int, int]]:
        """Return every asset's (available, held) of one account."""
        return {code: self.balance(user, code) for code in self._assets}

    def balance_rows(self, user: int) -> tuple[tuple[str, int, int], ...]:
        """Return (asset, available, held) for every asset of one account."""
        slot = self._accounts[user].slot
        balances = self._balances
        return tuple((code, balances[slot + offset], balances[slot + offset + 1])
                     for code, offset in self._offset.items())

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
        holds = [self._holds.get(order_id) for order_id in account.order_ids]
        return [(h[4], h[1], h[0]) for h in holds if h is not None and h[4].user == user]

    def totals(self) -> dict[str, int]:
        """Sum available + held per asset over every account, the fee account included."""
        width = self._width
        return {
            code: sum(self._balances[offset::width]) + sum(self._balances[offset + 1::width])
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
                account = ledger._accounts[user] = ledger._new_account(user)
            for code, available, held in balances:
                slot = account.slot + ledger._offset[code]
                ledger._balances[slot] = available
                ledger._balances[slot + 1] = held
            for held, remaining, fields in holds:
                placed = place_order_from_list(fields)
                terms = ledger._terms[placed.market]
                slot = account.slot + (terms.quote if placed.side is BUY else terms.base)
                ledger._holds[placed.order_id] = [held, remaining, slot, placed.client_order_id,
                                                  placed]
                account.order_ids.append(placed.order_id)
                if placed.client_order_id:
                    account.client_ids[placed.client_order_id] = placed.order_id
        return ledger


def _rejected(cmd: PlaceOrder, reason: Reject) -> OrderRejected:
    return OrderRejected(cmd.seq, cmd.ts, cmd.order_id, cmd.user, cmd.client_order_id, reason)
