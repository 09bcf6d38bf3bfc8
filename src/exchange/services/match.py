"""The match service: the order books of the markets of each partition of `match`.

Public results (trades, level changes) go to market-data; whatever happened to a user's
order goes back to risk, keyed by user. A trade concerns two users who may live in two
risk partitions: it is sent once to each partition involved, never twice to one.
"""

from typing import Any

from exchange.bus.port import Bus, Outgoing, Record, partition_for
from exchange.core.book import OrderBook
from exchange.core.commands import CancelOrder, PlaceOrder, ReduceOrder
from exchange.core.events import Event, LevelChanged, TradeExecuted
from exchange.core.markets import Config
from exchange.core.orders import Order
from exchange.services import topics
from exchange.services.processor import Processor
from exchange.services.wire import decode, encode


class MatchService(Processor):
    topic = topics.MATCH
    group = "match"

    def __init__(self, config: Config, bus: Bus) -> None:
        self.config = config
        self.books = {m.symbol: OrderBook(m) for m in config.markets}
        self._risk_partitions = bus.partitions(topics.RISK)
        partitions = bus.partitions(topics.MATCH)
        self._partition_of = {m.symbol: partition_for(topics.market_key(m.symbol), partitions)
                              for m in config.markets}

    def dump(self, partition: int) -> Any:
        return {symbol: book.to_state() for symbol, book in self.books.items()
                if self._partition_of[symbol] == partition}

    def restore(self, partition: int, state: Any) -> None:
        for symbol, book in state.items():
            if self._partition_of.get(symbol) != partition:
                raise ValueError(f"the snapshot of partition {partition} holds {symbol}")
            self.books[symbol] = OrderBook.from_state(self.config.market(symbol), book)

    def drop(self, partition: int) -> None:
        for market in self.config.markets:
            if self._partition_of[market.symbol] == partition:
                self.books[market.symbol] = OrderBook(market)

    def handle(self, record: Record, out: list[Outgoing]) -> None:
        command = decode(record.value)
        events: list[Event] = []
        match command:
            case PlaceOrder():
                self.books[command.market].place(Order(command), events)
            case CancelOrder():
                self.books[command.market].cancel(command, events)
            case ReduceOrder():
                self.books[command.market].reduce(command, events)
            case _:
                raise TypeError(f"match expected an order command, got "
                                f"{type(command).__name__}")
        for event in events:
            data = encode(event)
            match event:
                case LevelChanged():
                    out.append(Outgoing(topics.MARKET_DATA, record.key, data))
                case TradeExecuted():
                    out.append(Outgoing(topics.MARKET_DATA, record.key, data))
                    maker = topics.user_key(event.maker_user)
                    taker = topics.user_key(event.taker_user)
                    out.append(Outgoing(topics.RISK, maker, data))
                    if (partition_for(maker, self._risk_partitions)
                            != partition_for(taker, self._risk_partitions)):
                        out.append(Outgoing(topics.RISK, taker, data))
                case _:  # what happened to one user's order
                    out.append(Outgoing(topics.RISK, topics.user_key(event.user), data))
