"""Errors as Binance gives them: an HTTP status and `{"code": -NNNN, "msg": "..."}`.

The clients raise their usual exception from the code (and, for a few, the message):
ccxt maps -1021 to InvalidNonce, -1022/-2014/-2015 to AuthenticationError, -2010 to
InvalidOrder (InsufficientFunds for the insufficient-balance message), -2011/-2013 to
OrderNotFound, -1121 to BadSymbol, -1013/-11xx to BadRequest.
"""

from collections.abc import Awaitable
from typing import Any

from exchange.core.types import Reject
from exchange.services.gateway import NoAnswer, Refused, Unavailable
from exchange.web.responses import Json


class BinanceError(Exception):
    def __init__(self, code: int, msg: str, status: int = 400) -> None:
        super().__init__(msg)
        self.code = code
        self.msg = msg
        self.status = status

    def response(self) -> Json:
        return Json({"code": self.code, "msg": self.msg}, status_code=self.status)


def missing(name: str) -> BinanceError:
    return BinanceError(-1102, f"Mandatory parameter '{name}' was not sent, was empty/null, "
                               "or malformed.")


def illegal(name: str, legal: str) -> BinanceError:
    return BinanceError(-1100, f"Illegal characters found in parameter '{name}'; legal "
                               f"range is '{legal}'.")


def bad_symbol() -> BinanceError:
    return BinanceError(-1121, "Invalid symbol.")


def rejected(msg: str) -> BinanceError:
    return BinanceError(-2010, msg)


UNKNOWN_ORDER = "Unknown order sent."
INSUFFICIENT = "Account has insufficient balance for requested action."
UNSUPPORTED = "Unsupported order combination"

# What the core's refusal of a new order is, in Binance's words.
_ON_PLACE: dict[Reject, BinanceError] = {
    Reject.INSUFFICIENT_FUNDS: rejected(INSUFFICIENT),
    Reject.POST_ONLY_WOULD_TAKE: rejected("Order would immediately match and take."),
    Reject.FOK_CANNOT_FILL: rejected("Order would not fill completely (fill or kill)."),
    Reject.DUPLICATE_CLIENT_ORDER_ID: rejected("Duplicate order sent."),
    Reject.DUPLICATE_ORDER_ID: rejected("Duplicate order sent."),
    Reject.INVALID_PRICE: BinanceError(-1013, "Filter failure: PRICE_FILTER"),
    Reject.INVALID_QUANTITY: BinanceError(-1013, "Filter failure: LOT_SIZE"),
    Reject.INVALID_ORDER: rejected(UNSUPPORTED),
    Reject.UNKNOWN_MARKET: bad_symbol(),
    Reject.UNKNOWN_ACCOUNT: rejected("This account may not place or cancel orders."),
    Reject.WOULD_TRIGGER_IMMEDIATELY: rejected("Order would trigger immediately."),
}


def from_refusal(reason: Reject) -> BinanceError:
    """A refusal of a cancel is always Binance's unknown order."""
    return _ON_PLACE.get(reason) or BinanceError(-2011, UNKNOWN_ORDER)


async def translated(work: Awaitable[Any]) -> Any:
    """Await `work`, raising what the gateway raises as Binance's error."""
    try:
        return await work
    except Refused as error:
        raise from_refusal(error.reason) from None
    except NoAnswer:
        raise BinanceError(-1007, "Timeout waiting for response from backend server. Send "
                           "status unknown; execution status unknown.", 503) from None
    except Unavailable:
        raise BinanceError(-1001, "Internal error; unable to process your request. Please "
                           "try again.", 503) from None
