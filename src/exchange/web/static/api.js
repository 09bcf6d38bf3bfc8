// REST calls to /api/v1: JSON in and out, the CSRF header on every change, one error shape.

const BASE = "/api/v1";

/** An error answered by the server ({"error": {code, message, field}}) or by the network. */
export class ApiError extends Error {
  constructor(status, code, message, field) {
    super(message);
    this.status = status;
    this.code = code;
    this.field = field ?? null;
  }
}

/** The value of a cookie readable by the page, or "". */
export function cookie(name) {
  for (const part of document.cookie.split(";")) {
    const [key, ...rest] = part.trim().split("=");
    if (key === name) return decodeURIComponent(rest.join("="));
  }
  return "";
}

/** True when the page holds a CSRF cookie, i.e. a session may exist. */
export function maybeLoggedIn() {
  return cookie("csrf") !== "";
}

export async function request(method, path, { body, query } = {}) {
  let url = BASE + path;
  if (query) {
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null) params.set(k, v);
    const qs = params.toString();
    if (qs) url += "?" + qs;
  }
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET") {
    const token = cookie("csrf");
    if (token) headers["X-CSRF-Token"] = token;
  }
  let res;
  try {
    res = await fetch(url, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin",
    });
  } catch {
    throw new ApiError(0, "network", "Cannot reach the exchange. Check your connection.");
  }
  if (res.status === 204) return null;
  let data = null;
  const text = await res.text();
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (!res.ok) {
    const err = data && data.error;
    if (err) throw new ApiError(res.status, err.code, err.message || err.code, err.field);
    throw new ApiError(res.status, "http_" + res.status, `The exchange answered ${res.status}.`);
  }
  return data;
}

export const api = {
  markets: () => request("GET", "/markets"),
  depth: (m, limit = 100) => request("GET", `/markets/${encodeURIComponent(m)}/depth`, { query: { limit } }),
  trades: (m, limit = 100) => request("GET", `/markets/${encodeURIComponent(m)}/trades`, { query: { limit } }),
  candles: (m, interval, limit = 500) =>
    request("GET", `/markets/${encodeURIComponent(m)}/candles`, { query: { interval, limit } }),
  ticker: (m) => request("GET", `/markets/${encodeURIComponent(m)}/ticker`),

  session: () => request("GET", "/session"),
  login: (userId, password) => request("POST", "/session", { body: { user_id: userId, password } }),
  createUser: (password) => request("POST", "/users", { body: { password } }),
  logout: () => request("DELETE", "/session"),

  balances: () => request("GET", "/balances"),
  openOrders: () => request("GET", "/orders/open"),
  history: (limit = 100) => request("GET", "/orders/history", { query: { limit } }),
  fills: (limit = 100) => request("GET", "/fills", { query: { limit } }),
  place: (order) => request("POST", "/orders", { body: order }),
  cancel: (orderId) => request("DELETE", `/orders/${encodeURIComponent(orderId)}`),
  cancelAll: (market) => request("DELETE", "/orders", { query: { market } }),

  apiKeys: () => request("GET", "/api-keys"),
  createApiKey: (body) => request("POST", "/api-keys", { body }),
  revokeApiKey: (keyId) => request("DELETE", `/api-keys/${encodeURIComponent(keyId)}`),
};
