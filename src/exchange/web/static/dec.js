// Exact decimal strings for the page: parse, compare, add, multiply and format with BigInt.
// Money stays a string from the server to the screen; only the chart turns it into floats.

const PATTERN = /^(?:\d+(?:\.\d*)?|\.\d+)$/;

/** Parse "12.50" into {n: 1250n, scale: 2}, or null if it is not a plain positive decimal. */
export function parse(text) {
  const s = String(text ?? "").trim();
  if (!PATTERN.test(s)) return null;
  const [whole, frac = ""] = s.split(".");
  return { n: BigInt((whole || "0") + frac), scale: frac.length };
}

/** Number of decimals written in a decimal string ("4.250" -> 3). */
export function places(text) {
  const p = parse(text);
  return p ? p.scale : 0;
}

/** Decimals a step such as "0.0100" really needs (2). */
export function stepPlaces(step) {
  const s = String(step);
  if (!s.includes(".")) return 0;
  return s.replace(/0+$/, "").split(".")[1].length;
}

/** The value of a decimal string in units of 10^-scale, as a BigInt (truncating extra digits). */
export function toScaled(text, scale) {
  const p = parse(text);
  if (!p) return 0n;
  if (p.scale <= scale) return p.n * 10n ** BigInt(scale - p.scale);
  return p.n / 10n ** BigInt(p.scale - scale);
}

/** Render n * 10^-scale as a plain decimal string with exactly `scale` decimals. */
export function fromScaled(n, scale) {
  const neg = n < 0n;
  let digits = (neg ? -n : n).toString();
  if (scale > 0) {
    digits = digits.padStart(scale + 1, "0");
    digits = digits.slice(0, -scale) + "." + digits.slice(-scale);
  }
  return (neg ? "-" : "") + digits;
}

/** Format a decimal string with exactly `d` decimals, keeping any non-zero digits beyond. */
export function fixed(text, d) {
  const p = parse(text);
  if (!p) return String(text ?? "");
  const scale = Math.max(d, p.scale);
  let out = fromScaled(toScaled(text, scale), scale);
  // Trim trailing zeros beyond d.
  if (scale > d) {
    const cut = out.length - (scale - d);
    let end = out.length;
    while (end > cut && out[end - 1] === "0") end -= 1;
    out = out.slice(0, end);
    if (out.endsWith(".")) out = out.slice(0, -1);
  }
  return out;
}

/** Round a decimal string half up to `d` decimals (for display of estimates). */
export function round(text, d) {
  const p = parse(String(text).replace("-", ""));
  if (!p) return String(text ?? "");
  const neg = String(text).startsWith("-");
  let n = p.n;
  if (p.scale > d) {
    const div = 10n ** BigInt(p.scale - d);
    n = (n + div / 2n) / div;
  } else {
    n *= 10n ** BigInt(d - p.scale);
  }
  return (neg && n !== 0n ? "-" : "") + fromScaled(n, d);
}

/** Compare two decimal strings: -1, 0 or 1. */
export function cmp(a, b) {
  const scale = Math.max(places(a), places(b));
  const x = toScaled(a, scale);
  const y = toScaled(b, scale);
  return x < y ? -1 : x > y ? 1 : 0;
}

/** Exact product of two decimal strings. */
export function mul(a, b) {
  const pa = parse(a);
  const pb = parse(b);
  if (!pa || !pb) return null;
  return fromScaled(pa.n * pb.n, pa.scale + pb.scale);
}

/** Exact sum of two decimal strings. */
export function add(a, b) {
  const scale = Math.max(places(a), places(b));
  return fromScaled(toScaled(a, scale) + toScaled(b, scale), scale);
}

/** Exact difference a - b of two decimal strings (may be negative). */
export function sub(a, b) {
  const scale = Math.max(places(a), places(b));
  return fromScaled(toScaled(a, scale) - toScaled(b, scale), scale);
}

/** True if the decimal string is zero. */
export function isZero(text) {
  const p = parse(text);
  return !p || p.n === 0n;
}

/** True if `text` is a whole multiple of `step` (both decimal strings). */
export function isMultiple(text, step) {
  const scale = Math.max(places(text), places(step));
  const s = toScaled(step, scale);
  return s > 0n && toScaled(text, scale) % s === 0n;
}

/** Check a user-typed amount; returns an error message or "" when it is fine. */
export function check(text, { name, decimals, step, min, max }) {
  const s = String(text ?? "").trim();
  if (s === "") return `Enter a ${name}.`;
  const p = parse(s);
  if (!p) return `The ${name} must be a positive decimal number like 12.5.`;
  if (p.n === 0n) return `The ${name} must be greater than zero.`;
  if (p.scale > decimals) {
    return `The ${name} can have at most ${decimals} decimal${decimals === 1 ? "" : "s"}.`;
  }
  if (step && !isMultiple(s, step)) return `The ${name} must be a multiple of ${fixed(step, 0)}.`;
  if (min && cmp(s, min) < 0) return `The ${name} must be at least ${fixed(min, 0)}.`;
  if (max && cmp(s, max) > 0) return `The ${name} must be at most ${fixed(max, 0)}.`;
  return "";
}

/** Group the integer part with thin spaces for reading: "12345.6" -> "12 345.6". */
export function group(text) {
  const s = String(text);
  const [whole, frac] = s.split(".");
  const sign = whole.startsWith("-") ? "-" : "";
  const w = whole.replace("-", "").replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  return sign + w + (frac !== undefined ? "." + frac : "");
}
