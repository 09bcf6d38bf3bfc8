// The page: wires the market data (book, tape, chart, ticker), the account and the forms to
// the REST API and the WebSocket, and keeps them live.

import { api, maybeLoggedIn } from "./api.js";
import { Account } from "./account.js";
import { Book } from "./book.js";
import { PriceChart } from "./chart.js";
import * as dec from "./dec.js";
import { $, $$, el, text } from "./dom.js";
import { OrderForm } from "./forms.js";
import { KeysPanel } from "./keys.js";
import { Tape, Ticker, feeNote } from "./market.js";
import { Socket } from "./ws.js";

const STORE_MARKET = "exchange.market";
const STORE_INTERVAL = "exchange.interval";
const STORE_WINDOW = "exchange.avgWindow";

const state = {
  markets: [],
  market: null, // the selected market's description
  interval: "1m",
  user: null,
  candlesFromSocket: false,
  tickerFromSocket: false,
};

const marketOf = (symbol) => state.markets.find((m) => m.symbol === symbol);

// ---- small helpers ---------------------------------------------------------------------------

function toast(message, kind = "info") {
  const node = el("div", { class: "toast " + kind, role: kind === "error" ? "alert" : "status" }, message);
  $("#toasts").append(node);
  setTimeout(() => node.classList.add("gone"), 4000);
  setTimeout(() => node.remove(), 4600);
}

function store(key, value) {
  try {
    localStorage.setItem(key, value);
  } catch {
    /* private mode */
  }
}

function stored(key) {
  try {
    return localStorage.getItem(key);
  } catch {
    return null;
  }
}

// ---- the pieces ------------------------------------------------------------------------------

const book = new Book({
  asks: $("#book-asks"),
  bids: $("#book-bids"),
  spread: $("#book-mid"),
  onPick: (price) => {
    const p = dec.fixed(price, state.market.price_decimals);
    buyForm.setPrice(p);
    sellForm.setPrice(p);
  },
});

const account = new Account({
  market: marketOf,
  assets: () => {
    const list = [];
    if (state.market) list.push(state.market.quote, state.market.base);
    for (const m of state.markets) for (const a of [m.quote, m.base]) if (!list.includes(a)) list.push(a);
    return list;
  },
  onCancel: cancelOrder,
});

const chart = new PriceChart($("#chart"), $("#chart-legend"));
const tape = new Tape();
const ticker = new Ticker();

const ctx = {
  market: () => state.market,
  book,
  account,
  place: placeOrder,
  lastPrice: () => ticker.last,
};
const buyForm = new OrderForm("buy", ctx);
const sellForm = new OrderForm("sell", ctx);

const keys = new KeysPanel({ onUnauthenticated: () => loggedOut(true), toast });

let opened = 0;
const socket = new Socket(onMessage, onSocketState, () => {
  // After a reconnect every snapshot comes again, but the REST views of the account (history,
  // fills) and the tape may have missed changes while we were away.
  opened += 1;
  if (opened === 1) return;
  if (state.user) loadAccount({ quiet: true });
  if (state.market) loadMarketData(state.market);
});

// ---- market data -----------------------------------------------------------------------------

function marketSubs(m = state.market, interval = state.interval) {
  return [
    { channel: "depth", market: m.symbol },
    { channel: "trades", market: m.symbol },
    { channel: "ticker", market: m.symbol },
    { channel: "candles", market: m.symbol, interval },
  ];
}

async function selectMarket(symbol) {
  const m = marketOf(symbol) || state.markets[0];
  if (!m) return;
  if (state.market) for (const sub of marketSubs()) socket.unsubscribe(sub);
  state.market = m;
  store(STORE_MARKET, m.symbol);
  $("#market-select").value = m.symbol;
  for (const node of $$(".base-code")) node.textContent = m.base;
  for (const node of $$(".quote-code")) node.textContent = m.quote;
  book.reset(m);
  chart.setMarket(m);
  tape.clear(m);
  ticker.clear(m);
  buyForm.setMarket(m);
  sellForm.setMarket(m);
  text("#fee-note", feeNote(m));
  account.schedule("balances");
  state.candlesFromSocket = false;
  state.tickerFromSocket = false;
  for (const sub of marketSubs()) socket.subscribe(sub);
  loadMarketData(m);
}

