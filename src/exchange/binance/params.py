"""A request's parameters, and the check of a signed request, as Binance documents them.

Parameters come in the query string, the form body, or both; where one is in both, the
query's wins. A signed request carries `timestamp` (ms), an optional `recvWindow` (ms, at
most 60,000; 5,000 if absent) and `signature`, and the key's id in `X-MBX-APIKEY`. The
signature covers the query string followed directly by the body, as sent (still
percent-encoded), without the `signature` parameter itself:
    hmac     hex of HMAC-SHA256(secret, payload), in either case
    ed25519  base64 of the Ed25519 signature of the payload
A request is fresh when `timestamp < server time + 1000` and `server time - timestamp <=
recvWindow`. Over the WebSocket API the parameters are a JSON object, the key is its
`apiKey`, and the signature covers them all but `signature`, sorted by name, as a query
string.
"""

import base64
import binascii
import hmac
import re
from dataclasses import dataclass
from hashlib import sha256
from typing import Any
from urllib.parse import parse_qsl, unquote_plus, urlencode

import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from starlette.requests import Request

from exchange.binance.errors import BinanceError, illegal, missing
from exchange.services.accounts import Accounts
from exchange.web.auth import now_ms

MAX_RECV_WINDOW = 60_000
DEFAULT_RECV_WINDOW = 5_000
_INTEGER = re.compile(r"^-?[0-9]{1,19}$")
_NOT_AUTHORISED = "Invalid API-key, IP, or permissions for action."


@dataclass(frozen=True, slots=True)
class Params:
    values: dict[str, str]
    query: str  # as sent
    body: str
    sorted_payload: bool = False  # the WebSocket API's way of signing

    @classmethod
    def of_json(cls, values: dict[str, Any]) -> "Params":
        """A WebSocket API request's parameters (numbers and booleans as JSON writes them)."""
        text = {name: value if isinstance(value, str) else orjson.dumps(value).decode()
                for name, value in values.items()
                if isinstance(value, str | int | float | bool)}
        return cls(text, "", "", sorted_payload=True)

    @classmethod
    async def of(cls, request: Request) -> "Params":
        query = request.url.query
        raw = await request.body()
        content_type = request.headers.get("content-type", "")
        body = "" if content_type.startswith(("application/json", "multipart/")) else (
            raw.decode("latin-1"))
        values: dict[str, str] = {}
        for source in (body, query):  # the query's value wins
            seen: set[str] = set()
            for name, value in parse_qsl(source, keep_blank_values=True):
                if name in seen:
                    raise BinanceError(-1101, "Duplicate values for a parameter detected.")
                seen.add(name)
                values[name] = value
        return cls(values, query, body)

    def get(self, name: str) -> str | None:
        value = self.values.get(name)
        return value if value else None  # empty is absent, as Binance reads it

    def need(self, name: str) -> str:
        value = self.get(name)
        if value is None:
            raise missing(name)
        return value

    def integer(self, name: str, default: int | None = None, *, low: int = 0,
                high: int = 2**63 - 1) -> int | None:
        value = self.get(name)
        if value is None:
            return default
        if not _INTEGER.match(value):
            raise illegal(name, "^[0-9]{1,20}$")
        number = int(value)
        if not low <= number <= high:
            raise BinanceError(-1130, f"Data sent for parameter '{name}' is not valid.")
        return number

    def choice(self, name: str, options: tuple[str, ...], default: str | None = None) -> str:
        value = self.get(name) or default
        if value is None:
            raise missing(name)
        if value not in options:
            raise illegal(name, ", ".join(options))
        return value

    def payload(self) -> bytes:
        """What the signature covers: query then body, each without `signature` (or, over
        the WebSocket API, the parameters sorted by name)."""
        if self.sorted_payload:
            return urlencode(sorted((k, v) for k, v in self.values.items()
                                    if k != "signature")).encode()
        return (_without_signature(self.query) + _without_signature(self.body)).encode()


@dataclass(frozen=True, slots=True)
class Signer:
    """Who signed a request, and whether the key may trade."""

    user: int
    key_id: str
    trade: bool


async def signed(key_id: str | None, params: Params, accounts: Accounts, *,
                 trade: bool) -> Signer:
    """Check a request signed with the key `key_id`; return its signer or raise Binance's
    error."""
    if not key_id:
        raise BinanceError(-2014, "API-key format invalid.", 401)
    key = accounts.signing_key(key_id)
    if key is None:
        raise BinanceError(-2015, _NOT_AUTHORISED, 401)
    timestamp = params.integer("timestamp")
    if timestamp is None:
        raise missing("timestamp")
    window = params.integer("recvWindow", DEFAULT_RECV_WINDOW)
    assert window is not None
    if window > MAX_RECV_WINDOW:
        raise BinanceError(-1131, f"recvWindow must be less than {MAX_RECV_WINDOW}.")
    now = now_ms()
    if timestamp >= now + 1000:
        raise BinanceError(-1021, "Timestamp for this request was 1000ms ahead of the "
                                  "server's time.")
    if now - timestamp > window:
        raise BinanceError(-1021, "Timestamp for this request is outside of the recvWindow.")
    signature = params.need("signature")
    if not verifies(key.secret, key.public, params.payload(), signature):
        raise BinanceError(-1022, "Signature for this request is not valid.")
    if trade and key.key.permissions != "trade":
        raise BinanceError(-2015, _NOT_AUTHORISED, 401)
    return Signer(key.key.user, key_id, key.key.permissions == "trade")


def verifies(secret: bytes | None, public: Ed25519PublicKey | None, payload: bytes,
              signature: str) -> bool:
    if secret is not None:
        expected = hmac.new(secret, payload, sha256).hexdigest()
        return signature.isascii() and hmac.compare_digest(expected, signature.lower())
    if public is None:
        return False
    try:
        public.verify(base64.b64decode(signature, validate=True), payload)
    except (InvalidSignature, binascii.Error, ValueError):
        return False
    return True


def _without_signature(raw: str) -> str:
    parts = [part for part in raw.split("&")
             if unquote_plus(part.partition("=")[0]) != "signature"]
    return "&".join(parts) if raw else ""
