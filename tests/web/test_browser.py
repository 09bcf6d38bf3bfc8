"""The web page in a real browser: two users trade through it and both pages see it live.

Drives Debian's Chromium (/usr/bin/chromium) with Playwright's sync API; nothing is
downloaded. The exchange is conftest.py's `exchange_server` (a fresh `exchange run`).
Screenshots go to test-artifacts/ at the repository root.
"""

import hashlib
import hmac
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import ccxt
import httpx
import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, ViewportSize, expect, sync_playwright

from tests.binance.signed import Bot
from tests.binance.test_ccxt import MARKET, options
from tests.binance.test_clients import python_binance
from tests.web.client import User

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--disable-quic"]
LAPTOP: ViewportSize = {"width": 1440, "height": 900}
PHONE: ViewportSize = {"width": 390, "height": 844}

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs /usr/bin/chromium")


# ---- the browser --------------------------------------------------------------------------


@pytest.fixture
def chromium() -> Iterator[Browser]:
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


class Watched:
    """A page whose console errors and uncaught exceptions are collected."""

    def __init__(self, browser: Browser, name: str, viewport: ViewportSize,
                 **context_args: Any) -> None:
        self.name = name
        self.context = browser.new_context(viewport=viewport, **context_args)
        self.page: Page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda exc: self.errors.append(f"page error: {exc}"))

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.errors.append(f"console error: {message.text} at {message.location}")

    def open(self, url: str) -> None:
        self.page.goto(url)
        self.live()

    def live(self) -> None:
        expect(self.page.locator("#ws-status")).to_have_text("live")

    def shot(self, filename: str, *, full_page: bool = True) -> None:
        ARTIFACTS.mkdir(exist_ok=True)
        # Let flashes and the chart settle so the picture shows the steady page.
        self.page.wait_for_timeout(1000)
        self.page.screenshot(path=str(ARTIFACTS / filename), full_page=full_page)

    def close(self) -> None:
        self.context.close()


def _amount(page: Page, selector: str) -> float:
    return float(page.locator(selector).inner_text().replace(",", "").strip())


def _expect_amount(page: Page, selector: str, value: float) -> None:
    """Wait until the element shows `value` (balances arrive over the socket)."""
    expect(page.locator(selector)).not_to_have_text("")
    deadline = time.monotonic() + 10
    while True:
        shown = _amount(page, selector)
        if abs(shown - value) < 1e-9:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"{selector} shows {shown}, expected {value}")
        page.wait_for_timeout(100)


def _create_user(w: Watched, password: str) -> int:
    page = w.page
    expect(page.locator("#login-password")).to_be_visible()
    page.fill("#login-password", password)
    page.click("#create-user-button")
    expect(page.locator("#current-user")).not_to_have_text("")
    user = int(page.locator("#current-user").inner_text())
    # The new id is shown big, so the user can log in with it later.
    expect(page.locator("#new-user-id")).to_have_text(str(user))
    w.live()
    _expect_amount(page, "#balance-USD-available", 1000)
    _expect_amount(page, "#balance-COIN-available", 100)
    return user


def _place(page: Page, side: str, price: str, amount: str) -> None:
    page.fill(f"#{side}-price", price)
    page.fill(f"#{side}-amount", amount)
    page.click(f"#{side}-button")
    expect(page.locator(f"#{side}-result")).not_to_have_text("")
    expect(page.locator(f"#{side}-error")).to_have_text("")


def _check_after_trade(a: Page, b: Page) -> None:
    """What both pages must show after A sold 2 @ 4.00 and B bought 3 @ 5.00."""
    for page in (a, b):
        first = page.locator("#trades .trade-row").first
        expect(first).to_have_attribute("data-price", "4.00")
        expect(first).to_have_class(re.compile(r"\bbuy\b"))  # B took the ask: a buy
        expect(first.locator(".price")).to_have_text("4.00")
        expect(page.locator("#book-asks .book-row")).to_have_count(0)
        bids = page.locator("#book-bids .book-row")
        expect(bids).to_have_count(1)
        expect(bids.first).to_have_attribute("data-price", "5.00")
        expect(bids.first).to_have_attribute("data-quantity", "1.0000")
        # The chart drew a candle at the trade's price.
        page.wait_for_function("() => window.__exchange.chartData().bars.length > 0")
        data = page.evaluate("() => window.__exchange.chartData()")
        assert data["bars"][-1]["close"] == 4.0
        assert data["candles"][-1]["volume"] == "2.0000"
        # B was the taker and bought: the average buy line is at 4, no sells yet.
        assert data["avgBuy"][-1]["value"] == 4.0
        assert "value" not in data["avgSell"][-1]

    _expect_amount(a, "#balance-USD-available", 1008)
    _expect_amount(a, "#balance-USD-held", 0)
    _expect_amount(a, "#balance-COIN-available", 98)
    _expect_amount(a, "#balance-COIN-held", 0)
    # B paid 8 USD for 2 COIN and holds 5 USD for the 1 @ 5.00 still in the book:
    # 992 USD in all, 987 of it available.
    _expect_amount(b, "#balance-USD-available", 987)
    _expect_amount(b, "#balance-USD-held", 5)
    _expect_amount(b, "#balance-COIN-available", 102)
    _expect_amount(b, "#balance-COIN-held", 0)

    # A's sell is done; B's buy rests with 1 left.
    expect(a.locator("#open-orders tr")).to_have_count(0)
    expect(b.locator("#open-orders tr")).to_have_count(1)
    expect(b.locator("#open-orders tr .cancel")).to_have_count(1)
    expect(a.locator("#order-history tr")).to_have_count(1)
    expect(a.locator("#fills tr")).to_have_count(1)
    expect(b.locator("#fills tr")).to_have_count(1)


