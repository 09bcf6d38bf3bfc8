// The price chart: candles, volume, and the rolling volume-weighted average buy and sell
// prices, drawn with the vendored TradingView lightweight-charts (window.LightweightCharts).
// Candle values are decimal strings; they become floats here, for drawing only.

import { el } from "./dom.js";

const UP = "#22c38e";
const DOWN = "#f0616d";
const BUY_LINE = "#4cc9f0";
const SELL_LINE = "#f5a524";

const pad = (n) => String(n).padStart(2, "0");

function localTime(seconds, withDate) {
  const d = new Date(seconds * 1000);
  const hm = `${pad(d.getHours())}:${pad(d.getMinutes())}`;
  if (!withDate) return hm;
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${hm}`;
}

/**
 * For each candle t: Σ buy_quote / Σ buy_volume (and the same for sells) over the `window`
 * candles ending at t. Where a sum of volume is zero the point is left blank.
 */
export function rollingAverages(candles, window) {
  const buy = [];
  const sell = [];
  for (let i = 0; i < candles.length; i += 1) {
    let bq = 0;
    let bv = 0;
    let sq = 0;
    let sv = 0;
    for (let j = Math.max(0, i - window + 1); j <= i; j += 1) {
      const c = candles[j];
      bq += Number(c.buy_quote || 0);
      bv += Number(c.buy_volume || 0);
      sq += Number(c.sell_quote || 0);
      sv += Number(c.sell_volume || 0);
    }
    const time = candles[i].time;
    buy.push(bv > 0 ? { time, value: bq / bv } : { time });
    sell.push(sv > 0 ? { time, value: sq / sv } : { time });
  }
  return { buy, sell };
}

export class PriceChart {
  constructor(container, legend) {
    const LC = window.LightweightCharts;
    this.legend = legend;
    this.candles = []; // server candles, oldest first
    this.window = 30;
    this.market = null;
    this.chart = LC.createChart(container, {
      autoSize: true,
      layout: {
        background: { type: "solid", color: "transparent" },
        textColor: "#8b96a8",
        fontFamily: "ui-monospace, SFMono-Regular, Menlo, Consolas, monospace",
        fontSize: 11,
        attributionLogo: true,
      },
      grid: {
        vertLines: { color: "rgba(139,150,168,0.08)" },
        horzLines: { color: "rgba(139,150,168,0.08)" },
      },
      rightPriceScale: { borderColor: "rgba(139,150,168,0.2)" },
      timeScale: {
        borderColor: "rgba(139,150,168,0.2)",
        timeVisible: true,
        secondsVisible: false,
        maxBarSpacing: 40,
        rightOffset: 4,
        tickMarkFormatter: (time, type) => {
          const d = new Date(time * 1000);
          if (type === 0) return String(d.getFullYear());
          if (type === 1) return d.toLocaleString([], { month: "short" });
          if (type === 2) return String(d.getDate());
          return localTime(time, false);
        },
      },
      localization: { timeFormatter: (time) => localTime(time, true) },
      crosshair: { mode: 0 },
    });
    this.candleSeries = this.chart.addSeries(LC.CandlestickSeries, {
      upColor: UP,
      downColor: DOWN,
      borderVisible: false,
      wickUpColor: UP,
      wickDownColor: DOWN,
    });
    this.volumeSeries = this.chart.addSeries(LC.HistogramSeries, {
      priceFormat: { type: "volume" },
      priceScaleId: "volume",
      lastValueVisible: false,
      priceLineVisible: false,
    });
    // Volume in the bottom fifth, candles above it.
    this.volumeSeries.priceScale().applyOptions({ scaleMargins: { top: 0.8, bottom: 0 } });
    this.candleSeries.priceScale().applyOptions({ scaleMargins: { top: 0.08, bottom: 0.24 } });
    const line = (color, title) =>
      this.chart.addSeries(LC.LineSeries, {
        color,
        lineWidth: 2,
        lineStyle: 2,
        title,
        priceLineVisible: false,
        lastValueVisible: true,
        crosshairMarkerVisible: false,
      });
    this.buySeries = line(BUY_LINE, "avg buy");
    this.sellSeries = line(SELL_LINE, "avg sell");
    this.chart.subscribeCrosshairMove((param) => this.showLegend(param));
  }

  setMarket(market) {
    this.market = market;
    const priceFormat = {
      type: "price",
      precision: market.price_decimals,
      minMove: Number(market.tick_size),
    };
    this.candleSeries.applyOptions({ priceFormat });
    this.buySeries.applyOptions({ priceFormat });
    this.sellSeries.applyOptions({ priceFormat });
    this.setCandles([]);
  }

  setWindow(n) {
    this.window = n;
    this.drawAverages();
    this.showLegend(null);
  }

  toBar(c) {
    return { time: c.time, open: Number(c.open), high: Number(c.high), low: Number(c.low), close: Number(c.close) };
  }

  toVolume(c) {
    const up = Number(c.close) >= Number(c.open);
    return { time: c.time, value: Number(c.volume), color: up ? "rgba(34,195,142,0.45)" : "rgba(240,97,109,0.45)" };
  }

  setCandles(list) {
    this.candles = [...list].sort((a, b) => a.time - b.time);
    this.candleSeries.setData(this.candles.map((c) => this.toBar(c)));
    this.volumeSeries.setData(this.candles.map((c) => this.toVolume(c)));
    this.drawAverages();
    this.fit();
    this.showLegend(null);
  }

  /** One changed candle from the live channel: replace it, or add it at the end. */
  upsert(candle) {
    const last = this.candles[this.candles.length - 1];
    if (last && candle.time < last.time) {
      const i = this.candles.findIndex((c) => c.time === candle.time);
      if (i >= 0) this.candles[i] = candle;
      else this.candles.push(candle);
      this.setCandles(this.candles);
      return;
    }
    if (last && candle.time === last.time) this.candles[this.candles.length - 1] = candle;
    else this.candles.push(candle);
    this.candleSeries.update(this.toBar(candle));
    this.volumeSeries.update(this.toVolume(candle));
    this.drawAverages();
    if (this.candles.length <= 2) this.fit();
    this.showLegend(null);
  }

  drawAverages() {
    const { buy, sell } = rollingAverages(this.candles, this.window);
    this.buySeries.setData(buy);
    this.sellSeries.setData(sell);
    this.averages = { buy, sell };
  }

  fit() {
    const n = this.candles.length;
    const ts = this.chart.timeScale();
    if (n === 0) return;
    if (n < 80) ts.fitContent();
    else ts.setVisibleLogicalRange({ from: n - 80, to: n + 4 });
  }

  showLegend(param) {
    if (!this.legend) return;
    let c = null;
    let i = -1;
    if (param && param.time !== undefined) {
      i = this.candles.findIndex((x) => x.time === param.time);
    } else {
      i = this.candles.length - 1;
    }
    if (i >= 0) c = this.candles[i];
    if (!c) {
      this.legend.replaceChildren(el("span", { class: "dim" }, "No trades in this market yet."));
      return;
    }
    const avg = (arr) => (arr && arr[i] && arr[i].value !== undefined ? arr[i].value : null);
    const d = this.market ? this.market.price_decimals : 2;
    const fmt = (v) => (v === null ? "–" : v.toFixed(d));
    const item = (label, value, cls) =>
      el("span", { class: "legend-item" }, el("span", { class: "dim" }, label + " "), el("span", { class: "num " + (cls || "") }, value));
    const up = Number(c.close) >= Number(c.open);
    this.legend.replaceChildren(
      item("O", c.open, up ? "up" : "down"),
      item("H", c.high, up ? "up" : "down"),
      item("L", c.low, up ? "up" : "down"),
      item("C", c.close, up ? "up" : "down"),
      item("Vol", c.volume),
      item("avg buy", fmt(avg(this.averages && this.averages.buy)), "avg-buy"),
      item("avg sell", fmt(avg(this.averages && this.averages.sell)), "avg-sell"),
    );
  }

  /** For tests and debugging: what the chart is drawing. */
  debug() {
    return {
      candles: this.candles.slice(),
      bars: this.candleSeries.data(),
      volume: this.volumeSeries.data(),
      avgBuy: this.averages.buy, // one point per candle; {time} alone where no volume
      avgSell: this.averages.sell,
      avgBuyDrawn: this.buySeries.data(),
      avgSellDrawn: this.sellSeries.data(),
      window: this.window,
    };
  }
}
