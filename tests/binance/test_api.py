"""/api/v3 against a real `exchange run`, signed as Binance documents: every shape a
client reads, and every bad request answered with Binance's code and nothing changed."""

import time

import httpx

from tests.binance.signed import SYMBOL, Bot


def test_public_endpoints_answer_in_binances_shapes(bot: Bot, other_bot: Bot) -> None:
    bot.ok("POST", "/order", symbol=SYMBOL, side="SELL", type="LIMIT", timeInForce="GTC",
           price="10.00", quantity="2")
    other_bot.ok("POST", "/order", symbol=SYMBOL, side="BUY", type="MARKET", quantity="0.5")
    with httpx.Client(base_url=bot.url + "/api/v3") as public:
        assert public.get("/ping").json() == {}
        assert abs(public.get("/time").json()["serverTime"] - time.time() * 1000) < 5000
        info = public.get("/exchangeInfo").json()
        [symbol] = info["symbols"]
        assert (symbol["symbol"], symbol["baseAsset"], symbol["quoteAsset"]) == (SYMBOL, "COIN",
                                                                                 "USD")
        filters = {f["filterType"]: f for f in symbol["filters"]}
        assert filters["PRICE_FILTER"]["tickSize"] == "0.01"
        assert filters["LOT_SIZE"]["stepSize"] == "0.0001"
        assert "LIMIT_MAKER" in symbol["orderTypes"]
        depth = public.get("/depth", params={"symbol": SYMBOL}).json()
        assert depth["asks"] == [["10.00", "1.5000"]] and depth["bids"] == []
        assert depth["lastUpdateId"] >= 2
        [trade] = public.get("/trades", params={"symbol": SYMBOL}).json()
        assert (trade["price"], trade["qty"], trade["quoteQty"]) == ("10.00", "0.5000", "5.000000")
        assert trade["isBuyerMaker"] is False
        [agg] = public.get("/aggTrades", params={"symbol": SYMBOL}).json()
        assert (agg["a"], agg["p"], agg["q"], agg["m"]) == (trade["id"], "10.00", "0.5000", False)
        for interval in ("1m", "3m", "15m", "1h", "4h", "1d", "1w", "1M"):
            [kline] = public.get("/klines", params={"symbol": SYMBOL, "interval": interval}).json()
            assert kline[1:6] == ["10.00", "10.00", "10.00", "10.00", "0.5000"], interval
            assert kline[8] == 1 and kline[6] > kline[0]
        ticker = public.get("/ticker/24hr", params={"symbol": SYMBOL}).json()
        assert (ticker["lastPrice"], ticker["volume"], ticker["count"]) == ("10.00", "0.5000", 1)
        assert ticker["askPrice"] == "10.00" and ticker["askQty"] == "1.5000"
        assert public.get("/ticker/price", params={"symbol": SYMBOL}).json() == {
            "symbol": SYMBOL, "price": "10.00"}
        book = public.get("/ticker/bookTicker").json()
        assert book == [{"symbol": SYMBOL, "bidPrice": "0.00", "bidQty": "0.0000",
                         "askPrice": "10.00", "askQty": "1.5000"}]
        assert public.get("/avgPrice", params={"symbol": SYMBOL}).json()["price"] == "10.00"
        unknown = public.get("/depth", params={"symbol": "NOPE"})
        assert (unknown.status_code, unknown.json()["code"]) == (400, -1121)
        bad = public.get("/klines", params={"symbol": SYMBOL, "interval": "7m"})
        assert bad.json() == {"code": -1120, "msg": "Invalid interval."}


