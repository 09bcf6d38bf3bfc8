"""Bad input to every REST endpoint: a clear 4xx in the one error shape, and nothing changes.

One exchange serves the whole module (starting one per case would be slow). Alice and
Bob have orders resting in the book; every case snapshots the market and both users
(balances, open and closed orders, fills, API keys, depth, trades, user count) before
the request and checks it is all the same after.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.web.client import MARKET, User, assert_error, exchange_state, running_exchange

MISSING = object()  # a field left out of the body


@dataclass
class World:
    url: str
    alice: User
    bob: User
    alice_open: int  # alice's resting buy 1 @ 3.00, client order id "alice-1"
    alice_closed: int  # an order alice cancelled
    bob_open: int  # bob's resting sell 1 @ 7.00, client order id "bob-1"
    bob_key: str

    @contextmanager
    def unchanged(self) -> Iterator[None]:
        before = exchange_state(self.url, [self.alice, self.bob])
        yield
        assert exchange_state(self.url, [self.alice, self.bob]) == before


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with running_exchange(tmp_path_factory.mktemp("exchange")) as server:
        alice, bob = User(server.url), User(server.url)
        try:
            alice_open = alice.place(side="buy", price="3.00", quantity="1",
                                     client_order_id="alice-1")["order_id"]
            alice.place(side="sell", price="6.00", quantity="1")
            closed = alice.place(side="buy", price="2.00", quantity="1")["order_id"]
            alice.cancel(closed)
            bob_open = bob.place(side="sell", price="7.00", quantity="1",
                                 client_order_id="bob-1")["order_id"]
            yield World(server.url, alice, bob, alice_open, closed, bob_open, bob.new_key())
        finally:
            alice.close()
            bob.close()


def body_of(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    merged = {**base, **changes}
    return {k: v for k, v in merged.items() if v is not MISSING}


# ---- placing orders (as bob: his buys at 2.00 rest, alice's ask is at 6.00) ----------------

BUY = {"market": MARKET, "side": "buy", "price": "2.00", "quantity": "1"}
PLACE = [  # id, changes to BUY, status, code, field
    ("price number", {"price": 4}, 400, "invalid_field", "price"),
    ("price float", {"price": 4.5}, 400, "invalid_field", "price"),
    ("price bool", {"price": True}, 400, "invalid_field", "price"),
    ("price list", {"price": ["4"]}, 400, "invalid_field", "price"),
    ("price null", {"price": None}, 400, "missing_field", "price"),
    ("price missing", {"price": MISSING}, 400, "missing_field", "price"),
    ("price empty", {"price": ""}, 400, "invalid_field", "price"),
    ("price too long", {"price": "1" * 65}, 400, "invalid_field", "price"),
    *[(f"price {text!r}", {"price": text}, 400, "invalid_price", "price") for text in (
        "NaN", "nan", "Infinity", "-Infinity", "inf", "-1", "-0.01", "0", "0.00", "-0",
        "1e400", "1e-400", "4.001", "4.0000001", "99999999999", "1000000.01", "abc",
        " 4", "4 ", "4,00", "0x10", "4_00", "\u0664", "4e", ".", "--1", "+-1")],
    ("quantity number", {"quantity": 2}, 400, "invalid_field", "quantity"),
    ("quantity missing", {"quantity": MISSING}, 400, "missing_field", "quantity"),
    *[(f"quantity {text!r}", {"quantity": text}, 400, "invalid_quantity", "quantity")
      for text in ("0", "-1", "NaN", "Infinity", "0.00001", "1e400", "1000001", "x")],
    ("market missing", {"market": MISSING}, 400, "missing_field", "market"),
    ("market null", {"market": None}, 400, "invalid_field", "market"),
    ("market number", {"market": 1}, 400, "invalid_field", "market"),
    ("market empty", {"market": ""}, 400, "invalid_field", "market"),
    ("market too long", {"market": "X" * 33}, 400, "invalid_field", "market"),
    ("market unknown", {"market": "NOPE-USD"}, 404, "unknown_market", "market"),
    ("market lower case", {"market": "coin-usd"}, 404, "unknown_market", "market"),
    ("side missing", {"side": MISSING}, 400, "missing_field", "side"),
    ("side upper case", {"side": "BUY"}, 400, "invalid_field", "side"),
    ("side unknown", {"side": "long"}, 400, "invalid_field", "side"),
    ("side number", {"side": 1}, 400, "invalid_field", "side"),
    ("type unknown", {"type": "stop"}, 400, "invalid_field", "type"),
    ("time in force unknown", {"time_in_force": "day"}, 400, "invalid_field", "time_in_force"),
    ("self trade unknown", {"self_trade": "allow"}, 400, "invalid_field", "self_trade"),
    ("extra field", {"leverage": "10"}, 400, "invalid_field", "leverage"),
    ("limit with quote quantity", {"quote_quantity": "5"}, 400, "invalid_order",
     "quote_quantity"),
    ("market with price", {"type": "market"}, 400, "invalid_order", "price"),
    ("market gtc", {"type": "market", "price": MISSING, "time_in_force": "gtc"}, 400,
     "invalid_order", "time_in_force"),
    ("market sell by quote", {"type": "market", "side": "sell", "price": MISSING,
                              "quantity": MISSING, "quote_quantity": "5"}, 400,
     "invalid_order", "quote_quantity"),
    ("market without amount", {"type": "market", "price": MISSING, "quantity": MISSING}, 400,
     "missing_field", "quantity"),
    ("market buy quote zero", {"type": "market", "price": MISSING, "quantity": MISSING,
                               "quote_quantity": "0"}, 400, "invalid_quantity",
     "quote_quantity"),
    ("market buy quote over-precise", {"type": "market", "price": MISSING,
                                       "quantity": MISSING, "quote_quantity": "1.0000001"},
     400, "invalid_quantity", "quote_quantity"),
    ("client id too long", {"client_order_id": "a" * 37}, 400, "invalid_field",
     "client_order_id"),
    ("client id empty", {"client_order_id": ""}, 400, "invalid_field", "client_order_id"),
    ("client id space", {"client_order_id": "a b"}, 400, "invalid_field", "client_order_id"),
    ("client id slash", {"client_order_id": "a/b"}, 400, "invalid_field", "client_order_id"),
    ("client id accent", {"client_order_id": "caf\u00e9"}, 400, "invalid_field",
     "client_order_id"),
    ("client id number", {"client_order_id": 5}, 400, "invalid_field", "client_order_id"),
    # Refusals by the exchange itself.
    ("client id in use", {"client_order_id": "bob-1"}, 400, "duplicate_client_order_id", None),
    ("post-only would take", {"price": "6.00", "time_in_force": "post_only"}, 400,
     "post_only_would_take", None),
    ("fok cannot fill", {"price": "6.00", "quantity": "2", "time_in_force": "fok"}, 400,
     "fok_cannot_fill", None),
    ("buy beyond funds", {"quantity": "600"}, 400, "insufficient_funds", None),
    ("sell beyond coins", {"side": "sell", "price": "8.00", "quantity": "100"}, 400,
     "insufficient_funds", None),
    ("market buy beyond funds", {"type": "market", "price": MISSING, "quantity": MISSING,
                                 "quote_quantity": "1000.01"}, 400, "insufficient_funds", None),
]


@pytest.mark.parametrize(("changes", "status", "code", "field"),
                         [pytest.param(*case[1:], id=case[0]) for case in PLACE])
def test_place_refuses(world: World, changes: dict[str, Any], status: int, code: str,
                       field: str | None) -> None:
    with world.unchanged():
        assert_error(world.bob.http.post("/orders", json=body_of(BUY, changes)), status, code,
                     field)


# ---- bodies that are not JSON objects, on every endpoint that takes one --------------------

BODY_PATHS = ["/users", "/session", "/api-keys", "/orders", "/orders/{alice_open}/reduce"]
BODIES = [  # id, content, content type, code
    ("empty", b"", "application/json", "missing_field"),
    ("truncated", b'{"market": "COIN-USD",', "application/json", "invalid_json"),
    ("not json", b"{market: COIN-USD}", "application/json", "invalid_json"),
    ("not utf-8", b'{"market": "\xff"}', "application/json", "invalid_json"),
    ("array", b"[]", "application/json", "invalid_json"),
    ("null", b"null", "application/json", "invalid_json"),
    ("string", b'"{}"', "application/json", "invalid_json"),
    ("number", b"1", "application/json", "invalid_json"),
    ("text/plain", b'{"password": "long enough"}', "text/plain", "invalid_json"),
    ("form", b"password=long+enough", "application/x-www-form-urlencoded", "invalid_json"),
]


@pytest.mark.parametrize("path", BODY_PATHS)
@pytest.mark.parametrize(("content", "content_type", "code"),
                         [pytest.param(*case[1:], id=case[0]) for case in BODIES])
def test_malformed_bodies(world: World, path: str, content: bytes, content_type: str,
                          code: str) -> None:
    with world.unchanged():
        answer = world.alice.http.post(path.format(alice_open=world.alice_open),
                                       content=content, headers={"Content-Type": content_type})
        assert_error(answer, 400, code)
        assert "set-cookie" not in answer.headers


# ---- reduce, cancel, get: bad amounts, bad ids, orders that are not yours -----------------

@pytest.mark.parametrize(("body", "code"), [
    ({"reduce_by": "0"}, "invalid_quantity"), ({"reduce_by": "-1"}, "invalid_quantity"),
    ({"reduce_by": "NaN"}, "invalid_quantity"), ({"reduce_by": "0.00001"}, "invalid_quantity"),
    ({"reduce_by": "1e400"}, "invalid_quantity"), ({"reduce_by": "1000001"}, "invalid_quantity"),
    ({"reduce_by": "abc"}, "invalid_quantity"), ({"reduce_by": ""}, "invalid_field"),
    ({"reduce_by": 1}, "invalid_field"), ({"reduce_by": 0.5}, "invalid_field"),
    ({"reduce_by": None}, "invalid_field"), ({}, "missing_field"),
    ({"reduce_by": "0.5", "extra": 1}, "invalid_field"),
])
def test_reduce_refuses_bad_amounts(world: World, body: dict[str, Any], code: str) -> None:
    with world.unchanged():
        answer = world.alice.http.post(f"/orders/{world.alice_open}/reduce", json=body)
        assert_error(answer, 400, code)


def order_requests(order_id: str) -> list[tuple[str, str, dict[str, Any] | None]]:
    return [("GET", f"/orders/{order_id}", None), ("DELETE", f"/orders/{order_id}", None),
            ("POST", f"/orders/{order_id}/reduce", {"reduce_by": "0.1"})]


@pytest.mark.parametrize("order_id", ["0", "-1", "9223372036854775808",
                                      "99999999999999999999999", "abc", "1.5", "1e3"])
def test_bad_order_ids(world: World, order_id: str) -> None:
    with world.unchanged():
        for method, path, body in order_requests(order_id):
            assert_error(world.alice.http.request(method, path, json=body), 400,
                         "invalid_field", "order_id")


@pytest.mark.parametrize("whose", ["bob's", "unknown", "closed"])
def test_orders_that_are_not_yours_or_not_open(world: World, whose: str) -> None:
    order_id = {"bob's": world.bob_open, "unknown": 10**15, "closed": world.alice_closed}[whose]
    with world.unchanged():
        for method, path, body in order_requests(str(order_id)):
            answer = world.alice.http.request(method, path, json=body)
            if whose == "closed" and method == "GET":
                assert answer.json()["status"] == "cancelled"  # closed orders can be read
            else:
                assert_error(answer, 404, "unknown_order")
    assert world.bob.get(f"/orders/{world.bob_open}")["status"] == "new"


@pytest.mark.parametrize(("client_order_id", "status", "code"), [
    ("bob-1", 404, "unknown_order"), ("nope", 404, "unknown_order"),
    ("a%20b", 400, "invalid_field"), ("a" * 37, 400, "invalid_field"),
    ("caf%C3%A9", 400, "invalid_field")])
def test_cancel_by_client_id_refuses(world: World, client_order_id: str, status: int,
                                     code: str) -> None:
    with world.unchanged():
        answer = world.alice.http.delete(f"/orders/by-client-id/{client_order_id}")
        assert_error(answer, status, code)


# ---- query parameters and unknown markets --------------------------------------------------

@pytest.mark.parametrize("path", [f"/markets/{MARKET}/depth", f"/markets/{MARKET}/trades",
                                  f"/markets/{MARKET}/candles", "/orders/history", "/fills"])
@pytest.mark.parametrize("limit", ["0", "-1", "1001", "x", "1.5", ""])
def test_bad_limits(world: World, path: str, limit: str) -> None:
    if limit == "1001" and not path.endswith("candles"):
        limit = "501"
    assert_error(world.alice.http.get(path, params={"limit": limit}), 400, "invalid_field",
                 "limit")


@pytest.mark.parametrize("interval", ["", "2m", "1M", "60", "1m "])
def test_bad_candle_interval(world: World, interval: str) -> None:
    answer = world.alice.http.get(f"/markets/{MARKET}/candles", params={"interval": interval})
    assert_error(answer, 400, "invalid_field", "interval")


@pytest.mark.parametrize("symbol", ["NOPE", "coin-usd", "COIN-USD ", "%00", "%FF"])
@pytest.mark.parametrize("what", ["depth", "trades", "candles", "ticker"])
def test_unknown_market_data(world: World, symbol: str, what: str) -> None:
    assert_error(world.alice.http.get(f"/markets/{symbol}/{what}"), 404, "unknown_market")


@pytest.mark.parametrize(("method", "path"), [
    ("GET", "/orders/open"), ("GET", "/orders/history"), ("GET", "/fills"),
    ("DELETE", "/orders")])
def test_unknown_market_filters(world: World, method: str, path: str) -> None:
    with world.unchanged():
        answer = world.alice.http.request(method, path, params={"market": "NOPE"})
        assert_error(answer, 404, "unknown_market", "market")
        answer = world.alice.http.request(method, path, params={"market": "X" * 33})
        assert_error(answer, 400, "invalid_field", "market")
    assert world.alice_open in world.alice.open_ids()


# ---- credentials ---------------------------------------------------------------------------

AUTHENTICATED = [  # method, path, body
    ("GET", "/balances", None), ("GET", "/orders/open", None), ("GET", "/orders/history", None),
    ("GET", "/fills", None), ("GET", "/orders/{alice_open}", None),
    ("POST", "/orders", {**BUY, "price": "1.00"}),
    ("POST", "/orders/{alice_open}/reduce", {"reduce_by": "0.5"}),
    ("DELETE", "/orders/{alice_open}", None), ("DELETE", "/orders/by-client-id/alice-1", None),
    ("DELETE", "/orders", None), ("GET", "/session", None), ("DELETE", "/session", None),
    ("POST", "/api-keys", {"label": "x"}), ("GET", "/api-keys", None),
    ("DELETE", "/api-keys/{bob_key_id}", None)]


def send(world: World, http: httpx.Client, method: str, path: str, body: Any,
         **headers: str) -> httpx.Response:
    path = path.format(alice_open=world.alice_open, bob_key_id=world.bob_key.split(".")[0])
    return http.request(method, path, json=body, headers=headers)


@pytest.mark.parametrize(("method", "path", "body"), AUTHENTICATED)
@pytest.mark.parametrize("authorization", [
    None, "Bearer nope", "Bearer abc.def", "Bearer {key_id}", "Bearer", "Basic YWxpY2U6c2VjcmV0",
    "Token {key}", "Bearer {key}x", "Bearer {key_id}.", "{key}"])
def test_no_or_wrong_credentials(world: World, method: str, path: str, body: Any,
                                 authorization: str | None) -> None:
    headers = {}
    if authorization is not None:
        headers["Authorization"] = authorization.format(
            key=world.bob_key, key_id=world.bob_key.split(".")[0])
    with world.unchanged(), httpx.Client(base_url=world.url + "/api/v1") as stranger:
        answer = send(world, stranger, method, path, body, **headers)
        assert_error(answer, 401, "unauthenticated")


@pytest.mark.parametrize(("method", "path", "body"),
                         [case for case in AUTHENTICATED if case[0] != "GET"])
@pytest.mark.parametrize("csrf", [None, "", "wrong", "bob's"])
def test_cookie_changes_need_the_csrf_header(world: World, method: str, path: str, body: Any,
                                             csrf: str | None) -> None:
    cookies = dict(world.alice.http.cookies)
    headers = {} if csrf is None else {"X-CSRF-Token": world.bob.csrf if csrf else csrf}
    with world.unchanged(), httpx.Client(base_url=world.url + "/api/v1", cookies=cookies,
                                         headers=headers) as forged:
        assert_error(send(world, forged, method, path, body), 403, "csrf")
    assert world.alice.get("/session") == {"user_id": world.alice.user_id}


@pytest.mark.parametrize(("body", "code"), [
    ({"password": "short"}, "invalid_field"), ({"password": "1234567"}, "invalid_field"),
    ({"password": "x" * 129}, "invalid_field"), ({"password": 12345678}, "invalid_field"),
    ({"password": None}, "invalid_field"), ({"password": ["long enough"]}, "invalid_field"),
    ({}, "missing_field"), ({"password": "long enough", "admin": True}, "invalid_field")])
def test_sign_up_refuses(world: World, body: dict[str, Any], code: str) -> None:
    with world.unchanged(), httpx.Client(base_url=world.url + "/api/v1") as stranger:
        answer = stranger.post("/users", json=body)
        assert_error(answer, 400, code)
        assert "set-cookie" not in answer.headers


@pytest.mark.parametrize(("body", "status", "code"), [
    ({"password": "wrong password"}, 401, "unauthenticated"),
    ({"user_id": 10**9, "password": "wrong password"}, 401, "unauthenticated"),
    ({"user_id": "{alice}"}, 400, "invalid_field"), ({"user_id": 0}, 400, "invalid_field"),
    ({"user_id": -1}, 400, "invalid_field"), ({"user_id": 2**62 + 1}, 400, "invalid_field"),
    ({"user_id": True}, 400, "invalid_field"), ({"user_id": 1.0}, 400, "invalid_field"),
    ({"password": MISSING}, 400, "missing_field"), ({"user_id": MISSING}, 400, "missing_field"),
    ({"password": ""}, 400, "invalid_field"), ({"password": "x" * 129}, 400, "invalid_field"),
    ({"password": 12345678}, 400, "invalid_field"), ({"extra": 1}, 400, "invalid_field")])
def test_log_in_refuses(world: World, body: dict[str, Any], status: int, code: str) -> None:
    base = {"user_id": world.alice.user_id, "password": world.alice.password}
    if body.get("user_id") == "{alice}":
        body = {"user_id": str(world.alice.user_id)}
    with world.unchanged(), httpx.Client(base_url=world.url + "/api/v1") as stranger:
        answer = stranger.post("/session", json=body_of(base, body))
        assert_error(answer, status, code)
        assert "set-cookie" not in answer.headers


@pytest.mark.parametrize("body", [{"label": "x" * 65}, {"label": 5}, {"label": None},
                                  {"label": "ok", "scope": "all"}])
def test_api_key_refuses_bad_labels(world: World, body: dict[str, Any]) -> None:
    with world.unchanged():
        assert_error(world.alice.http.post("/api-keys", json=body), 400, "invalid_field")


@pytest.mark.parametrize("key_id", ["{bob}", "0000000000000000", "x" * 200, "%00"])
def test_revoke_someone_elses_or_unknown_key(world: World, key_id: str) -> None:
    bob_key_id = world.bob_key.split(".")[0]
    with world.unchanged():
        answer = world.alice.http.delete(f"/api-keys/{key_id.replace('{bob}', bob_key_id)}")
        assert_error(answer, 404, "not_found")
    with httpx.Client(base_url=world.url + "/api/v1",
                      headers={"Authorization": f"Bearer {world.bob_key}"}) as program:
        assert program.get("/session").json() == {"user_id": world.bob.user_id}


def test_unknown_paths_and_methods(world: World) -> None:
    assert_error(world.alice.http.get("/nothing-here"), 404, "not_found")
    assert_error(world.alice.http.put("/orders", json={}), 405, "method_not_allowed")
    assert_error(world.alice.http.patch(f"/orders/{world.alice_open}"), 405,
                 "method_not_allowed")


def test_after_all_refusals_the_users_have_what_they_started_with(world: World) -> None:
    for user in (world.alice, world.bob):
        totals = {asset: row["total"] for asset, row in user.balances().items()}
        assert totals == {"USD": "1000.000000", "COIN": "100.00000000"}
    assert sorted(world.alice.open_ids())[0] == world.alice_open
    assert world.bob.open_ids() == [world.bob_open]
