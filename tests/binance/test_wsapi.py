"""Binance's WebSocket API (`/ws-api/v3`) and user data stream: with ccxt.pro,
unmodified, and with requests written from Binance's documentation."""

import asyncio
import base64
import hashlib
import hmac
import time
from typing import Any
from urllib.parse import urlencode

import orjson
from websockets.asyncio.client import ClientConnection, connect

from tests.binance.signed import SYMBOL, Bot
from tests.binance.test_ccxt import MARKET
from tests.binance.test_ccxt_pro import pro


def pro_with_api(url: str, bot: Bot) -> Any:
    client = pro(url, bot)
    client.urls["api"]["ws"]["ws-api"] = {"spot": url.replace("http", "ws", 1) + "/ws-api/v3"}
    return client


def test_ccxt_pro_hears_of_its_orders_fills_and_balances_and_trades_over_the_socket(
        exchange_server: str, bot: Bot, other_bot: Bot) -> None:
    async def run() -> None:
        mine, theirs = pro_with_api(exchange_server, bot), pro(exchange_server, other_bot)
        try:
            await mine.load_markets()
            await theirs.load_markets()
            watching = asyncio.ensure_future(mine.watch_orders(MARKET))
            await asyncio.sleep(0.5)
            placed = await mine.create_order_ws(MARKET, "limit", "sell", 1, 10)
            assert placed["status"] == "open"
            [seen] = await asyncio.wait_for(watching, 10)
            assert (seen["id"], seen["status"], seen["filled"]) == (placed["id"], "open", 0.0)
            fills = asyncio.ensure_future(mine.watch_my_trades(MARKET))
            balance = asyncio.ensure_future(mine.watch_balance())
            await asyncio.sleep(0.5)
            await theirs.create_order(MARKET, "market", "buy", 0.4)
            [fill] = await asyncio.wait_for(fills, 10)
            assert (fill["price"], fill["amount"], fill["takerOrMaker"]) == (10.0, 0.4, "maker")
            assert fill["order"] == placed["id"]
            held = await asyncio.wait_for(balance, 10)
            assert (held["COIN"]["free"], held["COIN"]["used"]) == (99.0, 0.6)
            order = mine.orders[-1]
            assert (order["status"], order["filled"]) == ("open", 0.4)
            cancelled = await mine.cancel_order_ws(placed["id"], MARKET)
            assert cancelled["status"] == "canceled"
        finally:
            await mine.close()
            await theirs.close()

    asyncio.run(run())


async def ask(socket: ClientConnection, method: str, params: dict[str, Any],
              request_id: int = 1) -> dict[str, Any]:
    await socket.send(orjson.dumps({"id": request_id, "method": method, "params": params}).decode())
    while True:  # events of a user data stream may come between
        answer: dict[str, Any] = orjson.loads(await asyncio.wait_for(socket.recv(), 5))
        if answer.get("id") == request_id:
            return answer


def signed_params(bot: Bot, **params: Any) -> dict[str, Any]:
    """Sign as the WebSocket API wants: every parameter but the signature, sorted."""
    params = {**params, "apiKey": bot.key, "timestamp": int(time.time() * 1000)}
    payload = urlencode(sorted(params.items()))
    if bot.private is not None:
        signature = base64.b64encode(bot.private.sign(payload.encode())).decode()
    else:
        signature = hmac.new(bot.secret.encode(), payload.encode(), hashlib.sha256).hexdigest()
    return {**params, "signature": signature}


def test_requests_answers_and_refusals_as_binance_documents(exchange_server: str,
                                                            bot: Bot) -> None:
    url = exchange_server.replace("http", "ws", 1) + "/ws-api/v3"

    async def run() -> None:
        async with connect(url) as socket:
            placed = await ask(socket, "order.place", signed_params(
                bot, symbol=SYMBOL, side="SELL", type="LIMIT", timeInForce="GTC",
                price="30.00", quantity="1"))
            assert placed["status"] == 200 and placed["result"]["status"] == "NEW"
            assert placed["rateLimits"][0]["rateLimitType"] == "REQUEST_WEIGHT"
            order_id = placed["result"]["orderId"]
            status = await ask(socket, "order.status", signed_params(
                bot, symbol=SYMBOL, orderId=order_id), 2)
            assert status["result"]["price"] == "30.00"
            bad = signed_params(bot, symbol=SYMBOL, orderId=order_id)
            bad["signature"] = "0" * 64
            refused = await ask(socket, "order.cancel", bad, 3)
            assert (refused["status"], refused["error"]["code"]) == (400, -1022)
            unknown = await ask(socket, "order.cancel", signed_params(
                bot, symbol=SYMBOL, orderId=order_id + 1000), 4)
            assert unknown["error"] == {"code": -2011, "msg": "Unknown order sent."}
            assert (await ask(socket, "no.such.method", {}, 5))["error"]["code"] == -1020
            await socket.send("not json")
            assert orjson.loads(await socket.recv())["error"]["code"] == -1135
            gone = await ask(socket, "openOrders.cancelAll", signed_params(bot, symbol=SYMBOL),
                             6)
            assert [o["orderId"] for o in gone["result"]] == [order_id]

    asyncio.run(run())


def test_an_ed25519_session_logs_on_once_and_ends_when_the_key_is_revoked(
        exchange_server: str) -> None:
    url = exchange_server.replace("http", "ws", 1) + "/ws-api/v3"
    signer = Bot(exchange_server, kind="ed25519")

    async def run() -> None:
        async with connect(url) as socket:
            logon = await ask(socket, "session.logon", signed_params(signer))
            assert logon["status"] == 200 and logon["result"]["apiKey"] == signer.key
            account = await ask(socket, "account.status", {}, 2)  # no signature needed now
            assert account["result"]["uid"] == signer.user.user_id
            stream = await ask(socket, "userDataStream.subscribe", {}, 3)
            subscription = stream["result"]["subscriptionId"]
            assert signer.user.http.delete(f"/api-keys/{signer.key}").status_code == 204
            ended = orjson.loads(await asyncio.wait_for(socket.recv(), 5))
            assert ended["subscriptionId"] == subscription
            assert ended["event"]["e"] == "eventStreamTerminated"
            refused = await ask(socket, "account.status", {}, 4)
            assert (refused["status"], refused["error"]["code"]) == (401, -2015)

    try:
        asyncio.run(run())
    finally:
        signer.close()


def test_an_hmac_key_cannot_log_on(exchange_server: str, bot: Bot) -> None:
    url = exchange_server.replace("http", "ws", 1) + "/ws-api/v3"

    async def run() -> None:
        async with connect(url) as socket:
            refused = await ask(socket, "session.logon", signed_params(bot))
            assert refused["status"] == 400
            unsigned = await ask(socket, "account.status", {}, 2)  # no key: none logged on
            assert (unsigned["status"], unsigned["error"]["code"]) == (401, -2014)

    asyncio.run(run())