def test_two_users_trade_through_the_page(exchange_server: str, chromium: Browser) -> None:
    server = exchange_server.rstrip("/")
    expect.set_options(timeout=10_000)
    markets = httpx.get(server + "/api/v1/markets").json()
    market = next(m for m in markets if m["symbol"] == "COIN-USD")
    if float(market["maker_fee"]) or float(market["taker_fee"]):
        pytest.skip("the balances below assume the default fee-free market")

    a = Watched(chromium, "a", LAPTOP)
    b = Watched(chromium, "b", LAPTOP)
    opened = [a, b]
    try:
        a.open(server)
        b.open(server)
        user_a = _create_user(a, "alice-password")
        user_b = _create_user(b, "bob-password-2")
        assert user_a != user_b

        _place(a.page, "sell", "4.00", "2")
        # A's ask reaches B's book live.
        expect(b.page.locator('#book-asks .book-row[data-price="4.00"]')).to_have_count(1)
        expect(a.page.locator("#open-orders tr[data-order-id]")).to_have_count(1)

        _place(b.page, "buy", "5.00", "3")
        a.page.click("#tab-fills")
        b.page.click("#tab-fills")
        _check_after_trade(a.page, b.page)
        a.page.click("#tab-open")
        b.page.click("#tab-open")
        a.shot("page-a-after-trade.png")
        b.shot("page-b-after-trade.png")

        # A reload shows the same, from the REST views and the socket's snapshots.
        for w in (a, b):
            w.page.reload()
            w.live()
            expect(w.page.locator("#current-user")).to_have_text(str(user_a if w is a else user_b))
        _check_after_trade(a.page, b.page)
        a.shot("page-a-after-reload.png")
        b.shot("page-b-after-reload.png")

        # B's open order can be cancelled from the page; its hold comes back.
        b.page.locator("#open-orders tr .cancel").click()
        expect(b.page.locator("#open-orders tr")).to_have_count(0)
        expect(a.page.locator("#book-bids .book-row")).to_have_count(0)
        _expect_amount(b.page, "#balance-USD-available", 992)
        _expect_amount(b.page, "#balance-USD-held", 0)
        # Put it back so the phone sees a book.
        _place(b.page, "buy", "5.00", "1")

        # A phone: log in as B with the id and password, one column.
        phone = Watched(chromium, "phone", PHONE, device_scale_factor=2, is_mobile=True,
                        has_touch=True)
        opened.append(phone)
        phone.open(server)
        phone.page.fill("#login-user", str(user_b))
        phone.page.fill("#login-password", "bob-password-2")
        phone.page.click("#login-button")
        expect(phone.page.locator("#current-user")).to_have_text(str(user_b))
        phone.live()
        _expect_amount(phone.page, "#balance-USD-available", 987)
        _expect_amount(phone.page, "#balance-USD-held", 5)
        expect(phone.page.locator('#book-bids .book-row[data-price="5.00"]')).to_have_count(1)
        expect(phone.page.locator("#trades .trade-row")).to_have_count(1)
        width = phone.page.evaluate("() => document.documentElement.scrollWidth")
        assert width <= PHONE["width"], f"the phone page scrolls sideways ({width}px)"
        phone.shot("page-phone.png")
        phone.shot("page-phone-top.png", full_page=False)

        # Log out: the login form comes back, the account is gone.
        phone.page.click("#logout-button")
        expect(phone.page.locator("#login-button")).to_be_visible()
        expect(phone.page.locator("#balances tr")).to_have_count(0)

        for w in opened:
            assert not w.errors, f"page {w.name}: " + "; ".join(w.errors)
    finally:
        for w in opened:
            w.close()