def test_an_order_lives_its_life_through_the_signed_endpoints(bot: Bot, other_bot: Bot) -> None:
    placed = bot.ok("POST", "/order", in_body=True, symbol=SYMBOL, side="SELL", type="LIMIT",
                    timeInForce="GTC", price="10.00", quantity="1", newClientOrderId="mine-1")
    assert (placed["status"], placed["clientOrderId"], placed["fills"]) == ("NEW", "mine-1", [])
    taken = other_bot.ok("POST", "/order", symbol=SYMBOL, side="BUY", type="MARKET",
                         quoteOrderQty="4")
    assert (taken["status"], taken["executedQty"], taken["cummulativeQuoteQty"]) == (
        "FILLED", "0.4000", "4.000000")
    assert taken["fills"] == [{"price": "10.00", "qty": "0.4000", "commission": "0.000000",
                               "commissionAsset": "USD", "tradeId": 1}]
    by_client = bot.ok("GET", "/order", symbol=SYMBOL, origClientOrderId="mine-1")
    assert (by_client["orderId"], by_client["status"], by_client["executedQty"]) == (
        placed["orderId"], "PARTIALLY_FILLED", "0.4000")
    assert [o["orderId"] for o in bot.ok("GET", "/openOrders")] == [placed["orderId"]]
    [fill] = bot.ok("GET", "/myTrades", symbol=SYMBOL)
    assert (fill["isBuyer"], fill["isMaker"], fill["qty"]) == (False, True, "0.4000")
    cancelled = bot.ok("DELETE", "/order", symbol=SYMBOL, orderId=placed["orderId"])
    assert (cancelled["status"], cancelled["origClientOrderId"]) == ("CANCELED", "mine-1")
    assert bot.ok("GET", "/openOrders", symbol=SYMBOL) == []
    assert [o["status"] for o in bot.ok("GET", "/allOrders", symbol=SYMBOL)] == ["CANCELED"]
    assert bot.balances()["COIN"] == ("99.60000000", "0.00000000")
    assert bot.balances()["USD"] == ("1004.000000", "0.000000")
    # A maker-only order that would take, an IOC that cannot fill, and cancel-all.
    other_bot.ok("POST", "/order", symbol=SYMBOL, side="SELL", type="LIMIT",
                 timeInForce="GTC", price="11.00", quantity="1")
    assert bot.error(400, -2010, "POST", "/order", symbol=SYMBOL, side="BUY",
                     type="LIMIT_MAKER", price="11.00", quantity="1") == (
        "Order would immediately match and take.")
    expired = bot.ok("POST", "/order", symbol=SYMBOL, side="BUY", type="LIMIT",
                     timeInForce="IOC", price="9.00", quantity="1")
    assert expired["status"] == "EXPIRED"
    for price in ("5.00", "6.00"):
        bot.ok("POST", "/order", symbol=SYMBOL, side="BUY", type="LIMIT_MAKER", price=price,
               quantity="1", newOrderRespType="ACK")
    gone = bot.ok("DELETE", "/openOrders", symbol=SYMBOL)
    assert sorted(o["price"] for o in gone) == ["5.00", "6.00"]
    assert {o["status"] for o in gone} == {"CANCELED"}
    assert bot.ok("POST", "/order/test", symbol=SYMBOL, side="BUY", type="LIMIT",
                  timeInForce="GTC", price="1.00", quantity="1") == {}
    assert bot.ok("GET", "/openOrders") == []


def test_bad_requests_get_binances_codes_and_change_nothing(bot: Bot, other_bot: Bot) -> None:
    theirs = other_bot.ok("POST", "/order", symbol=SYMBOL, side="SELL", type="LIMIT",
                          timeInForce="GTC", price="12.00", quantity="1")
    before = bot.balances(), other_bot.balances()
    order = {"symbol": SYMBOL, "side": "BUY", "type": "LIMIT", "timeInForce": "GTC",
             "price": "1.00", "quantity": "1"}
    bot.error(400, -1022, "POST", "/order", signature="0" * 64, **order)
    bot.error(400, -1021, "POST", "/order", timestamp=int(time.time() * 1000) - 60_000,
              **order)
    bot.error(400, -1021, "POST", "/order", timestamp=int(time.time() * 1000) + 5_000,
              **order)
    bot.error(401, -2014, "POST", "/order", key="", **order)
    bot.error(401, -2015, "POST", "/order", key="f" * 64, **order)
    bot.error(400, -1121, "POST", "/order", **{**order, "symbol": "NOPEUSD"})
    bot.error(400, -1013, "POST", "/order", **{**order, "price": "1.001"})
    bot.error(400, -1013, "POST", "/order", **{**order, "quantity": "0.00001"})
    bot.error(400, -1100, "POST", "/order", **{**order, "price": "1e3"})
    bot.error(400, -1100, "POST", "/order", **{**order, "side": "HOLD"})
    bot.error(400, -1102, "POST", "/order", **{k: v for k, v in order.items() if k != "price"})
    bot.error(400, -1115, "POST", "/order", **{**order, "timeInForce": "GTX"})
    bot.error(400, -1116, "POST", "/order", **{**order, "type": "ICEBERG"})
    assert bot.error(400, -2010, "POST", "/order", **{**order, "quantity": "100000"}) == (
        "Account has insufficient balance for requested action.")
    bot.error(400, -1102, "POST", "/order", symbol=SYMBOL, side="SELL",
              type="STOP_LOSS_LIMIT", price="1.00", quantity="1", timeInForce="GTC")
    bot.error(400, -1106, "POST", "/order", **order, stopPrice="1.10")
    assert "not supported" in bot.error(400, -2010, "POST", "/order", **order, icebergQty="1")
    bot.error(400, -2013, "GET", "/order", symbol=SYMBOL, orderId=theirs["orderId"])
    bot.error(400, -2011, "DELETE", "/order", symbol=SYMBOL, orderId=theirs["orderId"])
    bot.error(400, -2011, "DELETE", "/order", symbol=SYMBOL, orderId=10**18)
    bot.error(400, -1100, "DELETE", "/order", symbol=SYMBOL, orderId=10**30)
    bot.error(400, -1130, "GET", "/allOrders", symbol=SYMBOL, limit=5000)
    assert (bot.balances(), other_bot.balances()) == before
    assert bot.ok("GET", "/openOrders") == []
    assert [o["orderId"] for o in other_bot.ok("GET", "/openOrders")] == [theirs["orderId"]]


