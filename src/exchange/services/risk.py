"""The risk service: the ledger of the users of each partition of the `risk` topic.

Commands from gateways are checked and held for (or refused); what passes goes on to
match. What match reports about a user's orders comes back here to be settled, and then
goes on to the user. A ledger per partition, so a partition's state can move alone.
"""

from typing import Any

from exchange.bus.port import Outgoing, Record
from exchange.core.commands import CancelAll, CancelOrder, OpenAccount, PlaceOrder, ReduceOrder
from exchange.core.events import (
    AccountOpened,
    BalancesChanged,
    LevelChanged,
    OrderAccepted,
    TradeExecuted,
)
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
        match message:
            case PlaceOrder():
                checked = ledger.place(message)
                if checked is message:  # let through as it came: its bytes need no re-encoding
                    out.append(Outgoing(topics.MATCH, topics.market_key(message.market),
                                        record.value))
                else:  # refused, or with the budget risk set for a market buy
                    self._pass_on(checked, record.key, out)
                if isinstance(checked, PlaceOrder):
                    self._balances(ledger, checked.seq, checked.user, out)
            case CancelOrder():
                self._pass_on(ledger.cancel(message), record.key, out)
            case ReduceOrder():
                self._pass_on(ledger.reduce(message), record.key, out)
            case CancelAll():
                for cancel in ledger.cancel_all(message):
                    out.append(Outgoing(topics.MATCH, topics.market_key(cancel.market),
                                        encode(cancel)))
            case OpenAccount():
                opened = ledger.open_account(message)
                out.append(Outgoing(topics.USER_EVENTS, record.key, encode(opened)))
                if isinstance(opened, AccountOpened):
                    self._balances(ledger, opened.seq, opened.user, out)
            case TradeExecuted():
                ledger.apply((message,))
                for user in (message.maker_user, message.taker_user):
                    if ledger.has_account(user):
                        out.append(Outgoing(topics.USER_EVENTS, topics.user_key(user),
                                            record.value))
                        self._balances(ledger, message.seq, user, out)
            case LevelChanged() | AccountOpened() | BalancesChanged():
                raise TypeError(f"risk does not take a {type(message).__name__}")
            case _:  # what match reports of one user's order
                ledger.apply((message,))
                out.append(Outgoing(topics.USER_EVENTS, record.key, record.value))
                if not isinstance(message, OrderAccepted):  # held when it was placed
                    self._balances(ledger, message.seq, message.user, out)

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
