"""The whole core in one process: risk before the book, settlement after it.

`Exchange.execute` runs the same stages the services run apart (gateway -> risk ->
match -> risk), in order, for one command:

    1. risk checks the user and holds funds (or rejects);
    2. the market's book matches, rests or cancels, and reports events;
    3. risk settles trades and releases holds.

In one process risk and the books share each open order's record (`orders`), and the
books settle through risk as they match (`book.Risk`) rather than risk reading their
events back; the outcome is the same as the services' (a property test runs both).

It is deterministic: the same commands give the same events and the same state, on any
machine. Commands are numbered; one whose `seq` is not past the last one applied is
ignored, so replaying a journal over a snapshot applies each command once.
"""

import hashlib
from typing import Any

import orjson

from exchange.core.book import Level, OrderBook
from exchange.core.commands import (
    CancelAll,
    CancelOrder,
    Command,
    OpenAccount,
    PlaceOrder,
    ReduceOrder,
)
from exchange.core.events import (
    CancelRejected,
    Event,
    LevelChanged,
    OrderAccepted,
    OrderCancelled,
    OrderRejected,
)
from exchange.core.ledger import Ledger, close
from exchange.core.markets import PPM, Config
from exchange.core.orders import ACCOUNT, BOOK_LEFT, COMMAND, HELD, LEVEL, OFFSET, Order
from exchange.core.types import CancelReason, OrderType, Reject, Side, TimeInForce

STATE_FORMAT = 1

BUY = Side.BUY
LIMIT = OrderType.LIMIT
GTC, POST_ONLY = TimeInForce.GTC, TimeInForce.POST_ONLY
USER_CANCEL = CancelReason.USER
UNKNOWN_ORDER = Reject.UNKNOWN_ORDER
# See book.py: an event without the NamedTuple constructor's frame. And every enum member
# the short ways use is a module global: reading `Side.BUY` costs as much as a dict lookup.
_new = tuple.__new__


class _Market:
    """One market as the short ways see it: its book and risk's numbers, as plain slots
    (reading a NamedTuple field or calling a method costs several times more)."""

    __slots__ = ("base", "base_scale", "book", "fee_ppm", "max_price", "max_qty", "min_qty",
                 "quote", "quote_scale")

    def __init__(self, book: OrderBook, ledger: Ledger) -> None:
        terms = ledger.terms(book.symbol)
        assert terms is not None
        self.book = book
        self.base, self.quote = terms.base, terms.quote
        self.base_scale, self.quote_scale = terms.base_scale, terms.quote_scale
        self.fee_ppm = terms.max_fee_ppm
        self.min_qty, self.max_qty, self.max_price = terms.min_qty, terms.max_qty, terms.max_price


