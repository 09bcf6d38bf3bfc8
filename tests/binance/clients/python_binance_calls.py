"""Run by python-binance's own virtual environment: call `Client` methods in turn and
print their results as JSON. argv: base URL, key, secret, then a JSON list of
[method name, keyword arguments]."""

import json
import sys

from binance.client import Client

base, key, secret, calls = sys.argv[1:5]
client = Client(key, secret, ping=False)
client.API_URL = base + "/api"
print(json.dumps([getattr(client, name)(**kwargs) for name, kwargs in json.loads(calls)]))
