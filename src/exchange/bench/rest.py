"""A benchmark user that places and cancels over REST and hears its fills on its WebSocket.

Requests go as `POST /api/v1/orders` and `DELETE /api/v1/orders/{id}` with the session
cookie and the CSRF header, as the page sends them, each on its own task so a slow answer
holds up nothing else. Each answer becomes the message the WebSocket would have sent
(`placed`, `cancelled` or `error`) and is handled the same way: a refusal (4xx with one of
the exchange's codes) is counted as rejected; a 5xx or a transport failure is an error.
"""

import asyncio
import time
from random import Random

import httpx
import orjson

from exchange.bench.clients import REQUEST_TIMEOUT_NS, Account, Tally, Trader


class RestTrader(Trader):
    """A `Trader` whose requests go over HTTP; the account channel still comes over its socket."""

    def __init__(self, account: Account, market: str, rng: Random, tally: Tally) -> None:
        super().__init__(account, market, rng, tally)
        self.http: httpx.AsyncClient | None = None
        self.calls: set[asyncio.Task[None]] = set()  # requests under way

    async def connect(self, ws_url: str, origin: str) -> None:
        """Open the WebSocket for account events, then an HTTP client with the session."""
        await super().connect(ws_url, origin)
        self.http = httpx.AsyncClient(
            base_url=origin, cookies={"session": self.account.session},
            headers={"X-CSRF-Token": self.account.csrf, "Content-Type": "application/json"},
            timeout=REQUEST_TIMEOUT_NS / 1e9,
        )

    async def close(self) -> None:
        """Wait for calls still running, then close the HTTP client and the WebSocket."""
        if self.calls:
            await asyncio.gather(*self.calls, return_exceptions=True)
        if self.http is not None:
            await self.http.aclose()
        await super().close()

    async def _transmit(self, request: dict[str, object]) -> None:
        task = asyncio.create_task(self._call(request))
        self.calls.add(task)
        task.add_done_callback(self.calls.discard)

    async def _call(self, request: dict[str, object]) -> None:
        assert self.http is not None
        req = request["req"]
        try:
            if request["op"] == "place":
                response = await self.http.post("/api/v1/orders",
                                                content=orjson.dumps(request["order"]))
                kind = "placed"
            else:
                response = await self.http.delete(f"/api/v1/orders/{request['order_id']}")
                kind = "cancelled"
        except httpx.HTTPError as exc:
            message = {"type": "error", "req": req,
                       "error": {"code": f"transport_{type(exc).__name__}"}}
        else:
            message = _as_message(response, kind, req)
        self._handle(message, time.perf_counter_ns())


def _as_message(response: httpx.Response, kind: str, req: object) -> dict[str, object]:
    try:
        body = response.json()
    except ValueError:
        body = None
    if response.status_code in (200, 201) and isinstance(body, dict):
        return {"type": kind, "req": req, "order": body}
    error = body.get("error") if isinstance(body, dict) else None
    if response.status_code >= 500 or not isinstance(error, dict):
        error = {"code": f"http_{response.status_code}"}
    return {"type": "error", "req": req, "error": error}
