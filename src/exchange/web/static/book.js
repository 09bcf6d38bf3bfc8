// The order book: price levels from the depth channel (snapshot, then versioned deltas),
// drawn as asks above the spread and bids below, with cumulative size and a depth bar.

import * as dec from "./dec.js";
import { el } from "./dom.js";

const ROW_HEIGHT = 20; // px, as in style.css (.book-row); the sides show as many as fit

export class Book {
  constructor({ asks, bids, spread, onPick }) {
    this.asksEl = asks;
    this.bidsEl = bids;
    this.spreadEl = spread;
    this.onPick = onPick;
    this.market = null;
    this.frame = 0;
    this.rows = 12;
    this.reset(null);
    // Show as many levels as the space allows, on every size of screen.
    new ResizeObserver(() => {
      // A side either fills a fixed height (laptop) or grows up to its max-height (phone).
      const max = parseFloat(getComputedStyle(this.bidsEl).maxHeight);
      const height = Number.isFinite(max) ? max : this.bidsEl.clientHeight;
      const fit = Math.max(5, Math.floor(height / ROW_HEIGHT));
      if (fit !== this.rows) {
        this.rows = fit;
        this.schedule();
      }
    }).observe(this.bidsEl);
  }

  /** Forget everything (new market or resubscribing): wait for the next snapshot. */
  reset(market) {
    this.market = market;
    this.version = null;
    this.bids = new Map();
    this.asks = new Map();
    this.seen = new Map(); // "side|price" -> quantity at the last draw, to flash changes
    this.schedule();
  }

  key(price) {
    return this.market ? dec.fixed(price, this.market.price_decimals) : String(price);
  }

  setLevels(side, levels, replace) {
    const map = side === "bid" ? this.bids : this.asks;
    if (replace) map.clear();
    for (const [price, qty] of levels) {
      const k = this.key(price);
      if (dec.isZero(qty)) map.delete(k);
      else map.set(k, qty);
    }
  }

  snapshot(msg) {
    this.setLevels("bid", msg.bids || [], true);
    this.setLevels("ask", msg.asks || [], true);
    this.version = msg.version;
    this.schedule();
  }

  /** Apply a delta; returns false on a gap (the caller resubscribes). */
  delta(msg) {
    if (this.version === null) return true; // still waiting for the snapshot: drop
    if (msg.prev_version !== this.version) return false;
    this.setLevels("bid", msg.bids || [], false);
    this.setLevels("ask", msg.asks || [], false);
    this.version = msg.version;
    this.schedule();
    return true;
  }

  /** Levels sorted best first: [[price, qty], ...]. */
  sorted(side) {
    const map = side === "bid" ? this.bids : this.asks;
    const scale = this.market ? this.market.price_decimals : 8;
    const rows = [...map.entries()].map(([p, q]) => [p, q, dec.toScaled(p, scale)]);
    rows.sort((a, b) => (a[2] < b[2] ? -1 : a[2] > b[2] ? 1 : 0));
    if (side === "bid") rows.reverse();
    return rows.map(([p, q]) => [p, q]);
  }

  best(side) {
    const rows = this.sorted(side);
    return rows.length ? rows[0][0] : null;
  }

  schedule() {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.render();
    });
  }

  render() {
    const m = this.market;
    const pd = m ? m.price_decimals : 2;
    const qd = m ? m.quantity_decimals : 4;
    const asks = this.sorted("ask").slice(0, this.rows);
    const bids = this.sorted("bid").slice(0, this.rows);
    const cumulate = (rows) => {
      let cum = "0";
      return rows.map(([p, q]) => {
        cum = dec.add(cum, q);
        return [p, q, cum];
      });
    };
    const askRows = cumulate(asks);
    const bidRows = cumulate(bids);
    const total = (rows) => (rows.length ? Number(rows[rows.length - 1][2]) : 0);
    const maxCum = Math.max(total(askRows), total(bidRows)) || 1;
    const seen = new Map();

    const row = (side, [price, qty, cum]) => {
      const key = side + "|" + price;
      seen.set(key, qty);
      // Flash a level that appeared or changed since the last draw (not on the first one).
      const changed = this.seen.size > 0 && this.seen.get(key) !== qty;
      const width = Math.max(1, Math.round((Number(cum) / maxCum) * 100));
      const node = el(
        "div",
        {
          class: "book-row " + side + (changed ? " flash" : ""),
          "data-price": price,
          "data-quantity": dec.fixed(qty, qd),
          title: "Use this price",
        },
        el("div", { class: "bar", style: `width:${width}%` }),
        el("span", { class: "num price" }, dec.fixed(price, pd)),
        el("span", { class: "num" }, dec.fixed(qty, qd)),
        el("span", { class: "num dim" }, dec.fixed(cum, qd)),
      );
      node.addEventListener("click", () => this.onPick && this.onPick(price, side));
      return node;
    };

    // Asks: the lowest next to the spread, so draw from the highest down.
    this.asksEl.replaceChildren(...askRows.slice().reverse().map((r) => row("ask", r)));
    this.bidsEl.replaceChildren(...bidRows.map((r) => row("bid", r)));
    this.seen = seen;

    if (this.version === null && m) {
      this.spreadEl.replaceChildren(el("span", { class: "dim" }, "Loading the book…"));
    } else if (asks.length && bids.length) {
      const spread = dec.sub(asks[0][0], bids[0][0]);
      const mid = (Number(asks[0][0]) + Number(bids[0][0])) / 2;
      const pct = mid > 0 ? ((Number(spread) / mid) * 100).toFixed(2) : "0.00";
      this.spreadEl.replaceChildren(
        el("span", { class: "dim" }, "Spread "),
        el("span", { class: "num", id: "book-spread" }, dec.fixed(spread, pd)),
        el("span", { class: "dim" }, ` (${pct}%)`),
      );
    } else {
      this.spreadEl.replaceChildren(
        el("span", { class: "dim" }, asks.length || bids.length ? "One-sided book" : "The book is empty"),
      );
    }
  }
}
