// My account: balances, open orders, order history and fills, kept from REST loads and the
// account channel (`balances`, `orders`, `order`, `fill`), and drawn into their tables.

import * as dec from "./dec.js";
import { $, el, clock, stamp } from "./dom.js";

const OPEN = new Set(["new", "partially_filled"]);
const RANK = { new: 0, partially_filled: 1, filled: 2, cancelled: 2, rejected: 2 };
const STATUS_TEXT = {
  new: "open",
  partially_filled: "partly filled",
  filled: "filled",
  cancelled: "cancelled",
  rejected: "rejected",
};
const HISTORY_MAX = 200;
const FILLS_MAX = 200;

/** True if order `a` is an older picture of the same order than `b`. */
function older(a, b) {
  if (a.updated !== b.updated) return a.updated < b.updated;
  const ra = RANK[a.status] ?? 0;
  const rb = RANK[b.status] ?? 0;
  if (ra !== rb) return ra < rb;
  return dec.cmp(a.filled || "0", b.filled || "0") < 0;
}

const newestFirst = (a, b) => (b.updated ?? b.time ?? 0) - (a.updated ?? a.time ?? 0) || (b.order_id ?? 0) - (a.order_id ?? 0);

export class Account {
  /**
   * @param {object} o
   * @param {(symbol: string) => object|undefined} o.market the market's description
   * @param {() => string[]} o.assets assets to always list, in order
   * @param {(order: object, button: HTMLButtonElement) => void} o.onCancel
   */
  constructor({ market, assets, onCancel }) {
    this.market = market;
    this.assets = assets;
    this.onCancel = onCancel;
    this.frames = new Map();
    this.clear();
  }

  clear() {
    this.balances = new Map();
    this.open = new Map();
    this.history = [];
    this.fills = [];
    this.fillKeys = new Set();
    for (const what of ["balances", "open", "history", "fills"]) this.schedule(what);
  }

  schedule(what) {
    if (this.frames.has(what)) return;
    this.frames.set(
      what,
      requestAnimationFrame(() => {
        this.frames.delete(what);
        this["render_" + what]();
      }),
    );
  }

  // ---- state -------------------------------------------------------------------------------

  setBalances(list) {
    this.balances = new Map((list || []).map((b) => [b.asset, b]));
    this.schedule("balances");
  }

  available(asset) {
    const b = this.balances.get(asset);
    return b ? b.available : null;
  }

  setOpen(list) {
    const next = new Map();
    const closed = new Set(this.history.map((h) => h.order_id));
    for (const o of list || []) {
      if (closed.has(o.order_id)) continue; // we already saw it end: a closed order stays closed
      const known = this.open.get(o.order_id);
      next.set(o.order_id, known && older(o, known) ? known : o);
    }
    this.open = next;
    this.schedule("open");
  }

  setHistory(list) {
    // Keep anything newer we already heard live.
    const byId = new Map(this.history.map((o) => [o.order_id, o]));
    for (const o of list || []) {
      const known = byId.get(o.order_id);
      if (!known || older(known, o)) byId.set(o.order_id, o);
    }
    this.history = [...byId.values()].sort(newestFirst).slice(0, HISTORY_MAX);
    for (const o of this.history) this.open.delete(o.order_id);
    this.schedule("history");
    this.schedule("open");
  }

  /** One order changed (a live `order` message or the answer to a place or cancel). */
  applyOrder(o) {
    if (!o || o.order_id === undefined) return;
    const known = this.open.get(o.order_id) || this.history.find((h) => h.order_id === o.order_id);
    if (known && older(o, known)) return;
    if (OPEN.has(o.status)) {
      this.open.set(o.order_id, o);
      this.history = this.history.filter((h) => h.order_id !== o.order_id);
    } else {
      this.open.delete(o.order_id);
      this.history = [o, ...this.history.filter((h) => h.order_id !== o.order_id)].sort(newestFirst).slice(0, HISTORY_MAX);
    }
    this.schedule("open");
    this.schedule("history");
  }

  setFills(list) {
    for (const f of list || []) this.addFill(f);
    this.schedule("fills");
  }

  addFill(f) {
    const key = `${f.trade_id}:${f.order_id}`;
    if (this.fillKeys.has(key)) return;
    this.fillKeys.add(key);
    this.fills.push(f);
    this.fills.sort((a, b) => b.time - a.time || b.trade_id - a.trade_id);
    if (this.fills.length > FILLS_MAX) {
      for (const old of this.fills.splice(FILLS_MAX)) this.fillKeys.delete(`${old.trade_id}:${old.order_id}`);
    }
    this.schedule("fills");
  }

  // ---- drawing -----------------------------------------------------------------------------

  pd(symbol) {
    const m = this.market(symbol);
    return m ? m.price_decimals : 2;
  }

  qd(symbol) {
    const m = this.market(symbol);
    return m ? m.quantity_decimals : 4;
  }

