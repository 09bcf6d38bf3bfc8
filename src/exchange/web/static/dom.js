// Building DOM nodes safely: text always goes in as text nodes, never as HTML.

/**
 * el("span", {class: "num", "data-id": 3}, "text", otherNode)
 * Attributes are set with setAttribute; `on*` functions become listeners; children that are
 * strings or numbers become text nodes; null/false children are skipped.
 */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") {
      node.addEventListener(name.slice(2), value);
    } else if (value === true) {
      node.setAttribute(name, "");
    } else {
      node.setAttribute(name, String(value));
    }
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export const $ = (selector, root = document) => root.querySelector(selector);
export const $$ = (selector, root = document) => [...root.querySelectorAll(selector)];

/** Set an element's text (no-op if missing). */
export function text(selectorOrNode, value) {
  const node = typeof selectorOrNode === "string" ? $(selectorOrNode) : selectorOrNode;
  if (node) node.textContent = value;
}

/** "14:03:27" for a millisecond timestamp, in local time. */
export function clock(ms) {
  const d = new Date(ms);
  return d.toLocaleTimeString([], { hour12: false });
}

/** "2024-05-01 14:03:27" for a millisecond timestamp, in local time. */
export function stamp(ms) {
  const d = new Date(ms);
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}
