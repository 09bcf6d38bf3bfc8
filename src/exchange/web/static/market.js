// The market's public panels besides the book and chart: the trade tape and the ticker.

import * as dec from "./dec.js";
import { $, el, clock, text } from "./dom.js";

const TRADES_MAX = 80;

/** Recent trades, newest first, from a REST load and then the `trades` channel. */
export class Tape {
  constructor() {
    this.clear(null);
  }

  clear(market) {
    this.market = market;
    this.trades = [];
    this.ids = new Set();
    this.render();
  }

  /** Merge trades (any order, duplicates ignored); `live` ones flash once. */
  add(list, live) {
    let added = false;
    for (const t of list) {
      if (this.ids.has(t.trade_id)) continue;
      this.ids.add(t.trade_id);
      this.trades.push({ ...t, live });
      added = true;
    }
    if (!added) return;
    this.trades.sort((a, b) => b.trade_id - a.trade_id);
    for (const t of this.trades.splice(TRADES_MAX)) this.ids.delete(t.trade_id);
    this.render();
  }

  render() {
    const m = this.market;
    const rows = m
      ? this.trades.map((t) => {
          const node = el(
            "div",
            {
              class: `trade-row ${t.taker_side}${t.live ? " new" : ""}`,
              "data-trade-id": t.trade_id,
              "data-price": t.price,
              title: `taker ${t.taker_side}`,
            },
            el("span", { class: "num price" }, dec.fixed(t.price, m.price_decimals)),
            el("span", { class: "num" }, dec.fixed(t.quantity, m.quantity_decimals)),
            el("span", { class: "num dim" }, clock(t.time)),
          );
          t.live = false;
          return node;
        })
      : [];
    $("#trades").replaceChildren(...rows);
    $("#trades-empty").hidden = rows.length > 0;
  }
}

/** The 24 h ticker in the top bar, and the price in the tab's title. */
export class Ticker {
  constructor() {
    this.market = null;
    this.last = null;
    this.direction = "";
  }

  clear(market) {
    this.market = market;
    this.last = null;
    this.direction = "";
    this.render(null);
  }

  render(t) {
    const m = this.market;
    const pd = m ? m.price_decimals : 2;
    const show = (id, v, d) => text(id, v === null || v === undefined ? "–" : dec.group(dec.fixed(v, d)));
    show("#ticker-last", t && t.last, pd);
    show("#ticker-high", t && t.high, pd);
    show("#ticker-low", t && t.low, pd);
    show("#ticker-volume", t && t.volume, 2);

    const change = $("#ticker-change");
    change.classList.remove("up", "down");
    if (t && t.change !== null && t.change !== undefined) {
      const neg = String(t.change).startsWith("-");
      const flat = dec.isZero(String(t.change).replace("-", ""));
      const sign = neg || flat ? "" : "+";
      const pct = t.change_percent !== null && t.change_percent !== undefined ? ` (${sign}${t.change_percent}%)` : "";
      change.textContent = sign + t.change + pct;
      if (!flat) change.classList.add(neg ? "down" : "up");
    } else {
      change.textContent = "–";
    }

    // The last price is green after an uptick and red after a downtick, until it moves again.
    const last = $("#ticker-last");
    if (t && t.last) {
      if (this.last && dec.cmp(t.last, this.last) !== 0) this.direction = dec.cmp(t.last, this.last) > 0 ? "up" : "down";
      this.last = t.last;
      document.title = `${dec.fixed(t.last, pd)} ${m.symbol} · exchange`;
    } else {
      document.title = m ? `${m.symbol} · exchange` : "exchange";
    }
    last.classList.toggle("up", this.direction === "up");
    last.classList.toggle("down", this.direction === "down");
  }
}

/** "Fees on COIN-USD: maker 0.1 %, taker 0.2 % of the USD amount." */
export function feeNote(m) {
  const pct = (rate) => {
    const p = dec.mul(rate || "0", "100");
    return p === null ? "?" : dec.fixed(p, 0);
  };
  if (dec.isZero(m.maker_fee || "0") && dec.isZero(m.taker_fee || "0")) return `No trading fees on ${m.symbol}.`;
  return `Fees on ${m.symbol}: maker ${pct(m.maker_fee)} %, taker ${pct(m.taker_fee)} % of the ${m.quote} amount.`;
}
