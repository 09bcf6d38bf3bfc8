"""ccxt, unmodified (the version pinned in pyproject.toml), trading on `exchange run`
through /api/v3, as a bot written for Binance would, pointed at this base URL."""

import asyncio
from typing import Any

import ccxt
import ccxt.async_support as ccxt_async
import pytest

from tests.binance.signed import Bot

MARKET = "COIN/USD"


def options(url: str, bot: Bot) -> dict[str, Any]:
    """What docs/binance.md tells a ccxt user to set."""
    return {"apiKey": bot.key, "secret": bot.secret,
            "urls": {"api": {"public": url + "/api/v3", "private": url + "/api/v3",
                             "v1": url + "/api/v1"}},
            "options": {"fetchMarkets": {"types": ["spot"]}, "fetchCurrencies": False,
                        "fetchMargins": False}}


def test_ccxt_trades_and_reads_everything_a_bot_reads(exchange_server: str, bot: Bot,
                                                      other_bot: Bot) -> None:
    seller = ccxt.binance(options(exchange_server, bot))
    buyer = ccxt.binance(options(exchange_server, other_bot))
    markets = seller.load_markets()
    assert list(markets) == [MARKET]
    assert markets[MARKET]["precision"]["price"] == 0.01
    assert markets[MARKET]["limits"]["amount"]["min"] == 0.0001

    resting = seller.create_order(MARKET, "limit", "sell", 2, 10)
    assert resting["status"] == "open" and resting["clientOrderId"].startswith("x-")
    maker_only = seller.create_order(MARKET, "limit", "sell", 1, 12, params={"postOnly": True})
    assert maker_only["postOnly"] is True
    bought = buyer.create_order(MARKET, "market", "buy", 0.5)
    assert (bought["status"], bought["filled"], bought["cost"]) == ("closed", 0.5, 5.0)
    assert [t["price"] for t in bought["trades"]] == [10.0]
    by_cost = buyer.create_market_buy_order_with_cost(MARKET, 3)
    assert (by_cost["filled"], by_cost["cost"]) == (0.3, 3.0)

    book = seller.fetch_order_book(MARKET)
    assert book["asks"] == [[10.0, 1.2], [12.0, 1.0]] and book["bids"] == []
    assert [t["amount"] for t in seller.fetch_trades(MARKET)] == [0.5, 0.3]
    [candle] = seller.fetch_ohlcv(MARKET, "1m")
    assert candle[1:] == [10.0, 10.0, 10.0, 10.0, 0.8]
    ticker = seller.fetch_ticker(MARKET)
    assert (ticker["last"], ticker["baseVolume"], ticker["ask"]) == (10.0, 0.8, 10.0)
    assert MARKET in seller.fetch_tickers()
    balance = seller.fetch_balance()
    assert (balance["COIN"]["free"], balance["COIN"]["used"]) == (97.0, 2.2)
    assert balance["USD"]["total"] == 1008.0

    assert {o["id"] for o in seller.fetch_open_orders(MARKET)} == {resting["id"],
                                                                   maker_only["id"]}
    assert seller.fetch_order(resting["id"], MARKET)["filled"] == 0.8
    assert len(seller.fetch_orders(MARKET)) == 2
    assert [t["amount"] for t in buyer.fetch_my_trades(MARKET)] == [0.5, 0.3]
    assert seller.cancel_order(maker_only["id"], MARKET)["status"] == "canceled"
    assert [o["status"] for o in seller.cancel_all_orders(MARKET)] == ["canceled"]
    assert seller.fetch_open_orders(MARKET) == []


