// API keys: create (the key, or a Binance key's id and secret, is shown once, with a copy
// button), list and revoke.

import { api } from "./api.js";
import { $, el, stamp } from "./dom.js";

export class KeysPanel {
  constructor({ onUnauthenticated, toast }) {
    this.onUnauthenticated = onUnauthenticated;
    this.toast = toast;
    this.keys = [];
    $("#api-key-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      this.create();
    });
    $("#api-key-copy").addEventListener("click", () => this.copy());
    // Bearer keys always trade; a Binance ed25519 key is the user's own public key.
    $("#api-key-kind").addEventListener("change", () => {
      const kind = $("#api-key-kind").value;
      $("#api-key-permissions").disabled = kind === "bearer";
      $("#api-key-public").hidden = kind !== "ed25519";
    });
    $("#api-key-done").addEventListener("click", () => this.hideNew());
  }

  clear() {
    this.keys = [];
    this.hideNew();
    $("#api-key-error").textContent = "";
    this.render();
  }

  hideNew() {
    $("#api-key-new").hidden = true;
    $("#api-key-value").textContent = "";
  }

  async load() {
    try {
      this.keys = (await api.apiKeys()) || [];
      this.render();
    } catch (err) {
      if (err.status === 401) this.onUnauthenticated();
      else $("#api-key-error").textContent = err.message;
    }
  }

  async create() {
    const label = $("#api-key-label").value.trim();
    const error = $("#api-key-error");
    error.textContent = "";
    if (label.length > 64) {
      error.textContent = "The label can have at most 64 characters.";
      return;
    }
    const button = $("#api-key-create");
    button.disabled = true;
    try {
      const kind = $("#api-key-kind").value;
      const body = { label, kind };
      if (kind !== "bearer") body.permissions = $("#api-key-permissions").value;
      if (kind === "ed25519") body.public_key = $("#api-key-public").value.trim();
      const made = await api.createApiKey(body);
      $("#api-key-value").textContent =
        kind === "bearer" ? made.key : `API key: ${made.key_id}` + (made.secret ? `\nSecret: ${made.secret}` : "");
      $("#api-key-new").hidden = false;
      $("#api-key-label").value = "";
      $("#api-key-public").value = "";
      this.keys = [made, ...this.keys.filter((k) => k.key_id !== made.key_id)];
      this.render();
    } catch (err) {
      if (err.status === 401) this.onUnauthenticated();
      error.textContent = err.message;
    } finally {
      button.disabled = false;
    }
  }

  async copy() {
    const value = $("#api-key-value").textContent;
    let ok = false;
    try {
      await navigator.clipboard.writeText(value);
      ok = true;
    } catch {
      // Not a secure context or no permission: select the text so the user can copy it.
      const range = document.createRange();
      range.selectNodeContents($("#api-key-value"));
      const sel = window.getSelection();
      sel.removeAllRanges();
      sel.addRange(range);
      try {
        ok = document.execCommand("copy");
      } catch {
        ok = false;
      }
    }
    const button = $("#api-key-copy");
    button.textContent = ok ? "Copied" : "Select and copy";
    setTimeout(() => (button.textContent = "Copy"), 1500);
  }

  async revoke(key, button) {
    button.disabled = true;
    try {
      await api.revokeApiKey(key.key_id);
      this.keys = this.keys.filter((k) => k.key_id !== key.key_id);
      this.render();
      this.toast(`Key ${key.label || key.key_id} revoked.`);
    } catch (err) {
      button.disabled = false;
      if (err.status === 401) this.onUnauthenticated();
      $("#api-key-error").textContent = err.message;
    }
  }

  render() {
    const items = this.keys.map((k) => {
      const revoke = el("button", { type: "button", class: "btn ghost small revoke" }, "Revoke");
      revoke.addEventListener("click", () => this.revoke(k, revoke));
      return el(
        "li",
        { "data-key-id": k.key_id },
        el("div", { class: "key-meta" }, el("span", { class: "key-label" }, k.label || "(no label)"), el("span", { class: "dim small num" }, `${k.key_id} · ${keyKind(k)} · ${stamp(k.created)}`)),
        revoke,
      );
    });
    $("#api-keys").replaceChildren(...items);
    $("#api-keys-empty").hidden = items.length > 0;
  }
}

function keyKind(key) {
  if (!key.kind || key.kind === "bearer") return "bearer";
  return `${key.kind}, ${key.permissions === "read" ? "read only" : "trade"}`;
}