async function loadMarketData(m) {
  const interval = state.interval;
  const [trades, stats, candles] = await Promise.allSettled([
    api.trades(m.symbol, 80),
    api.ticker(m.symbol),
    api.candles(m.symbol, interval, 1000),
  ]);
  if (state.market !== m) return;
  if (trades.status === "fulfilled") tape.add(trades.value || [], false);
  if (stats.status === "fulfilled" && !state.tickerFromSocket) ticker.render(stats.value);
  if (candles.status === "fulfilled" && state.interval === interval && !state.candlesFromSocket) {
    chart.setCandles(candles.value || []);
  }
  const failed = [trades, stats, candles].find((r) => r.status === "rejected");
  if (failed) toast(`Could not load market data: ${failed.reason.message}`, "error");
}

function selectInterval(interval) {
  if (interval === state.interval) return;
  socket.unsubscribe({ channel: "candles", market: state.market.symbol, interval: state.interval });
  state.interval = interval;
  store(STORE_INTERVAL, interval);
  for (const b of $$("#interval-group button")) b.classList.toggle("active", b.dataset.interval === interval);
  chart.setCandles([]);
  state.candlesFromSocket = false;
  socket.subscribe({ channel: "candles", market: state.market.symbol, interval });
  const m = state.market;
  api
    .candles(m.symbol, interval, 1000)
    .then((list) => {
      if (state.market === m && state.interval === interval && !state.candlesFromSocket) chart.setCandles(list || []);
    })
    .catch((err) => toast(`Could not load candles: ${err.message}`, "error"));
}

// ---- the socket ------------------------------------------------------------------------------

function onSocketState(s, detail) {
  const node = $("#ws-status");
  node.dataset.state = s;
  node.textContent = s === "offline" ? `offline, ${detail}` : s;
  if (s !== "live") {
    state.candlesFromSocket = false;
    state.tickerFromSocket = false;
    book.reset(state.market);
  }
}

function onMessage(msg) {
  const m = state.market;
  switch (msg.type) {
    case "depth":
      if (!m || msg.market !== m.symbol) return;
      if (msg.snapshot) {
        book.snapshot(msg);
      } else if (!book.delta(msg)) {
        // A gap: forget the book and ask for a fresh snapshot.
        book.reset(m);
        socket.resubscribe({ channel: "depth", market: m.symbol });
      }
      text("#book-version", book.version === null ? "" : `v${book.version}`);
      buyForm.update();
      sellForm.update();
      return;
    case "trades":
      if (m && msg.market === m.symbol) tape.add(msg.trades || [], true);
      return;
    case "ticker":
      if (m && msg.market === m.symbol) {
        state.tickerFromSocket = true;
        ticker.render(msg);
      }
      return;
    case "candles":
      if (m && msg.market === m.symbol && msg.interval === state.interval) {
        state.candlesFromSocket = true;
        chart.setCandles(msg.candles || []);
      }
      return;
    case "candle":
      if (m && msg.market === m.symbol && msg.interval === state.interval && msg.candle) chart.upsert(msg.candle);
      return;
    case "balances":
      if (state.user) account.setBalances(msg.balances);
      return;
    case "orders":
      if (state.user) account.setOpen(msg.orders);
      return;
    case "order":
      if (state.user) account.applyOrder(msg.order);
      return;
    case "fill":
      if (state.user && msg.fill) account.addFill(msg.fill);
      return;
    case "error": {
      const err = msg.error || {};
      if (err.code === "unauthenticated" && state.user) {
        // The socket does not know our session (it expired?): check it over REST.
        api.session().catch(() => loggedOut(true));
        return;
      }
      toast(err.message || "The exchange reported an error.", "error");
      return;
    }
    default:
      return; // subscribed, unsubscribed, pong, authenticated, placed, cancelled
  }
}