def test_ccxt_raises_its_usual_exception_for_each_refusal(exchange_server: str, bot: Bot,
                                                         other_bot: Bot) -> None:
    client = ccxt.binance(options(exchange_server, bot))
    client.load_markets()
    theirs = ccxt.binance(options(exchange_server, other_bot)).create_order(
        MARKET, "limit", "sell", 1, 50)
    before = client.fetch_balance()["total"]
    with pytest.raises(ccxt.InsufficientFunds):
        client.create_order(MARKET, "limit", "buy", 1000, 10)
    with pytest.raises(ccxt.OrderNotFound):
        client.cancel_order(theirs["id"], MARKET)
    with pytest.raises(ccxt.OrderNotFound):
        client.fetch_order("999999", MARKET)
    with pytest.raises(ccxt.InvalidOrder):
        client.create_order(MARKET, "limit", "buy", 1, 60, params={"postOnly": True})
    with pytest.raises(ccxt.BadSymbol):
        client.fetch_order_book("NOPE/USD")
    wrong = ccxt.binance({**options(exchange_server, bot), "secret": "0" * 64})
    wrong.markets, wrong.symbols = client.markets, client.symbols
    with pytest.raises(ccxt.AuthenticationError):
        wrong.fetch_balance()
    assert client.fetch_balance()["total"] == before
    assert client.fetch_open_orders(MARKET) == []


def test_ccxts_async_client_trades_too(exchange_server: str, bot: Bot, other_bot: Bot) -> None:
    async def trade() -> tuple[dict[str, Any], dict[str, Any]]:
        seller = ccxt_async.binance(options(exchange_server, bot))
        buyer = ccxt_async.binance(options(exchange_server, other_bot))
        try:
            await seller.load_markets()
            await buyer.load_markets()
            made = await seller.create_order(MARKET, "limit", "sell", 1, 7)
            taken = await buyer.create_order(MARKET, "limit", "buy", 1, 7)
            return await seller.fetch_order(made["id"], MARKET), taken
        finally:
            await seller.close()
            await buyer.close()

    made, taken = asyncio.run(trade())
    assert (made["status"], taken["status"], taken["average"]) == ("closed", "closed", 7.0)


def test_ccxt_stop_loss_and_take_profit_orders_wait_then_trade(exchange_server: str, bot: Bot,
                                                              other_bot: Bot) -> None:
    trader = ccxt.binance(options(exchange_server, bot))
    other = ccxt.binance(options(exchange_server, other_bot))
    trader.load_markets()
    other.load_markets()
    other.create_order(MARKET, "limit", "buy", 0.001, 10)
    trader.create_order(MARKET, "market", "sell", 0.001)  # the last price: 10
    stop = trader.create_order(MARKET, "limit", "sell", 1, 9, params={"stopLossPrice": 9.5})
    take = trader.create_order(MARKET, "limit", "sell", 1, 12,
                               params={"takeProfitPrice": 11.5})
    assert (stop["info"]["type"], take["info"]["type"]) == ("STOP_LOSS_LIMIT",
                                                           "TAKE_PROFIT_LIMIT")
    assert {o["id"]: o["triggerPrice"] for o in trader.fetch_open_orders(MARKET)} == {
        stop["id"]: 9.5, take["id"]: 11.5}
    assert trader.fetch_order_book(MARKET)["asks"] == []  # both wait off the book
    # The price rises to 11.5: the take-profit rests as a sell at 12, then fills.
    other.create_order(MARKET, "limit", "sell", 0.001, 11.5)
    trader.create_order(MARKET, "market", "buy", 0.001)
    assert trader.fetch_order_book(MARKET)["asks"] == [[12.0, 1.0]]
    other.create_order(MARKET, "market", "buy", 1)
    assert trader.fetch_order(take["id"], MARKET)["status"] == "closed"
    assert trader.fetch_order(stop["id"], MARKET)["status"] == "open"
    with pytest.raises(ccxt.InvalidOrder):  # reached already: the last price is 12
        trader.create_order(MARKET, "limit", "buy", 1, 13, params={"stopLossPrice": 11})
    trader.cancel_order(stop["id"], MARKET)
    assert trader.fetch_open_orders(MARKET) == []
