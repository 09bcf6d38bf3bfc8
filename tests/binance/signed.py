"""A small signed client of /api/v3, written from Binance's documentation (the tests
of the real client libraries are in test_ccxt.py)."""

import base64
import hashlib
import hmac
import time
from typing import Any
from urllib.parse import urlencode

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from tests.web.client import User

SYMBOL = "COINUSD"


class Bot:
    """A user (signed up through /api/v1) and a signing key of theirs."""

    def __init__(self, url: str, kind: str = "hmac", permissions: str = "trade") -> None:
        self.url = url
        self.user = User(url)
        self.private: Ed25519PrivateKey | None = None
        body: dict[str, Any] = {"label": "bot", "kind": kind, "permissions": permissions}
        if kind == "ed25519":
            self.private = Ed25519PrivateKey.generate()
            body["public_key"] = self.private.public_key().public_bytes(
                Encoding.PEM, PublicFormat.SubjectPublicKeyInfo).decode()
        answer = self.user.http.post("/api-keys", json=body)
        assert answer.status_code == 201, answer.text
        made = answer.json()
        self.key: str = made["key_id"]
        self.secret: str = made.get("secret", "")
        self.http = httpx.Client(base_url=url + "/api/v3", timeout=30)

    def close(self) -> None:
        self.http.close()
        self.user.close()

    def __enter__(self) -> "Bot":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def sign(self, payload: str) -> str:
        if self.private is not None:
            return base64.b64encode(self.private.sign(payload.encode())).decode()
        return hmac.new(self.secret.encode(), payload.encode(), hashlib.sha256).hexdigest()

    def call(self, method: str, path: str, *, in_body: bool = False,
             timestamp: int | None = None, signature: str | None = None,
             key: str | None = None, **params: Any) -> httpx.Response:
        """Send a signed request, its parameters in the query (or the form body)."""
        params["timestamp"] = timestamp if timestamp is not None else int(time.time() * 1000)
        payload = urlencode(params)
        params["signature"] = signature if signature is not None else self.sign(payload)
        headers = {"X-MBX-APIKEY": key if key is not None else self.key}
        if in_body:
            return self.http.request(method, path, content=urlencode(params), headers={
                **headers, "Content-Type": "application/x-www-form-urlencoded"})
        return self.http.request(method, path, params=params, headers=headers)

    def ok(self, method: str, path: str, **params: Any) -> Any:
        answer = self.call(method, path, **params)
        assert answer.status_code == 200, answer.text
        return answer.json()

    def error(self, status: int, code: int, method: str, path: str, **params: Any) -> str:
        """Send a request that must fail with Binance's `code`; return its message."""
        answer = self.call(method, path, **params)
        assert (answer.status_code, answer.json()["code"]) == (status, code), answer.text
        message: str = answer.json()["msg"]
        return message

    def balances(self) -> dict[str, tuple[str, str]]:
        account = self.ok("GET", "/account")
        return {b["asset"]: (b["free"], b["locked"]) for b in account["balances"]}
