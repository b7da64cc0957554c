// Building DOM from data: every string from events and the API goes in as text, never as HTML.

/**
 * h("td", {class: "x", "data-id": id}, "text", otherNode) -> an element.
 * Attributes are set with setAttribute (values are strings, never markup); children are
 * nodes or strings (strings become text nodes); null/false children are skipped.
 */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") {
      el.addEventListener(name.slice(2), value);
    } else {
      el.setAttribute(name, value === true ? "" : String(value));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else if (child instanceof Node) el.appendChild(child);
    else el.appendChild(document.createTextNode(String(child)));
  }
}

/** Replace an element's children. */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** Set an element's text only when it changed (no layout work otherwise). An element
 * holding one text node keeps it and changes its data: no node is made or dropped. */
export function text(el, value) {
  const s = String(value);
  const only = el.firstChild;
  if (only && only === el.lastChild && only.nodeType === Node.TEXT_NODE) {
    if (only.data !== s) only.data = s;
  } else if (el.textContent !== s) el.textContent = s;
}

/** Status as a word and a symbol as well as a colour: never by colour alone. */
const MARKS = {
  queued: "○", running: "▶", passed: "✓", flaky: "≈", failed: "✗", error: "!",
  cancelled: "–", up: "▲", down: "▼", skipped: "·", optional_failed: "?", busy: "▶", idle: "○",
};

export function badge(status) {
  const s = String(status || "unknown");
  return h("span", { class: "badge", "data-state": s }, `${MARKS[s] || "•"} ${s}`);
}

export function ms(n) {
  if (n === null || n === undefined || Number.isNaN(n)) return "–";
  if (n < 1000) return `${Math.round(n)} ms`;
  if (n < 60000) return `${(n / 1000).toFixed(1)} s`;
  return `${Math.floor(n / 60000)} min ${Math.round((n % 60000) / 1000)} s`;
}

export function clock(msEpoch) {
  if (!msEpoch) return "–";
  return new Date(msEpoch).toLocaleTimeString([], { hour12: false });
}

export function byId(id) {
  return document.getElementById(id);
}
