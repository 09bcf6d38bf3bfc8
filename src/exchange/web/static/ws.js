// The WebSocket to /api/v1/ws: keeps a set of subscriptions, reconnects with backoff and
// subscribes again, and hands every message to one handler.

const KEY_FIELDS = ["channel", "market", "interval"];

function keyOf(sub) {
  return KEY_FIELDS.map((f) => sub[f] ?? "").join("|");
}

export class Socket {
  /**
   * @param {(msg: object) => void} onMessage every parsed server message
   * @param {(state: string, detail?: string) => void} onState "connecting", "live", "offline"
   * @param {() => void} onOpen called after (re)connecting, once subscriptions are sent
   */
  constructor(onMessage, onState, onOpen) {
    this.onMessage = onMessage;
    this.onState = onState;
    this.onOpen = onOpen;
    this.subs = new Map();
    this.ws = null;
    this.attempt = 0;
    this.timer = null;
    this.pingTimer = null;
    this.req = 0;
    this.stopped = true;
  }

  get live() {
    return this.ws !== null && this.ws.readyState === WebSocket.OPEN;
  }

  start() {
    this.stopped = false;
    this.connect();
  }

  /** Close and open again at once (after logging in or out, so the cookie is read anew). */
  restart() {
    this.stopped = false;
    this.attempt = 0;
    this.drop();
    this.connect();
  }

  drop() {
    clearTimeout(this.timer);
    clearInterval(this.pingTimer);
    if (this.ws) {
      const ws = this.ws;
      this.ws = null;
      ws.onopen = ws.onclose = ws.onerror = ws.onmessage = null;
      try {
        ws.close();
      } catch {
        /* already closed */
      }
    }
  }

  connect() {
    this.onState("connecting");
    const proto = location.protocol === "https:" ? "wss:" : "ws:";
    const ws = new WebSocket(`${proto}//${location.host}/api/v1/ws`);
    this.ws = ws;
    ws.onopen = () => {
      this.attempt = 0;
      this.onState("live");
      for (const sub of this.subs.values()) this.send({ op: "subscribe", ...sub });
      this.pingTimer = setInterval(() => this.send({ op: "ping", req: this.nextReq() }), 25000);
      this.onOpen();
    };
    ws.onmessage = (ev) => {
      let msg;
      try {
        msg = JSON.parse(ev.data);
      } catch {
        return;
      }
      this.onMessage(msg);
    };
    ws.onclose = () => {
      if (this.ws !== ws) return;
      this.ws = null;
      clearInterval(this.pingTimer);
      if (this.stopped) return;
      // 0.5 s, 1 s, 2 s, ... up to 15 s, with some jitter so many pages do not return at once.
      const base = Math.min(15000, 500 * 2 ** this.attempt);
      const delay = Math.round(base * (0.75 + Math.random() * 0.5));
      this.attempt += 1;
      this.onState("offline", `retrying in ${Math.ceil(delay / 1000)} s`);
      this.timer = setTimeout(() => this.connect(), delay);
    };
    ws.onerror = () => {
      /* onclose follows and schedules the retry */
    };
  }

  nextReq() {
    this.req += 1;
    return this.req;
  }

  send(msg) {
    if (!this.live) return false;
    this.ws.send(JSON.stringify(msg));
    return true;
  }

  subscribe(sub) {
    this.subs.set(keyOf(sub), sub);
    this.send({ op: "subscribe", ...sub });
  }

  /** Add a subscription to send on the next (re)connect, without sending it now. */
  remember(sub) {
    this.subs.set(keyOf(sub), sub);
  }

  unsubscribe(sub) {
    if (this.subs.delete(keyOf(sub))) this.send({ op: "unsubscribe", ...sub });
  }

  /** Unsubscribe and subscribe again: a fresh snapshot (the depth channel after a gap). */
  resubscribe(sub) {
    this.send({ op: "unsubscribe", ...sub });
    this.subs.set(keyOf(sub), sub);
    this.send({ op: "subscribe", ...sub });
  }

  has(sub) {
    return this.subs.has(keyOf(sub));
  }
}
