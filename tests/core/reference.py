"""A slow, plain reference exchange: the oracle the property tests hold the engine to.

It keeps every resting order in one list and finds the best by sorting, and it derives
every balance from the grant and the trades rather than moving holds around. It shares
no code with the engine beyond the command and event types.
"""

from dataclasses import dataclass, field

from exchange.core.commands import CancelAll, CancelOrder, OpenAccount, PlaceOrder, ReduceOrder
from exchange.core.markets import PPM, Config, Market
from exchange.core.types import (
    CancelReason,
    OrderType,
    Reject,
    SelfTrade,
    Side,
    TimeInForce,
    Trigger,
)

Outcome = tuple[object, ...]


@dataclass
class RefOrder:
    order_id: int
    user: int
    market: Market
    side: Side
    price: int  # 0 for market orders
    qty: int
    remaining: int
    budget: int  # a market buy's quote budget left; 0 otherwise
    client_id: str
    time: int
    cmd: PlaceOrder
    waiting: bool = False  # a stop order not triggered yet: held for, not in the book
    # Its place in time among resting orders: (seq of the command it rested in, then 0
    # for the order the command placed, 1, 2, ... for the stop orders it triggered).
    queued: tuple[int, int] = (0, 0)


@dataclass
class Reference:
    config: Config
    users: set[int] = field(default_factory=set)
    totals: dict[tuple[int, str], int] = field(default_factory=dict)  # (user, asset) -> amount
    book: list[RefOrder] = field(default_factory=list)  # resting and waiting, any market
    last: dict[str, int] = field(default_factory=dict)  # last trade price per market
    triggered: int = 0  # stop orders triggered so far

    def total(self, user: int, asset: str) -> int:
        return self.totals.get((user, asset), 0)

    def held(self, user: int, asset: str) -> int:
        return sum(self.obligation(o) for o in self.book
                   if o.user == user and self.held_asset(o) == asset)

    def available(self, user: int, asset: str) -> int:
        return self.total(user, asset) - self.held(user, asset)

    @staticmethod
    def held_asset(o: RefOrder) -> str:
        return o.market.quote.code if o.side is Side.BUY else o.market.base.code

    @staticmethod
    def obligation(o: RefOrder) -> int:
        m = o.market
        if o.side is Side.SELL:
            return o.remaining * m.base_scale
        if not o.price:
            return o.budget
        notional = o.price * o.remaining * m.quote_scale
        return notional + notional * max(m.maker_fee_ppm, m.taker_fee_ppm) // PPM

    # ---- commands -------------------------------------------------------------------

    def execute(self, cmd: object) -> list[Outcome]:
        if isinstance(cmd, OpenAccount):
            if cmd.user in self.users:
                return [("rejected", 0, Reject.ACCOUNT_EXISTS)]
            self.users.add(cmd.user)
            for code, amount in self.config.grants:
                self.totals[(cmd.user, code)] = self.total(cmd.user, code) + amount
            return [("opened", cmd.user)]
        if isinstance(cmd, PlaceOrder):
            return self.place(cmd)
        if isinstance(cmd, CancelOrder):
            order = self.find(cmd.user, cmd.order_id, cmd.client_order_id)
            if order is None:
                return [("cancel-rejected", cmd.order_id, Reject.UNKNOWN_ORDER)]
            return self.remove(order, CancelReason.USER)
        if isinstance(cmd, ReduceOrder):
            order = self.find(cmd.user, cmd.order_id, cmd.client_order_id)
            if order is None:
                return [("cancel-rejected", cmd.order_id, Reject.UNKNOWN_ORDER)]
            if order.waiting:
                return [("cancel-rejected", cmd.order_id, Reject.ORDER_NOT_IN_BOOK)]
            if cmd.reduce_by >= order.remaining:
                return self.remove(order, CancelReason.REDUCED)
            order.remaining -= cmd.reduce_by
            return [("reduced", order.order_id, order.remaining)]
        if isinstance(cmd, CancelAll):
            out: list[Outcome] = []
            for order in sorted(self.book, key=lambda o: o.time):
                if order.user == cmd.user and (not cmd.market or order.market.symbol == cmd.market):
                    out += self.remove(order, CancelReason.USER)
            return out
        raise TypeError(cmd)

    def find(self, user: int, order_id: int, client_id: str) -> RefOrder | None:
        for o in self.book:
            same = o.order_id == order_id if order_id else o.client_id == client_id
            if o.user == user and same:
                return o
        return None

    def remove(self, order: RefOrder, reason: CancelReason) -> list[Outcome]:
        self.book.remove(order)
        return [("cancelled", order.order_id, order.remaining, reason)]

    def place(self, cmd: PlaceOrder) -> list[Outcome]:
        def reject(reason: Reject) -> list[Outcome]:
            return [("rejected", cmd.order_id, reason)]

        if cmd.user not in self.users:
            return reject(Reject.UNKNOWN_ACCOUNT)
        m = next((m for m in self.config.markets if m.symbol == cmd.market), None)
        if m is None:
            return reject(Reject.UNKNOWN_MARKET)
        if cmd.trigger is not Trigger.NONE:
            if not 0 < cmd.stop_price <= m.max_price:
                return reject(Reject.INVALID_PRICE)
            if cmd.tif is TimeInForce.POST_ONLY:
                return reject(Reject.INVALID_ORDER)
        buy = cmd.side is Side.BUY
        asset = m.quote.code if buy else m.base.code
        order = RefOrder(cmd.order_id, cmd.user, m, cmd.side, cmd.price, cmd.qty, cmd.qty,
                         0, cmd.client_order_id, cmd.seq, cmd)
        if cmd.type is OrderType.LIMIT:
            if not 0 < cmd.price <= m.max_price:
                return reject(Reject.INVALID_PRICE)
            if not m.min_qty <= cmd.qty <= m.max_qty:
                return reject(Reject.INVALID_QUANTITY)
            need = self.obligation(order)
        elif buy:
            if cmd.quote_qty:
                need = cmd.quote_qty
            elif cmd.trigger is not Trigger.NONE:  # what its quantity costs at the stop
                notional = cmd.stop_price * cmd.qty * m.quote_scale
                need = notional + notional * max(m.maker_fee_ppm, m.taker_fee_ppm) // PPM
            else:
                need = self.available(cmd.user, asset)
            order.budget = need
            if not need:
                return reject(Reject.INSUFFICIENT_FUNDS)
        else:
            need = self.obligation(order)
        if any(o.user == cmd.user and o.order_id == cmd.order_id for o in self.book):
            return reject(Reject.DUPLICATE_ORDER_ID)
        if cmd.client_order_id and self.find(cmd.user, 0, cmd.client_order_id):
            return reject(Reject.DUPLICATE_CLIENT_ORDER_ID)
        if self.available(cmd.user, asset) < need:
            return reject(Reject.INSUFFICIENT_FUNDS)
        if cmd.trigger is not Trigger.NONE:
            if self.reached(order):
                return reject(Reject.WOULD_TRIGGER_IMMEDIATELY)
            order.waiting = True
            self.book.append(order)
            return [("accepted", cmd.order_id)]
        out = self.take(order, fresh=True, queued=(cmd.seq, 0))
        # Trades may reach stop orders of the market; what those trade may reach more.
        while True:
            due = sorted((o for o in self.book if o.waiting and o.market is m
                          and self.reached(o)), key=lambda o: o.time)
            if not due:
                return out
            for stopped in due:
                stopped.waiting = False
                self.book.remove(stopped)
            for stopped in due:
                out.append(("triggered", stopped.order_id))
                self.triggered += 1
                out += self.take(stopped, fresh=False, queued=(cmd.seq, self.triggered))

    def reached(self, order: RefOrder) -> bool:
        last = self.last.get(order.market.symbol)
        if last is None:
            return False
        rises = (order.cmd.trigger is Trigger.STOP_LOSS) == (order.side is Side.BUY)
        return last >= order.cmd.stop_price if rises else last <= order.cmd.stop_price

    def take(self, order: RefOrder, *, fresh: bool, queued: tuple[int, int]) -> list[Outcome]:
        """Match an order placed now (`fresh`) or triggered now; rest it or end it."""
        cmd, m = order.cmd, order.market
        buy = cmd.side is Side.BUY
        makers = self.makers(order)
        if makers and cmd.tif is TimeInForce.POST_ONLY:
            return [("rejected", cmd.order_id, Reject.POST_ONLY_WOULD_TAKE)]
        if cmd.tif is TimeInForce.FOK and self.fillable(order, makers, cmd.stp) < cmd.qty:
            if fresh:
                return [("rejected", cmd.order_id, Reject.FOK_CANNOT_FILL)]
            return [("cancelled", cmd.order_id, cmd.qty, CancelReason.EXPIRED)]
        out: list[Outcome] = [("accepted", cmd.order_id)] if fresh else []
        # The taker holds while it matches, as the engine's ledger does.
        self.book.append(order)
        stop = "limit"
        while makers:
            maker = makers[0]
            if maker.user == cmd.user:
                makers.pop(0)
                if cmd.stp is not SelfTrade.CANCEL_TAKER:
                    out += self.remove(maker, CancelReason.SELF_TRADE)
                if cmd.stp is not SelfTrade.CANCEL_MAKER:
                    stop = "self"
                    break
                continue
            fill = min(order.remaining if order.qty else 1 << 62, maker.remaining)
            if order.budget or (buy and not cmd.price):
                fill = min(fill, self.affordable(order.budget, maker.price * m.quote_scale,
                                                 m.taker_fee_ppm))
                if not fill:
                    stop = "budget"
                    break
            notional = maker.price * fill * m.quote_scale
            maker_fee = notional * m.maker_fee_ppm // PPM
            taker_fee = notional * m.taker_fee_ppm // PPM
            self.settle(maker, fill, notional, maker_fee)
            self.settle(order, fill, notional, taker_fee)
            self.last[m.symbol] = maker.price
            out.append(("trade", maker.order_id, cmd.order_id, maker.price, fill, maker_fee,
                        taker_fee))
            if not maker.remaining:
                self.book.remove(maker)
                makers.pop(0)
                out.append(("done", maker.order_id))
            if order.qty and not order.remaining:
                stop = "filled"
                break
        self.book.remove(order)
        left = order.remaining if order.qty else 0
        if stop == "filled" or (stop == "budget" and not order.qty):
            out.append(("done", cmd.order_id))
        elif stop == "self":
            out.append(("cancelled", cmd.order_id, left, CancelReason.SELF_TRADE))
        elif cmd.type is OrderType.LIMIT and cmd.tif is not TimeInForce.IOC:
            order.queued = queued  # rests from now: behind every order already resting
            self.book.append(order)
        else:
            out.append(("cancelled", cmd.order_id, left, CancelReason.EXPIRED))
        return out

    def makers(self, taker: RefOrder) -> list[RefOrder]:
        """Return the resting orders the taker may meet, in the order it meets them."""
        opposite = [o for o in self.book if o.market is taker.market
                    and o.side is not taker.side and not o.waiting]
        if taker.side is Side.BUY:
            crossing = [o for o in opposite if not taker.price or o.price <= taker.price]
            return sorted(crossing, key=lambda o: (o.price, o.queued))
        crossing = [o for o in opposite if not taker.price or o.price >= taker.price]
        return sorted(crossing, key=lambda o: (-o.price, o.queued))

    @staticmethod
    def fillable(taker: RefOrder, makers: list[RefOrder], stp: SelfTrade) -> int:
        total = 0
        for maker in makers:
            if maker.user == taker.user:
                if stp is SelfTrade.CANCEL_MAKER:
                    continue
                break
            total += maker.remaining
        return total

    @staticmethod
    def affordable(budget: int, unit_cost: int, fee_ppm: int) -> int:
        lots = 0
        while (n := (lots + 1) * unit_cost) + n * fee_ppm // PPM <= budget:
            lots += 1
        return lots

    def settle(self, order: RefOrder, qty: int, notional: int, fee: int) -> None:
        m, user = order.market, order.user
        base, quote = m.base.code, m.quote.code
        order.remaining -= qty
        if order.side is Side.BUY:
            self.totals[(user, base)] += qty * m.base_scale
            self.totals[(user, quote)] -= notional + fee
            if not order.price:
                order.budget -= notional + fee
        else:
            self.totals[(user, base)] -= qty * m.base_scale
            self.totals[(user, quote)] += notional - fee
        self.totals[(0, quote)] = self.total(0, quote) + fee
