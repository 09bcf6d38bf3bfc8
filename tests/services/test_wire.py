"""Every command and event survives the wire unchanged, enums included."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from exchange.core.commands import CancelAll, CancelOrder, OpenAccount, PlaceOrder, ReduceOrder
from exchange.core.events import (
    AccountOpened,
    BalancesChanged,
    CancelRejected,
    LevelChanged,
    OrderAccepted,
    OrderCancelled,
    OrderDone,
    OrderReduced,
    OrderRejected,
    OrderTriggered,
    TradeExecuted,
)
from exchange.core.types import (
    CancelReason,
    OrderType,
    Reject,
    SelfTrade,
    Side,
    TimeInForce,
    Trigger,
)
from exchange.services.wire import CODES, WireError, decode, encode

MESSAGES = [
    OpenAccount(1, 2, 3),
    PlaceOrder(1, 2, 3, 4, "COIN-USD", Side.SELL, OrderType.LIMIT, TimeInForce.POST_ONLY, 400,
               10, 0, "c", SelfTrade.CANCEL_BOTH),
    PlaceOrder(1, 2, 3, 4, "COIN-USD", Side.BUY, OrderType.MARKET, TimeInForce.IOC, 0, 10, 0,
               "", SelfTrade.CANCEL_TAKER, 900, 450, Trigger.STOP_LOSS),
    CancelOrder(1, 2, 3, 4, "c", "COIN-USD"),
    CancelAll(1, 2, 3, ""),
    ReduceOrder(1, 2, 3, 4, 5, "", "COIN-USD"),
    AccountOpened(1, 2, 3),
    OrderRejected(1, 2, 3, 4, "", Reject.INSUFFICIENT_FUNDS),
    CancelRejected(1, 2, 3, 4, "x", Reject.UNKNOWN_ORDER),
    TradeExecuted(1, 2, "COIN-USD", 7, 400, 10, Side.BUY, 1, 2, 3, 4, 5, 6),
    OrderReduced(1, 2, 3, 4, "COIN-USD", Side.BUY, 5, 6),
    OrderCancelled(1, 2, 3, 4, "COIN-USD", Side.SELL, 5, CancelReason.SELF_TRADE),
    OrderDone(1, 2, 3, 4, "COIN-USD", Side.BUY),
    OrderTriggered(1, 2, 3, 4, "COIN-USD", Side.SELL),
    LevelChanged(1, "COIN-USD", Side.SELL, 400, 0, 9),
    BalancesChanged(1, 3, (("USD", 5, 6), ("COIN", 0, 7))),
]


def test_every_message_type_has_a_code_and_an_example() -> None:
    assert {type(m) for m in MESSAGES} | {OrderAccepted} == set(CODES)
    assert len(set(CODES.values())) == len(CODES)


@pytest.mark.parametrize("message", MESSAGES, ids=lambda m: type(m).__name__)
def test_round_trip_keeps_types_and_enums(message: object) -> None:
    back = decode(encode(message))  # type: ignore[arg-type]
    assert back == message and type(back) is type(message)
    for got, sent in zip(back, message, strict=True):
        assert type(got) is type(sent)


@given(st.integers(-(2**62), 2**62), st.text(max_size=20))
def test_round_trip_of_any_numbers_and_text(number: int, text: str) -> None:
    message = OrderRejected(number, number, number, number, text, Reject.UNKNOWN_MARKET)
    assert decode(encode(message)) == message


@pytest.mark.parametrize("data", [b"", b"{}", b"[999, 1]", b"[2, 1]", b"not json",
                                  b"[103, 1, 2, 3, 4, \"\", 42]",
                                  b"[103, 1, 2, 3, 4, \"\", [1]]"])
def test_garbage_is_refused(data: bytes) -> None:
    with pytest.raises(WireError):
        decode(data)


def test_a_place_order_journaled_before_the_budget_field_still_decodes() -> None:
    older = b'[2, 1, 2, 3, 4, "COIN-USD", 2, 1, 1, 400, 10, 0, "c", 1]'  # 13 fields
    placed = decode(older)
    assert isinstance(placed, PlaceOrder) and placed.budget == 0 and placed.stp is SelfTrade(1)
    with pytest.raises(WireError):  # a missing field without a default is still refused
        decode(b'[2, 1, 2, 3, 4, "COIN-USD", 2, 1, 1, 400]')


def test_messages_written_before_stop_orders_still_decode() -> None:
    placed = decode(b'[2, 1, 2, 3, 4, "COIN-USD", 2, 1, 1, 400, 10, 0, "c", 1, 0]')
    assert isinstance(placed, PlaceOrder) and placed.trigger is Trigger.NONE
    assert placed.stop_price == 0
    accepted = decode(b'[102, 1, 2, 3, 4, "COIN-USD", 2, 1, 1, 400, 10, 0, "c"]')
    assert isinstance(accepted, OrderAccepted) and accepted.trigger is Trigger.NONE