  render_balances() {
    const body = $("#balances");
    const order = [...this.assets()];
    for (const a of [...this.balances.keys()].sort()) if (!order.includes(a)) order.push(a);
    const shown = order.filter((a) => this.balances.has(a));
    // One number of decimals for the whole table, so the decimal points line up: as many
    // as the most precise amount needs (at least 2).
    let places = 2;
    for (const a of shown) {
      const b = this.balances.get(a);
      for (const v of [b.available, b.held]) places = Math.max(places, dec.places(dec.fixed(v, 0)));
    }
    const rows = shown.map((asset) => {
      const b = this.balances.get(asset);
      return el(
        "tr",
        { "data-asset": asset },
        el("td", { class: "asset" }, asset),
        el("td", { class: "num r", id: `balance-${asset}-available` }, dec.group(dec.fixed(b.available, places))),
        el("td", { class: "num r dim-held", id: `balance-${asset}-held` }, dec.group(dec.fixed(b.held, places))),
      );
    });
    body.replaceChildren(...rows);
    document.dispatchEvent(new CustomEvent("balances-changed"));
  }

  sideCell(side) {
    return el("td", { class: "side-" + side }, side === "buy" ? "Buy" : "Sell");
  }

  typeText(o) {
    let text = o.type === "market" ? "market" : "limit";
    if (o.type !== "market" && o.time_in_force && o.time_in_force !== "gtc") text += ` ${o.time_in_force.replace("_", " ")}`;
    if (!o.trigger) return text;
    const kind = o.trigger === "take_profit" ? "take profit" : "stop";
    return o.waiting ? `${kind} ${text} · waits for ${o.stop_price}` : `${kind} ${text}`;
  }

  render_open() {
    const body = $("#open-orders");
    const list = [...this.open.values()].sort((a, b) => b.created - a.created || b.order_id - a.order_id);
    const rows = list.map((o) => {
      const pd = this.pd(o.market);
      const qd = this.qd(o.market);
      const cancel = el("button", { type: "button", class: "cancel", title: "Cancel this order", "aria-label": `Cancel order ${o.order_id}` }, "Cancel");
      cancel.addEventListener("click", () => this.onCancel(o, cancel));
      return el(
        "tr",
        { "data-order-id": o.order_id, title: stamp(o.created) },
        el("td", { class: "num dim opt" }, clock(o.created)),
        el("td", { class: "opt" }, o.market),
        this.sideCell(o.side),
        el("td", { class: "dim opt" }, this.typeText(o)),
        el("td", { class: "num r" }, o.price === null ? "market" : dec.fixed(o.price, pd)),
        el("td", { class: "num r" }, dec.fixed(o.quantity || "0", qd)),
        el("td", { class: "num r" }, dec.fixed(o.filled || "0", qd)),
        el("td", { class: "status" }, STATUS_TEXT[o.status] || o.status),
        el("td", { class: "r" }, cancel),
      );
    });
    body.replaceChildren(...rows);
    $("#open-empty").hidden = rows.length > 0;
    $("#open-count").textContent = rows.length ? String(rows.length) : "";
    $("#cancel-all-button").disabled = rows.length === 0;
  }

  render_history() {
    const body = $("#order-history");
    const rows = this.history.map((o) => {
      const pd = this.pd(o.market);
      const qd = this.qd(o.market);
      let status = STATUS_TEXT[o.status] || o.status;
      if (o.reason && o.reason !== "user" && o.status !== "filled") status += ` (${String(o.reason).replace(/_/g, " ")})`;
      return el(
        "tr",
        { "data-order-id": o.order_id, title: stamp(o.updated) },
        el("td", { class: "num dim" }, clock(o.updated)),
        el("td", { class: "opt" }, o.market),
        this.sideCell(o.side),
        el("td", { class: "dim opt" }, this.typeText(o)),
        el("td", { class: "num r" }, o.price === null ? "market" : dec.fixed(o.price, pd)),
        el("td", { class: "num r" }, o.quantity === null ? "–" : dec.fixed(o.quantity, qd)),
        el("td", { class: "num r" }, dec.fixed(o.filled || "0", qd)),
        el("td", { class: "num r opt" }, o.average_price === null || o.average_price === undefined ? "–" : dec.fixed(o.average_price, pd)),
        el("td", { class: "status status-" + o.status }, status),
      );
    });
    body.replaceChildren(...rows);
    $("#history-empty").hidden = rows.length > 0;
  }

  render_fills() {
    const body = $("#fills");
    const rows = this.fills.map((f) => {
      const pd = this.pd(f.market);
      const qd = this.qd(f.market);
      return el(
        "tr",
        { "data-trade-id": f.trade_id, "data-order-id": f.order_id, title: stamp(f.time) },
        el("td", { class: "num dim" }, clock(f.time)),
        el("td", { class: "opt" }, f.market),
        this.sideCell(f.side),
        el("td", { class: "num r" }, dec.fixed(f.price, pd)),
        el("td", { class: "num r" }, dec.fixed(f.quantity, qd)),
        el("td", { class: "num r" }, dec.fixed(f.quote_quantity, 2)),
        el("td", { class: "num r dim opt" }, dec.fixed(f.fee, 2)),
        el("td", { class: "dim opt" }, f.liquidity),
      );
    });
    body.replaceChildren(...rows);
    $("#fills-empty").hidden = rows.length > 0;
  }
}