// ---- the account -----------------------------------------------------------------------------

function showUser() {
  const on = state.user !== null;
  document.body.classList.toggle("logged-in", on);
  document.body.classList.toggle("logged-out", !on);
  text("#current-user", on ? String(state.user) : "");
}

async function loadAccount({ quiet = false } = {}) {
  const results = await Promise.allSettled([api.balances(), api.openOrders(), api.history(100), api.fills(100)]);
  if (!state.user) return;
  const [balances, open, history, fills] = results;
  if (results.some((r) => r.status === "rejected" && r.reason.status === 401)) {
    loggedOut(true);
    return;
  }
  if (balances.status === "fulfilled") account.setBalances(balances.value);
  if (history.status === "fulfilled") account.setHistory(history.value);
  if (open.status === "fulfilled") account.setOpen(open.value);
  if (fills.status === "fulfilled") account.setFills(fills.value);
  const failed = results.find((r) => r.status === "rejected");
  if (failed && !quiet) toast(`Could not load your account: ${failed.reason.message}`, "error");
}

function loggedIn(userId) {
  state.user = userId;
  account.clear();
  keys.clear();
  showUser();
  socket.remember({ channel: "account" });
  socket.restart(); // the socket reads the session cookie when it opens
  loadAccount();
  keys.load();
}

function loggedOut(expired = false) {
  if (state.user === null) return;
  state.user = null;
  account.clear();
  keys.clear();
  $("#new-user-notice").hidden = true;
  showUser();
  socket.unsubscribe({ channel: "account" });
  socket.restart();
  if (expired) toast("Your session ended. Please log in again.", "error");
}

async function login() {
  const error = $("#login-error");
  error.textContent = "";
  const idText = $("#login-user").value.trim();
  const password = $("#login-password").value;
  if (!/^\d+$/.test(idText)) {
    error.textContent = "Enter your user id (a number).";
    return;
  }
  if (!password) {
    error.textContent = "Enter your password.";
    return;
  }
  await busy($("#login-button"), async () => {
    try {
      const res = await api.login(Number(idText), password);
      $("#login-password").value = "";
      loggedIn(res.user_id);
    } catch (err) {
      error.textContent = err.status === 401 ? "Wrong user id or password." : err.message;
    }
  });
}

async function createUser() {
  const error = $("#login-error");
  error.textContent = "";
  const password = $("#login-password").value;
  if (password.length < 8 || password.length > 128) {
    error.textContent = "Choose a password of 8 to 128 characters, then press Create new user.";
    $("#login-password").focus();
    return;
  }
  await busy($("#create-user-button"), async () => {
    try {
      const res = await api.createUser(password);
      $("#login-password").value = "";
      $("#login-user").value = String(res.user_id);
      text("#new-user-id", String(res.user_id));
      $("#new-user-notice").hidden = false;
      loggedIn(res.user_id);
    } catch (err) {
      error.textContent = err.message;
    }
  });
}

async function logout() {
  try {
    await api.logout();
  } catch (err) {
    if (err.status !== 401) {
      toast(`Could not log out: ${err.message}`, "error");
      return;
    }
  }
  loggedOut(false);
}

async function busy(button, fn) {
  button.disabled = true;
  try {
    await fn();
  } finally {
    button.disabled = false;
  }
}

async function placeOrder(order) {
  try {
    const placed = await api.place(order);
    account.applyOrder(placed);
    refreshBalances();
    return placed;
  } catch (err) {
    if (err.status === 401) loggedOut(true);
    throw err;
  }
}

async function cancelOrder(order, button) {
  button.disabled = true;
  button.textContent = "…";
  try {
    const cancelled = await api.cancel(order.order_id);
    account.applyOrder(cancelled);
    refreshBalances();
  } catch (err) {
    button.disabled = false;
    button.textContent = "Cancel";
    if (err.status === 401) loggedOut(true);
    else toast(`Could not cancel order ${order.order_id}: ${err.message}`, "error");
    // It may have filled meanwhile: ask for the truth.
    loadAccount({ quiet: true });
  }
}

