"""The risk service: the ledger of the users of each partition of the `risk` topic.

Commands from gateways are checked and held for (or refused); what passes goes on to
match. What match reports about a user's orders comes back here to be settled, and then
goes on to the user. A ledger per partition, so a partition's state can move alone.
"""

from typing import Any, cast

from exchange.bus.port import Outgoing, Record
from exchange.core.commands import CancelAll, CancelOrder, OpenAccount, PlaceOrder, ReduceOrder
from exchange.core.events import AccountOpened, BalancesChanged, OrderAccepted, TradeExecuted
from exchange.core.ledger import Ledger
from exchange.core.markets import Config
from exchange.services import topics
from exchange.services.processor import Processor
from exchange.services.wire import Message, decode, encode


class RiskService(Processor):
    topic = topics.RISK
    group = "risk"

    def __init__(self, config: Config) -> None:
        self.config = config
        self.ledgers: dict[int, Ledger] = {}

    def ledger(self, partition: int) -> Ledger:
        ledger = self.ledgers.get(partition)
        if ledger is None:
            ledger = self.ledgers[partition] = Ledger(self.config)
        return ledger

    def dump(self, partition: int) -> Any:
        return self.ledger(partition).to_state()

    def restore(self, partition: int, state: Any) -> None:
        self.ledgers[partition] = Ledger.from_state(self.config, state)

    def drop(self, partition: int) -> None:
        self.ledgers.pop(partition, None)

    def handle(self, record: Record, out: list[Outgoing]) -> None:
        message = decode(record.value)
        ledger = self.ledger(record.partition)
        kind = message.__class__
        if kind is PlaceOrder:
            placed = cast(PlaceOrder, message)
            checked = ledger.place(placed)
            if checked is placed:  # let through as it came: its bytes need no re-encoding
                out.append(Outgoing(topics.MATCH, topics.market_key(placed.market),
                                    record.value))
            else:  # refused, or with the budget risk set for a market buy
                self._pass_on(checked, record.key, out)
            if checked.__class__ is PlaceOrder:
                self._balances(ledger, checked.seq, checked.user, out)
        elif kind is CancelOrder:
            self._pass_on(ledger.cancel(message), record.key, out)  # type: ignore[arg-type]
        elif kind is ReduceOrder:
            self._pass_on(ledger.reduce(message), record.key, out)  # type: ignore[arg-type]
        elif kind is CancelAll:
            for cancel in ledger.cancel_all(message):  # type: ignore[arg-type]
                out.append(Outgoing(topics.MATCH, topics.market_key(cancel.market),
                                    encode(cancel)))
        elif kind is OpenAccount:
            opened = ledger.open_account(message)  # type: ignore[arg-type]
            out.append(Outgoing(topics.USER_EVENTS, record.key, encode(opened)))
            if opened.__class__ is AccountOpened:
                self._balances(ledger, opened.seq, opened.user, out)
        elif kind is TradeExecuted:
            ledger.apply((message,))  # type: ignore[arg-type]
            for user in (message.maker_user, message.taker_user):  # type: ignore[union-attr]
                if ledger.has_account(user):
                    out.append(Outgoing(topics.USER_EVENTS, topics.user_key(user), record.value))
                    self._balances(ledger, message.seq, user, out)
        else:  # what match reports about one user's order
            ledger.apply((message,))  # type: ignore[arg-type]
            out.append(Outgoing(topics.USER_EVENTS, record.key, record.value))
            if kind is not OrderAccepted:  # the hold was taken when the order was placed
                self._balances(ledger, message.seq, message.user, out)  # type: ignore[union-attr]

    @staticmethod
    def _balances(ledger: Ledger, seq: int, user: int, out: list[Outgoing]) -> None:
        changed = BalancesChanged(seq, user, ledger.balance_rows(user))
        out.append(Outgoing(topics.USER_EVENTS, topics.user_key(user), encode(changed)))

    @staticmethod
    def _pass_on(checked: Message, key: bytes, out: list[Outgoing]) -> None:
        """Send a command risk let through to match, or its refusal to the user."""
        if isinstance(checked, PlaceOrder | CancelOrder | ReduceOrder):
            out.append(Outgoing(topics.MATCH, topics.market_key(checked.market), encode(checked)))
        else:
            out.append(Outgoing(topics.USER_EVENTS, key, encode(checked)))