def test_a_read_only_key_reads_and_a_revoked_key_stops_at_once(exchange_server: str) -> None:
    with Bot(exchange_server, permissions="read") as reader:
        assert reader.ok("GET", "/account")["canTrade"] is False
        reader.error(401, -2015, "POST", "/order", symbol=SYMBOL, side="BUY", type="LIMIT",
                     timeInForce="GTC", price="1.00", quantity="1")
        assert reader.ok("GET", "/openOrders") == []
        gone = reader.user.http.delete(f"/api-keys/{reader.key}")
        assert gone.status_code == 204
        reader.error(401, -2015, "GET", "/account")


def test_an_ed25519_key_signs_with_the_users_own_private_key(exchange_server: str) -> None:
    with Bot(exchange_server, kind="ed25519") as signer:
        assert signer.secret == ""  # the server never had a secret to show
        placed = signer.ok("POST", "/order", symbol=SYMBOL, side="SELL", type="LIMIT",
                           timeInForce="GTC", price="20.00", quantity="1")
        assert placed["status"] == "NEW"
        signer.error(400, -1022, "GET", "/account", signature="AAAA")
        keys = signer.user.get("/api-keys")
        assert [(k["kind"], k["permissions"]) for k in keys] == [("ed25519", "trade")]


def test_a_key_is_made_only_as_its_kind_allows(exchange_server: str) -> None:
    with Bot(exchange_server) as bot:
        make = bot.user.http.post
        for body in ({"kind": "bearer", "permissions": "read"},
                     {"kind": "ed25519"},
                     {"kind": "hmac", "public_key": "x"},
                     {"kind": "ed25519", "public_key": "-----BEGIN PUBLIC KEY-----\nAAAA\n"},
                     {"kind": "rsa"}, {"kind": "hmac", "permissions": "withdraw"}):
            answer = make("/api-keys", json=body)
            assert answer.status_code == 400, (body, answer.text)
        assert [k["key_id"] for k in bot.user.get("/api-keys")] == [bot.key]
        # A signing key is not a bearer key: /api/v1 does not take its id.
        with httpx.Client(base_url=exchange_server + "/api/v1") as program:
            answer = program.get("/balances", headers={"Authorization": f"Bearer {bot.key}"})
            assert answer.status_code == 401


def test_a_stop_loss_limit_order_waits_then_works_when_the_price_reaches_it(
        bot: Bot, other_bot: Bot) -> None:
    third = Bot(bot.url)

    def trade_at(price: str) -> None:
        other_bot.ok("POST", "/order", symbol=SYMBOL, side="SELL", type="LIMIT",
                     timeInForce="GTC", price=price, quantity="0.0001")
        third.ok("POST", "/order", symbol=SYMBOL, side="BUY", type="MARKET", quantity="0.0001")

    trade_at("10.00")
    # Already reached: Binance's refusal.
    assert bot.error(400, -2010, "POST", "/order", symbol=SYMBOL, side="SELL",
                     type="STOP_LOSS_LIMIT", timeInForce="GTC", price="9.00",
                     stopPrice="10.50", quantity="1") == "Order would trigger immediately."
    placed = bot.ok("POST", "/order", symbol=SYMBOL, side="SELL", type="STOP_LOSS_LIMIT",
                    timeInForce="GTC", price="9.00", stopPrice="9.50", quantity="1")
    assert set(placed) == {"symbol", "orderId", "orderListId", "clientOrderId",
                           "transactTime"}  # a stop order's answer is an ACK by default
    waiting = bot.ok("GET", "/order", symbol=SYMBOL, orderId=placed["orderId"])
    assert (waiting["type"], waiting["stopPrice"], waiting["status"], waiting["isWorking"]) == (
        "STOP_LOSS_LIMIT", "9.50", "NEW", False)
    assert bot.balances()["COIN"] == ("99.00000000", "1.00000000")
    with httpx.Client(base_url=bot.url + "/api/v3") as public:
        assert public.get("/depth", params={"symbol": SYMBOL}).json()["asks"] == []
    trade_at("9.50")  # reaches the stop: the order rests as a limit sell at 9.00
    working = bot.ok("GET", "/order", symbol=SYMBOL, orderId=placed["orderId"])
    assert (working["status"], working["isWorking"]) == ("NEW", True)
    with httpx.Client(base_url=bot.url + "/api/v3") as public:
        assert public.get("/depth", params={"symbol": SYMBOL}).json()["asks"] == [
            ["9.00", "1.0000"]]
    bot.ok("DELETE", "/order", symbol=SYMBOL, orderId=placed["orderId"])
    assert bot.balances()["COIN"] == ("100.00000000", "0.00000000")
    third.close()