async function cancelAll() {
  const button = $("#cancel-all-button");
  await busy(button, async () => {
    try {
      const res = await api.cancelAll();
      const n = res && res.cancelled ? res.cancelled.length : 0;
      toast(n ? `Cancelled ${n} order${n === 1 ? "" : "s"}.` : "No open orders to cancel.");
    } catch (err) {
      if (err.status === 401) loggedOut(true);
      else toast(`Could not cancel: ${err.message}`, "error");
    }
    await loadAccount({ quiet: true });
  });
}

let balanceTimer = 0;
function refreshBalances() {
  // The account channel pushes balances; this covers a socket that is down or slow.
  clearTimeout(balanceTimer);
  balanceTimer = setTimeout(async () => {
    if (!state.user) return;
    try {
      account.setBalances(await api.balances());
    } catch (err) {
      if (err.status === 401) loggedOut(true);
    }
  }, socket.live ? 400 : 0);
}

// ---- wiring ----------------------------------------------------------------------------------

function wire() {
  $("#login-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    login();
  });
  $("#create-user-button").addEventListener("click", createUser);
  $("#logout-button").addEventListener("click", logout);
  $("#new-user-dismiss").addEventListener("click", () => ($("#new-user-notice").hidden = true));
  $("#cancel-all-button").addEventListener("click", cancelAll);
  $("#market-select").addEventListener("change", (ev) => selectMarket(ev.target.value));
  for (const b of $$("#interval-group button")) b.addEventListener("click", () => selectInterval(b.dataset.interval));
  $("#avg-window").addEventListener("change", (ev) => {
    store(STORE_WINDOW, ev.target.value);
    chart.setWindow(Number(ev.target.value));
  });
  for (const tab of $$(".tabs .tab")) {
    tab.addEventListener("click", () => {
      for (const t of $$(".tabs .tab")) {
        t.classList.toggle("active", t === tab);
        t.setAttribute("aria-selected", t === tab ? "true" : "false");
      }
      for (const body of $$("[data-tab-body]")) body.hidden = body.dataset.tabBody !== tab.dataset.tab;
    });
  }
  document.addEventListener("balances-changed", () => {
    buyForm.update();
    sellForm.update();
  });
}

async function start() {
  wire();
  const savedWindow = stored(STORE_WINDOW);
  if (savedWindow && ["10", "30", "100"].includes(savedWindow)) {
    $("#avg-window").value = savedWindow;
    chart.setWindow(Number(savedWindow));
  }
  const savedInterval = stored(STORE_INTERVAL);
  if (savedInterval && ["1m", "5m", "1h", "1d"].includes(savedInterval)) {
    state.interval = savedInterval;
    for (const b of $$("#interval-group button")) b.classList.toggle("active", b.dataset.interval === savedInterval);
  }

  // Who am I? Without a csrf cookie there is no session: skip the call (and its 401).
  const session = maybeLoggedIn() ? api.session().catch(() => null) : Promise.resolve(null);

  let markets = [];
  for (let attempt = 0; ; attempt += 1) {
    try {
      markets = (await api.markets()) || [];
      break;
    } catch (err) {
      onSocketState("offline", "cannot load the markets");
      await new Promise((r) => setTimeout(r, Math.min(10000, 500 * 2 ** attempt)));
    }
  }
  state.markets = markets;
  $("#market-select").replaceChildren(...markets.map((m) => el("option", { value: m.symbol }, m.symbol)));

  const me = await session;
  if (me && me.user_id !== undefined) {
    state.user = me.user_id;
    socket.remember({ channel: "account" });
    showUser();
    loadAccount();
    keys.load();
  } else {
    showUser();
  }
  await selectMarket(stored(STORE_MARKET) || (markets[0] && markets[0].symbol));
  socket.start();
}

// A hook for tests and for poking around in the console.
window.__exchange = {
  state,
  book,
  account,
  chart,
  tape,
  ticker,
  socket,
  candles: () => chart.debug().candles,
  chartData: () => chart.debug(),
};

start();
