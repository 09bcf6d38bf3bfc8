"""ccxt.pro (in the ccxt package, unmodified) watching `exchange run` over Binance's
market-data streams, pointed at `/ws` as docs/binance.md says."""

import asyncio
from typing import Any

import ccxt.pro as ccxtpro
import httpx
import orjson
import pytest
from websockets.asyncio.client import connect

from tests.binance.signed import Bot
from tests.binance.test_ccxt import MARKET, options


def pro(url: str, bot: Bot) -> Any:
    settings = options(url, bot)
    settings["urls"]["api"]["ws"] = {"spot": url.replace("http", "ws", 1) + "/ws"}
    return ccxtpro.binance(settings)


def test_ccxt_pro_keeps_a_book_in_sync_and_watches_trades_candles_and_tickers(
        exchange_server: str, bot: Bot, other_bot: Bot) -> None:
    async def run() -> None:
        watcher, trader = pro(exchange_server, bot), pro(exchange_server, other_bot)
        try:
            await watcher.load_markets()
            await trader.load_markets()
            book = await asyncio.wait_for(watcher.watch_order_book(MARKET), 10)
            assert book["bids"] == [] and book["asks"] == []
            # Many changes, on both sides, some taking: the local book follows them all.
            for i in range(12):
                await trader.create_order(MARKET, "limit", "sell", 0.1 + i / 100, 20 + i)
                await trader.create_order(MARKET, "limit", "buy", 0.2, 10 + i / 2)
            await bot_takes()
            rest = await trader.fetch_order_book(MARKET, limit=1000)
            for _ in range(100):  # the updates come as they come: wait for the last one
                book = watcher.orderbooks[MARKET]
                if book["nonce"] >= rest["nonce"]:
                    break
                await asyncio.sleep(0.05)
            assert book["nonce"] == rest["nonce"]
            assert (book["bids"], book["asks"]) == (rest["bids"], rest["asks"])
            assert len(book["asks"]) == 11 and len(book["bids"]) == 12
            trades = await asyncio.wait_for(watch_after(watcher.watch_trades(MARKET)), 10)
            assert trades[-1]["price"] == 21.0 and trades[-1]["side"] == "buy"
            candles = await asyncio.wait_for(watch_after(watcher.watch_ohlcv(MARKET, "1m")),
                                             10)
            assert candles[-1][4] == 21.0
            ticker = await asyncio.wait_for(watch_after(watcher.watch_ticker(MARKET)), 10)
            assert ticker["last"] == 21.0
        finally:
            await watcher.close()
            await trader.close()

    async def bot_takes() -> None:
        taker = pro(exchange_server, bot)
        try:
            await taker.load_markets()
            await taker.create_order(MARKET, "limit", "buy", 0.2, 21)  # takes 20, 21
        finally:
            await taker.close()

    async def watch_after(watching: Any) -> Any:
        """Subscribe, then trade once more so that an update comes."""
        task = asyncio.ensure_future(watching)
        await asyncio.sleep(0.3)
        with httpx.Client(base_url=exchange_server + "/api/v3") as http:
            http.get("/ping")
        maker, taker = Bot(exchange_server), Bot(exchange_server)
        try:
            maker.ok("POST", "/order", symbol="COINUSD", side="SELL", type="LIMIT",
                     timeInForce="GTC", price="21.00", quantity="0.0001")
            taker.ok("POST", "/order", symbol="COINUSD", side="BUY", type="MARKET",
                     quantity="0.0001")
        finally:
            maker.close()
            taker.close()
        return await task

    asyncio.run(run())


def test_streams_named_in_the_path_or_combined_and_the_subscription_requests(
        exchange_server: str, bot: Bot, other_bot: Bot) -> None:
    ws = exchange_server.replace("http", "ws", 1)

    async def run() -> None:
        async with connect(f"{ws}/ws/coinusd@trade") as raw, \
                connect(f"{ws}/stream?streams=coinusd@depth/coinusd@bookTicker") as both:
            await both.send('{"method": "LIST_SUBSCRIPTIONS", "id": 7}')
            assert orjson.loads(await both.recv()) == {
                "result": ["coinusd@bookTicker", "coinusd@depth"], "id": 7}
            for bad, code in (('{"method": "SUBSCRIBE", "params": ["nope@trade"], "id": 1}', 2),
                              ('{"method": "PUBLISH", "id": 2}', 2), ("not json", 3)):
                await both.send(bad)
                assert orjson.loads(await both.recv())["error"]["code"] == code
            other_bot.ok("POST", "/order", symbol="COINUSD", side="SELL", type="LIMIT",
                         timeInForce="GTC", price="5.00", quantity="1")
            depth = orjson.loads(await asyncio.wait_for(both.recv(), 5))
            assert depth["stream"] == "coinusd@depth"
            assert depth["data"]["a"] == [["5.00", "1.0000"]]
            assert depth["data"]["U"] == depth["data"]["u"] == 1
            ticker = orjson.loads(await asyncio.wait_for(both.recv(), 5))
            assert ticker == {"stream": "coinusd@bookTicker", "data": {
                "u": 1, "s": "COINUSD", "b": "0.00", "B": "0.0000", "a": "5.00",
                "A": "1.0000"}}
            bot.ok("POST", "/order", symbol="COINUSD", side="BUY", type="MARKET",
                   quantity="0.5")
            trade = orjson.loads(await asyncio.wait_for(raw.recv(), 5))
            assert (trade["e"], trade["p"], trade["q"], trade["m"]) == ("trade", "5.00",
                                                                       "0.5000", False)
            await both.send('{"method": "UNSUBSCRIBE", "params": ["coinusd@depth"], "id": 8}')
            updates = []  # what the trade changed came first
            while "id" not in (message := orjson.loads(await both.recv())):
                updates.append(message["stream"])
            assert message == {"result": None, "id": 8}
            assert updates == ["coinusd@depth", "coinusd@bookTicker"]

    asyncio.run(run())


@pytest.mark.parametrize("path", ["/ws/0", "/ws"])
def test_a_socket_that_names_no_stream_subscribes_later(exchange_server: str, path: str,
                                                       other_bot: Bot) -> None:
    async def run() -> None:
        async with connect(exchange_server.replace("http", "ws", 1) + path) as socket:
            await socket.send('{"method": "SUBSCRIBE", "params": ["!bookTicker"], "id": 1}')
            assert orjson.loads(await socket.recv()) == {"result": None, "id": 1}
            other_bot.ok("POST", "/order", symbol="COINUSD", side="BUY", type="LIMIT",
                         timeInForce="GTC", price="3.00", quantity="1")
            book = orjson.loads(await asyncio.wait_for(socket.recv(), 5))
            assert (book["s"], book["b"], book["B"]) == ("COINUSD", "3.00", "1.0000")

    asyncio.run(run())
