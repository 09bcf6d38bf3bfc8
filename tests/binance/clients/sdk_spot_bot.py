"""Run by binance-sdk-spot's own virtual environment (tests/binance/test_clients.py):
two bots trade through Binance's own SDK, unmodified, pointed at the base URL given;
what they saw is printed as JSON. argv: base URL, then key and secret of each."""

import json
import sys
from typing import Any

from binance_common.configuration import ConfigurationRestAPI
from binance_common.errors import BadRequestError
from binance_sdk_spot.rest_api.models import (
    NewOrderSideEnum,
    NewOrderTimeInForceEnum,
    NewOrderTypeEnum,
)
from binance_sdk_spot.spot import Spot

base, key_a, secret_a, key_b, secret_b = sys.argv[1:6]


def client(key: str, secret: str) -> Spot:
    return Spot(config_rest_api=ConfigurationRestAPI(api_key=key, api_secret=secret,
                                                     base_path=base))


seller, buyer = client(key_a, secret_a).rest_api, client(key_b, secret_b).rest_api
seen: dict[str, Any] = {"symbols": [s.symbol for s in seller.exchange_info().data().symbols]}
ask = seller.new_order(symbol="COINUSD", side=NewOrderSideEnum.SELL,
                       type=NewOrderTypeEnum.LIMIT, time_in_force=NewOrderTimeInForceEnum.GTC,
                       quantity=2.0, price=10.0).data()
seen["ask"] = [ask.status, ask.price]
bought = buyer.new_order(symbol="COINUSD", side=NewOrderSideEnum.BUY,
                         type=NewOrderTypeEnum.MARKET, quantity=0.5).data()
seen["bought"] = [bought.status, bought.executed_qty]
seen["order"] = seller.get_order(symbol="COINUSD", order_id=ask.order_id).data().status
seen["depth"] = seller.depth(symbol="COINUSD").data().asks
seen["account"] = {b.asset: [b.free, b.locked] for b in seller.get_account().data().balances}
seen["trades"] = [[t.price, t.qty] for t in seller.my_trades(symbol="COINUSD").data()]
seen["cancelled"] = seller.delete_order(symbol="COINUSD", order_id=ask.order_id).data().status
try:
    seller.delete_order(symbol="COINUSD", order_id=ask.order_id)
except BadRequestError as error:
    seen["error"] = str(error)[:200]
print(json.dumps(seen))
