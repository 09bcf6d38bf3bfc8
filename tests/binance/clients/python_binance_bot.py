"""Run by python-binance's own virtual environment (tests/binance/test_clients.py):
two bots trade through python-binance's `Client`, unmodified, pointed at the base URL
given; what they saw is printed as JSON. argv: base URL, then key and secret of each."""

import json
import sys
from collections.abc import Callable
from typing import Any

from binance.client import Client
from binance.exceptions import BinanceAPIException

base, key_a, secret_a, key_b, secret_b = sys.argv[1:6]


def client(key: str, secret: str) -> Client:
    made = Client(key, secret, ping=False)
    made.API_URL = base + "/api"  # as docs/binance.md tells a python-binance user
    return made


seller, buyer = client(key_a, secret_a), client(key_b, secret_b)
seen: dict[str, Any] = {"symbols": [s["symbol"] for s in seller.get_exchange_info()["symbols"]],
        "server_time": seller.get_server_time()["serverTime"]}
ask = seller.order_limit_sell(symbol="COINUSD", quantity="1", price="10")
seen["ask"] = [ask["status"], ask["type"], ask["price"]]
bought = buyer.order_market_buy(symbol="COINUSD", quantity="0.4")
seen["bought"] = [bought["status"], bought["executedQty"],
                  [[f["price"], f["qty"]] for f in bought["fills"]]]
seen["order"] = seller.get_order(symbol="COINUSD", orderId=ask["orderId"])["status"]
seen["open"] = [o["orderId"] == ask["orderId"] for o in seller.get_open_orders(symbol="COINUSD")]
seen["trades"] = [[t["price"], t["qty"], t["isMaker"]]
                  for t in seller.get_my_trades(symbol="COINUSD")]
seen["klines"] = [k[1:6] for k in seller.get_klines(symbol="COINUSD", interval="1m")]
seen["book"] = seller.get_order_book(symbol="COINUSD")["asks"]
seen["balances"] = {b["asset"]: [b["free"], b["locked"]]
                    for b in seller.get_account()["balances"]}
stop = seller.create_order(symbol="COINUSD", side="SELL", type="STOP_LOSS_LIMIT",
                           timeInForce="GTC", quantity="1", price="8", stopPrice="9")
seen["stop"] = seller.get_order(symbol="COINUSD", orderId=stop["orderId"])["type"]
seller.create_test_order(symbol="COINUSD", side="BUY", type="LIMIT", timeInForce="GTC",
                         quantity="1", price="1")
seen["cancelled"] = seller.cancel_order(symbol="COINUSD", orderId=ask["orderId"])["status"]
errors = {}
calls: tuple[tuple[str, Callable[[], Any]], ...] = (
        ("unknown", lambda: seller.cancel_order(symbol="COINUSD", orderId=ask["orderId"])),
        ("funds", lambda: buyer.order_limit_buy(symbol="COINUSD", quantity="1000",
                                                price="10")),
        ("symbol", lambda: seller.get_order_book(symbol="NOPEUSD")))
for name, call in calls:
    try:
        call()
    except BinanceAPIException as error:
        errors[name] = error.code
seen["errors"] = errors
print(json.dumps(seen))
