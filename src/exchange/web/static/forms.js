// The buy and sell forms: checked against the market's tick and lot before sending, with
// the total shown as you type and the server's refusal shown next to the form.

import * as dec from "./dec.js";
import { $ } from "./dom.js";

/** Walk the book for a market order of `amount`: {quote, filled} (decimal strings). */
function walk(levels, amount) {
  let left = amount;
  let quote = "0";
  let filled = "0";
  for (const [price, qty] of levels) {
    if (dec.isZero(left) || left.startsWith("-")) break;
    const take = dec.cmp(qty, left) < 0 ? qty : left;
    quote = dec.add(quote, dec.mul(price, take));
    filled = dec.add(filled, take);
    left = dec.sub(left, take);
  }
  return { quote, filled, complete: dec.cmp(filled, amount) >= 0 };
}

export class OrderForm {
  /**
   * @param {"buy"|"sell"} side
   * @param {object} ctx {market(): object, book: Book, account: Account, place(order): Promise<object>}
   */
  constructor(side, ctx) {
    this.side = side;
    this.ctx = ctx;
    this.form = $(`#${side}-form`);
    this.type = $(`#${side}-type`);
    this.tif = $(`#${side}-tif`);
    this.price = $(`#${side}-price`);
    this.stop = $(`#${side}-stop`);
    this.stopField = this.form.querySelector(".stop-field");
    this.amount = $(`#${side}-amount`);
    this.total = $(`#${side}-total`);
    this.button = $(`#${side}-button`);
    this.error = $(`#${side}-error`);
    this.result = $(`#${side}-result`);
    this.busy = false;
    this.form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      this.submit();
    });
    for (const input of [this.stop, this.price, this.amount]) {
      input.addEventListener("input", () => {
        input.classList.remove("invalid");
        this.error.textContent = "";
        this.update();
      });
    }
    this.type.addEventListener("change", () => this.onType());
    this.tif.addEventListener("change", () => this.update());
    this.onType();
  }

  setMarket(m) {
    this.price.placeholder = dec.fixed("0", m.price_decimals);
    this.amount.placeholder = dec.fixed("0", m.quantity_decimals);
    this.error.textContent = "";
    this.result.textContent = "";
    this.update();
  }

  setPrice(price) {
    if (this.type.value === "market") return;
    this.price.value = price;
    this.price.classList.remove("invalid");
    this.update();
  }

  onType() {
    const market = this.type.value === "market";
    this.price.disabled = market;
    this.tif.disabled = market;
    this.form.classList.toggle("is-market", market);
    if (market) this.price.value = "";
    this.stopField.hidden = this.type.value !== "stop_limit";
    if (this.stopField.hidden) this.stop.value = "";
    this.error.textContent = "";
    this.update();
  }

  /** Recompute the total line: price x amount, or an estimate from the book for market orders. */
  update() {
    const m = this.ctx.market();
    if (!m) return;
    const amount = this.amount.value.trim();
    const quote = m.quote;
    this.total.classList.remove("warn");
    if (!dec.parse(amount) || dec.isZero(amount)) {
      this.total.textContent = "–";
      return;
    }
    let cost;
    let prefix = "";
    if (this.type.value === "market") {
      const levels = this.ctx.book.sorted(this.side === "buy" ? "ask" : "bid");
      const w = walk(levels, amount);
      if (dec.isZero(w.filled)) {
        this.total.textContent = "no liquidity";
        this.total.classList.add("warn");
        return;
      }
      cost = dec.round(w.quote, 2);
      prefix = w.complete ? "≈ " : `≈ (only ${dec.fixed(w.filled, 0)} in book) `;
    } else {
      const price = this.price.value.trim();
      if (!dec.parse(price) || dec.isZero(price)) {
        this.total.textContent = "–";
        return;
      }
      cost = dec.mul(price, amount);
    }
    this.total.textContent = `${prefix}${dec.group(dec.fixed(cost, 2))} ${quote}`;
    // A gentle warning before the server says no.
    const have = this.ctx.account.available(this.side === "buy" ? m.quote : m.base);
    const need = this.side === "buy" ? cost : amount;
    if (have !== null && dec.cmp(need, have) > 0) {
      this.total.classList.add("warn");
      this.total.title = `More than your available ${this.side === "buy" ? m.quote : m.base}`;
    } else {
      this.total.title = "";
    }
  }

  /** Check the inputs; returns the order body or null (after showing why). */
  build() {
    const m = this.ctx.market();
    if (!m) return null;
    const isMarket = this.type.value === "market";
    const isStop = this.type.value === "stop_limit";
    const problems = [];
    const stop = this.stop.value.trim();
    if (isStop) {
      const bad = dec.check(stop, { name: "stop", decimals: m.price_decimals, step: m.tick_size, max: m.max_price });
      this.stop.classList.toggle("invalid", !!bad);
      if (bad) problems.push(bad);
      if (this.tif.value === "post_only") problems.push("A stop order cannot be post only.");
    }
    const price = this.price.value.trim();
    const amount = this.amount.value.trim();
    if (!isMarket) {
      const bad = dec.check(price, {
        name: "price",
        decimals: m.price_decimals,
        step: m.tick_size,
        max: m.max_price,
      });
      this.price.classList.toggle("invalid", !!bad);
      if (bad) problems.push(bad);
    }
    const badQty = dec.check(amount, {
      name: "amount",
      decimals: m.quantity_decimals,
      step: m.lot_size,
      min: m.min_quantity,
      max: m.max_quantity,
    });
    this.amount.classList.toggle("invalid", !!badQty);
    if (badQty) problems.push(badQty);
    if (problems.length) {
      this.error.textContent = problems.join(" ");
      return null;
    }
    const order = { market: m.symbol, side: this.side, type: isMarket ? "market" : "limit", quantity: amount };
    if (!isMarket) {
      order.price = price;
      order.time_in_force = this.tif.value;
    }
    if (isStop) {
      // Which way the price must move is where the stop lies from the last trade: a buy
      // stop above it guards a short (stop loss), below it buys a dip (take profit).
      const last = this.ctx.lastPrice();
      const above = last === null || dec.cmp(stop, last) >= 0;
      order.stop_price = stop;
      order.trigger = (this.side === "buy") === above ? "stop_loss" : "take_profit";
    }
    return order;
  }

  async submit() {
    if (this.busy) return;
    this.error.textContent = "";
    this.result.textContent = "";
    const order = this.build();
    if (!order) return;
    this.busy = true;
    this.button.disabled = true;
    const label = this.button.textContent;
    this.button.textContent = this.side === "buy" ? "Buying…" : "Selling…";
    try {
      const placed = await this.ctx.place(order);
      this.result.textContent = describe(placed, this.ctx.market());
      // The order lives on in the tables; the note about it fades after a while.
      clearTimeout(this.resultTimer);
      this.resultTimer = setTimeout(() => (this.result.textContent = ""), 8000);
      if (placed && placed.status === "rejected") {
        this.error.textContent = `Rejected: ${String(placed.reason || "refused").replace(/_/g, " ")}.`;
        this.result.textContent = "";
      }
    } catch (err) {
      this.error.textContent = err.message || String(err);
      if (err.field === "price") this.price.classList.add("invalid");
      if (err.field === "stop_price") this.stop.classList.add("invalid");
      if (err.field === "quantity") this.amount.classList.add("invalid");
    } finally {
      this.busy = false;
      this.button.disabled = false;
      this.button.textContent = label;
    }
  }
}

function describe(o, m) {
  if (!o) return "";
  const qd = m ? m.quantity_decimals : 4;
  const filled = dec.fixed(o.filled || "0", qd);
  const qty = o.quantity ? dec.fixed(o.quantity, qd) : "";
  const avg = o.average_price ? ` at ${o.average_price} avg` : "";
  switch (o.status) {
    case "filled":
      return `Order ${o.order_id} filled: ${filled}${avg}.`;
    case "partially_filled":
      return `Order ${o.order_id}: ${filled} of ${qty} filled${avg}, the rest is in the book.`;
    case "new":
      return o.waiting
        ? `Order ${o.order_id} waits for a trade at ${o.stop_price}.`
        : `Order ${o.order_id} is in the book.`;
    case "cancelled":
      return dec.isZero(o.filled || "0")
        ? `Order ${o.order_id} did not fill and was cancelled (${String(o.reason || o.time_in_force).replace(/_/g, " ")}).`
        : `Order ${o.order_id}: ${filled} filled${avg}, the rest cancelled.`;
    default:
      return `Order ${o.order_id}: ${o.status}.`;
  }
}
