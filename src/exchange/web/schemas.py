"""Request bodies, checked for shape (strictly: a price must be a string, not a number).

Amounts stay strings here; `orders.parse_place` turns them into units with the market's
own rules, so the same checks serve REST and WebSocket.
"""

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Decimal = Field(default=None, min_length=1, max_length=64, examples=["4.25"])
CLIENT_ORDER_ID = r"^[A-Za-z0-9_-]{1,36}$"


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class PlaceOrderBody(Body):
    market: str = Field(min_length=1, max_length=32, examples=["COIN-USD"])
    side: Literal["buy", "sell"]
    type: Literal["limit", "market"] = "limit"
    time_in_force: Literal["gtc", "ioc", "fok", "post_only"] | None = None
    price: str | None = Decimal
    quantity: str | None = Decimal
    quote_quantity: str | None = Decimal
    client_order_id: str | None = Field(default=None, pattern=CLIENT_ORDER_ID)
    self_trade: Literal["cancel_taker", "cancel_maker", "cancel_both"] = "cancel_taker"
    # A stop order waits off the book until the last trade price reaches stop_price: a
    # stop_loss buy when it rises to it, a stop_loss sell when it falls to it, and a
    # take_profit the other way round. Then it is placed as its type, limit or market.
    trigger: Literal["stop_loss", "take_profit"] | None = None
    stop_price: str | None = Decimal


class ReduceBody(Body):
    reduce_by: str = Field(min_length=1, max_length=64, examples=["0.5"])


class SignUpBody(Body):
    password: str = Field(min_length=8, max_length=128)


class LogInBody(Body):
    user_id: int = Field(ge=1, le=2**62)
    password: str = Field(min_length=1, max_length=128)


class ApiKeyBody(Body):
    label: str = Field(default="", max_length=64)
    # bearer: for /api/v1 (`Authorization: Bearer`); hmac or ed25519: for signed requests
    # to the Binance-compatible /api/v3 (an ed25519 key's public key, in PEM, is given).
    kind: Literal["bearer", "hmac", "ed25519"] = "bearer"
    permissions: Literal["trade", "read"] = "trade"
    public_key: str | None = Field(default=None, max_length=1024)


class ErrorDetail(BaseModel):
    code: str
    message: str
    field: str | None = None


class ErrorBody(BaseModel):
    error: ErrorDetail