def test_a_binance_key_made_on_the_page_signs_requests(exchange_server: str,
                                                       chromium: Browser) -> None:
    w = Watched(chromium, "keys", LAPTOP)
    try:
        w.open(exchange_server)
        user = _create_user(w, "correct horse battery")
        page = w.page
        expect(page.locator("#api-key-permissions")).to_be_disabled()  # bearer keys trade
        page.select_option("#api-key-kind", "hmac")
        page.select_option("#api-key-permissions", "read")
        page.fill("#api-key-label", "ccxt bot")
        page.click("#api-key-create")
        expect(page.locator("#api-key-new")).to_be_visible()
        shown = page.locator("#api-key-value").inner_text()
        key = re.search(r"API key: ([0-9a-f]{64})", shown)
        secret = re.search(r"Secret: ([0-9a-f]{64})", shown)
        assert key and secret, shown
        expect(page.locator(f'#api-keys li[data-key-id="{key[1]}"]')).to_contain_text(
            "hmac, read only")
        query = f"timestamp={int(time.time() * 1000)}"
        signature = hmac.new(secret[1].encode(), query.encode(), hashlib.sha256).hexdigest()
        account = httpx.get(f"{exchange_server}/api/v3/account?{query}&signature={signature}",
                            headers={"X-MBX-APIKEY": key[1]})
        assert account.status_code == 200, account.text
        assert (account.json()["uid"], account.json()["canTrade"]) == (user, False)
        page.select_option("#api-key-kind", "ed25519")
        expect(page.locator("#api-key-public")).to_be_visible()
        page.fill("#api-key-public", "not a key")
        page.click("#api-key-create")
        expect(page.locator("#api-key-error")).to_contain_text("Ed25519")
        assert w.errors == [] or all("400" in e for e in w.errors), w.errors
    finally:
        w.close()


def test_a_stop_limit_order_from_the_page_waits_then_rests_when_the_price_reaches_it(
        exchange_server: str, chromium: Browser) -> None:
    with User(exchange_server) as maker, User(exchange_server) as taker:
        maker.place(side="sell", price="10.00", quantity="0.0001")
        taker.place(side="buy", type="market", quantity="0.0001")  # the last price: 10
        w = Watched(chromium, "stop", LAPTOP)
        try:
            w.open(exchange_server)
            _create_user(w, "correct horse battery")
            page = w.page
            page.select_option("#sell-type", "stop_limit")
            expect(page.locator("#sell-stop")).to_be_visible()
            page.fill("#sell-stop", "9.50")
            _place(page, "sell", "9.00", "1")
            expect(page.locator("#sell-result")).to_contain_text("waits for a trade at 9.50")
            row = page.locator("#open-orders tr").first
            expect(row).to_contain_text("stop limit · waits for 9.50")
            expect(page.locator("#book-asks .book-row")).to_have_count(0)
            maker.place(side="sell", price="9.50", quantity="0.0001")
            taker.place(side="buy", type="market", quantity="0.0001")  # reaches the stop
            expect(page.locator('#book-asks .book-row[data-price="9.00"]')).to_have_count(1)
            expect(row).not_to_contain_text("waits")
            assert w.errors == [], w.errors
        finally:
            w.close()



def test_a_ccxt_bot_a_python_binance_bot_and_a_page_user_trade_and_agree(
        exchange_server: str, chromium: Browser) -> None:


    with Bot(exchange_server) as ccxt_key, Bot(exchange_server) as binance_key:
        w = Watched(chromium, "bots", LAPTOP)
        try:
            w.open(exchange_server)
            _create_user(w, "correct horse battery")
            page = w.page
            _place(page, "sell", "10.00", "2")  # the page user asks 2 at 10
            bot = ccxt.binance(options(exchange_server, ccxt_key))
            bot.create_order(MARKET, "limit", "buy", 1, 10)  # ccxt takes 1 from the page
            [bought, asked] = python_binance(exchange_server, binance_key, [
                ["order_market_buy", {"symbol": "COINUSD", "quantity": "0.5"}],
                ["order_limit_sell", {"symbol": "COINUSD", "quantity": "3", "price": "11"}]])
            assert bought["status"] == "FILLED" and asked["status"] == "NEW"
            bot.create_order(MARKET, "market", "buy", 2)  # 0.5 from the page, 1.5 from it
            # Every side sees the same fills. The page sold 1 and 0.5 to ccxt and 0.5 to
            # python-binance at 10; python-binance sold 1.5 of its 3 at 11 to ccxt.
            [account] = python_binance(exchange_server, binance_key, [["get_account", {}]])
            coin = next(b for b in account["balances"] if b["asset"] == "COIN")
            assert (coin["free"], coin["locked"]) == ("97.50000000", "1.50000000")
            balance = bot.fetch_balance()
            assert (balance["COIN"]["total"], balance["USD"]["total"]) == (103.0, 968.5)
            _expect_amount(page, "#balance-COIN-available", 98)
            _expect_amount(page, "#balance-COIN-held", 0)
            _expect_amount(page, "#balance-USD-available", 1020)
            expect(page.locator("#fills tr")).to_have_count(3)
            assert [t["amount"] for t in bot.fetch_my_trades(MARKET)] == [1.0, 0.5, 1.5]
            assert w.errors == [], w.errors
        finally:
            w.close()
