"""The small vocabulary every other core module speaks: sides, order types, reasons.

All are `IntEnum`, so they compare by identity on the hot path and serialise as plain
integers on the bus. Their values are part of the wire format: never renumber them.
"""

from enum import IntEnum


class Side(IntEnum):
    BUY = 1
    SELL = 2


class OrderType(IntEnum):
    LIMIT = 1
    # A market order has no price: a sell gives a base quantity; a buy gives a base
    # quantity, a quote budget, or both (it stops at whichever runs out first).
    MARKET = 2


class TimeInForce(IntEnum):
    GTC = 1  # good till cancelled: the remainder rests in the book
    IOC = 2  # immediate or cancel: the remainder is cancelled
    FOK = 3  # fill or kill: fills completely at once or is rejected
    POST_ONLY = 4  # rests only; rejected if any part of it would take


class Trigger(IntEnum):
    """What holds an order back until the market's last trade price reaches its stop
    price (Binance's rule). A buy stop-loss waits for the price to rise to its stop, a
    sell stop-loss for it to fall to it; a take-profit the other way round. Once
    triggered the order is its type, limit or market, placed at that moment."""

    NONE = 0
    STOP_LOSS = 1
    TAKE_PROFIT = 2


class SelfTrade(IntEnum):
    """What happens when an incoming order would trade with its own user's resting order."""

    CANCEL_TAKER = 1  # cancel the incoming order's remainder (the default)
    CANCEL_MAKER = 2  # cancel the resting order and keep matching
    CANCEL_BOTH = 3


class Reject(IntEnum):
    """Why a command was refused. 1xxx: shape, 2xxx: risk, 3xxx: matching."""

    INVALID_PRICE = 1001
    INVALID_QUANTITY = 1002
    INVALID_ORDER = 1003  # a combination of fields that makes no order
    UNKNOWN_MARKET = 1004
    UNKNOWN_ACCOUNT = 2001
    ACCOUNT_EXISTS = 2002
    INSUFFICIENT_FUNDS = 2003
    DUPLICATE_ORDER_ID = 2004
    DUPLICATE_CLIENT_ORDER_ID = 2005
    UNKNOWN_ORDER = 2006  # no open order of this user has that id
    INVALID_ACCOUNT = 2007  # a user id no ledger can take (see `ledger.USER_LIMIT`)
    POST_ONLY_WOULD_TAKE = 3001
    FOK_CANNOT_FILL = 3002
    ORDER_NOT_IN_BOOK = 3003  # filled or cancelled while the command was in flight
    WOULD_TRIGGER_IMMEDIATELY = 3004  # a stop the last trade price has already reached


class CancelReason(IntEnum):
    USER = 1  # cancel or cancel-all
    EXPIRED = 2  # what an IOC or market order could not fill at once
    SELF_TRADE = 3
    REDUCED = 4  # reduced to nothing
