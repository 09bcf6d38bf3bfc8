"""A benchmark user that trades through the Binance-compatible API with a real client
library, ccxt's async client, unmodified (a dev dependency: `scripts/setup` installs it),
and hears its fills on its WebSocket as any benchmark user does.

It makes an HMAC key with its session (`POST /api/v1/api-keys`), points ccxt at
`/api/v3` as docs/binance.md says, and sends each place and cancel as ccxt's
`create_order` and `cancel_order` (signed REST, `newOrderRespType=FULL`), each on its
own task. The answers become the messages the native socket would have sent: a refusal
ccxt raises (insufficient funds, an order already gone, a maker-only order that would
take) is counted as rejected, as the native socket's are.
"""

import time
from random import Random
from typing import Any

import httpx

from exchange.bench.clients import Account, Tally, Trader
from exchange.bench.rest import RestTrader

# ccxt's order statuses in the exchange's words.
_STATUSES = {"open": "new", "closed": "filled", "canceled": "cancelled",
             "expired": "cancelled", "rejected": "cancelled"}
# The refusals of `clients.REFUSALS`, as ccxt raises them.
_REFUSED = {"InsufficientFunds": "insufficient_funds", "OrderNotFound": "unknown_order",
            "OrderImmediatelyFillable": "post_only_would_take"}


class BinanceTrader(RestTrader):
    """A `RestTrader` whose requests go through ccxt (each on a task of its own, as
    `RestTrader` runs them); the account channel still comes over its socket."""

    def __init__(self, account: Account, market: str, rng: Random, tally: Tally) -> None:
        super().__init__(account, market, rng, tally)
        self.client: Any = None
        self.symbol = market.replace("-", "/")

    async def connect(self, ws_url: str, origin: str) -> None:
        try:
            import ccxt.async_support as ccxt  # noqa: PLC0415 - only this mode needs it
        except ImportError as error:
            raise RuntimeError("bench load --binance-users needs ccxt (the dev extra: "
                               "scripts/setup installs it)") from error
        await Trader.connect(self, ws_url, origin)  # the socket; no HTTP client of its own
        async with httpx.AsyncClient(base_url=origin, cookies={"session": self.account.session},
                                     headers={"X-CSRF-Token": self.account.csrf}) as http:
            made = await http.post("/api/v1/api-keys", json={"label": "bench", "kind": "hmac"})
            made.raise_for_status()
            key = made.json()
        self.client = ccxt.binance({
            "apiKey": key["key_id"], "secret": key["secret"], "enableRateLimit": False,
            "urls": {"api": {"public": origin + "/api/v3", "private": origin + "/api/v3",
                             "v1": origin + "/api/v1"}},
            "options": {"fetchMarkets": {"types": ["spot"]}, "fetchCurrencies": False,
                        "fetchMargins": False}})
        await self.client.load_markets()

    async def close(self) -> None:
        await super().close()  # once the calls under way are done
        if self.client is not None:
            await self.client.close()

    async def _call(self, request: dict[str, object]) -> None:
        req = request["req"]
        message: dict[str, object]
        try:
            if request["op"] == "place":
                order = request["order"]
                assert isinstance(order, dict)
                params = {"postOnly": True} if order.get("time_in_force") == "post_only" else {}
                placed = await self.client.create_order(
                    self.symbol, order["type"], order["side"], order["quantity"],
                    order.get("price"), params)
                message = {"type": "placed", "req": req, "order": _as_order(placed)}
            else:
                cancelled = await self.client.cancel_order(str(request["order_id"]),
                                                           self.symbol)
                message = {"type": "cancelled", "req": req, "order": _as_order(cancelled)}
        except Exception as error:  # ccxt raises one class per refusal and failure
            name = type(error).__name__
            message = {"type": "error", "req": req,
                       "error": {"code": _REFUSED.get(name, f"ccxt_{name}")}}
        self._handle(message, time.perf_counter_ns())


def _as_order(order: dict[str, Any]) -> dict[str, object]:
    return {"order_id": int(order["id"]), "status": _STATUSES.get(order["status"], "new"),
            "filled": str(order.get("filled") or 0)}