class Exchange:
    def __init__(self, config: Config) -> None:
        self.config = config
        self.ledger = Ledger(config)
        self.books = {m.symbol: OrderBook(m) for m in config.markets}
        self.seq = 0  # the last command applied
        self._link()

    def _link(self) -> None:
        """Let the books settle through risk as they match, and index what the short ways
        read."""
        for symbol, book in self.books.items():
            book.risk = self.ledger.settlement(symbol)
        self._markets = {symbol: _Market(book, self.ledger) for symbol, book in self.books.items()}
        self._accounts = self.ledger._accounts

    def execute(self, cmd: Command) -> list[Event]:
        """Apply one command and return what happened.

        Risk and the book share each order's record (see `orders`). The two commands
        that make up nearly all traffic take a short way through both, written out here
        in full because every call, lookup and object costs: a limit order that rests
        without taking, and a cancel by order id. Their outcomes are exactly those of the
        general way below (risk, then the book settling through risk as it matches), and
        of risk and the book run apart, which the property tests check.
        """
        kind = cmd.__class__
        if kind is PlaceOrder:
            placed: PlaceOrder = cmd  # type: ignore[assignment]
            (seq, ts, order_id, user, symbol, side, type_, tif, price, qty, quote_qty,
             client_id, _, budget) = placed
            if seq <= self.seq:
                return []
            self.seq = seq
            market = self._markets.get(symbol)
            account = self._accounts.get(user)
            # The short way takes only what risk would accept as it is; anything else
            # (a refusal included) goes the general way, which knows every reason.
            if (type_ is LIMIT and (tif is GTC or tif is POST_ONLY) and market is not None
                    and account is not None and not quote_qty and not budget
                    and 0 < price <= market.max_price and market.min_qty <= qty <= market.max_qty
                    and order_id not in account.orders
                    and not (client_id and client_id in account.client_ids)):
                book = market.book
                if side is BUY:
                    need = price * qty * market.quote_scale
                    if market.fee_ppm:  # `Terms.buy_obligation`, inline
                        need += need * market.fee_ppm // PPM
                    offset = market.quote
                    keys = book._ask_keys
                    takes = keys and keys[0] <= price
                    levels = book._bids
                else:
                    need = qty * market.base_scale
                    offset = market.base
                    keys = book._bid_keys
                    takes = keys and -keys[0] >= price
                    levels = book._asks
                balances = account.balances
                if balances[offset] >= need:
                    # Risk holds, in a record for risk and the book both.
                    balances[offset] -= need
                    balances[offset + 1] += need
                    if not takes:
                        # The book rests it; nothing to settle or release.
                        level = levels.get(price)
                        if level is None:
                            level = levels[price] = book.new_level(side, price)
                        order: Order = [qty, qty, need, account, offset, level, placed]
                        account.orders[order_id] = order
                        if client_id:
                            account.client_ids[client_id] = order_id
                        if book._orders.setdefault(order_id, order) is not order:
                            # Ids are unique per user in risk, across the exchange in a
                            # book: a gateway's broken promise, as `OrderBook.place` says.
                            raise ValueError(f"order id {order_id} is already in the book")
                        level.orders.append(order)
                        total = level.total = level.total + qty
                        book.version = version = book.version + 1
                        return [
                            _new(OrderAccepted, (seq, ts, order_id, user, symbol, side, type_,
                                                 tif, price, qty, 0, client_id)),
                            _new(LevelChanged, (seq, symbol, side, price, total, version)),
                        ]
                    order = [0, qty, need, account, offset, None, placed]
                    account.orders[order_id] = order
                    if client_id:
                        account.client_ids[client_id] = order_id
                    # The book matches, settling through risk as it goes, and rests what
                    # is left (unless the order is post-only: then it refuses it whole).
                    out: list[Event] = []
                    book.place(placed, out, order)
                    if order[LEVEL] is None:  # it is not resting: release what it holds
                        del account.orders[order_id]
                        close(order)
                    return out
            return self._place(placed)
        if kind is CancelOrder:
            return self._cancel(cmd)  # type: ignore[arg-type]
        if cmd.seq <= self.seq:
            return []
        self.seq = cmd.seq
        out = []
        if kind is ReduceOrder:
            self._to_book(self.ledger.reduce(cmd), out)  # type: ignore[arg-type]
        elif kind is CancelAll:
            for each in self.ledger.cancel_all(cmd):  # type: ignore[arg-type]
                self.books[each.market].cancel(each, out)
        elif kind is OpenAccount:
            return [self.ledger.open_account(cmd)]  # type: ignore[arg-type]
        else:
            raise TypeError(f"expected a command, got {kind.__name__}")
        self.ledger.apply(out)
        return out

    def _cancel(self, cancel: CancelOrder) -> list[Event]:
        """Cancel: the short way when it names the order by id (almost always)."""
        seq, ts, user, order_id, client_id, _ = cancel
        if seq <= self.seq:
            return []
        self.seq = seq
        account = self._accounts.get(user)
        if not order_id or account is None:
            out: list[Event] = []
            self._to_book(self.ledger.cancel(cancel), out)
            self.ledger.apply(out)
            return out
        order = account.orders.pop(order_id, None)
        if order is None:
            return [_new(CancelRejected, (seq, ts, order_id, user, client_id, UNKNOWN_ORDER))]
        # The book: out of the index and the level (the record stays in the level's
        # queue, dead, until it reaches the front or the queue is compacted).
        level: Level = order[LEVEL]
        book = level.book
        del book._orders[order_id]
        left = order[BOOK_LEFT]
        total = level.total - left
        dead = level.dead + 1
        if total and (dead <= 16 or dead * 2 <= len(level.orders)):
            # The level stays and is not due for compacting (see `OrderBook.unlink`).
            level.total = total
            level.dead = dead
            order[BOOK_LEFT] = 0
        else:
            book.unlink(order, left, level)
        # Risk: release the hold and the client order id.
        held = order[HELD]
        order[HELD] = 0
        balances = account.balances
        offset = order[OFFSET]
        balances[offset + 1] -= held
        balances[offset] += held
        if account.client_ids:
            placed: PlaceOrder = order[COMMAND]
            if placed.client_order_id:
                del account.client_ids[placed.client_order_id]
        symbol, side, price = book.symbol, level.side, level.price
        book.version = version = book.version + 1
        return [
            _new(OrderCancelled, (seq, ts, order_id, user, symbol, side, left, USER_CANCEL)),
            _new(LevelChanged, (seq, symbol, side, price, total, version)),
        ]

    def _place(self, cmd: PlaceOrder) -> list[Event]:
        """The general way of an order: risk holds (or refuses), the book matches and rests,
        settling each fill and closing each maker through risk as it goes."""
        order = self.ledger.hold(cmd)
        if isinstance(order, OrderRejected):
            return [order]
        out: list[Event] = []
        self.books[cmd.market].place(order[COMMAND], out, order)
        if order[LEVEL] is None:
            # Filled, cancelled or refused by the book: release what it still holds.
            del order[ACCOUNT].orders[cmd.order_id]
            close(order)
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
