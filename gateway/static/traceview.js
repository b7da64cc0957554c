// A test's trace in the run view: the step timeline; choosing a step shows its error,
// screenshot, DOM snapshots, and the console lines and requests of that step, errors and
// failed requests highlighted.
//
// Snapshots are the tested page's HTML: each is shown only in an <iframe sandbox> (no
// allow-scripts, no allow-same-origin) loading the gateway's snapshot route, which
// answers with a sandboxing, no-network Content-Security-Policy. The frame cannot send
// the key in a header, so its URL holds a single-use ticket, never the key.

import { badge, fill, h, ms, text } from "./dom.js";

const MAX_ROWS = 300;
const BAD = new Set(["failed", "error"]);

/** Epoch ms of an ISO time, or null. */
function epoch(iso) {
  const t = Date.parse(iso || "");
  return Number.isNaN(t) ? null : t;
}

/** Tagged with the step's index, or else within its [startedAt, endedAt] window. */
function inStep(step, tagged, at) {
  if (tagged !== undefined && tagged !== null) return tagged === step.index;
  return at !== null && step.startedAt != null && step.endedAt != null && step.startedAt <= at && at <= step.endedAt;
}

function consoleLines(raw) {
  const out = [];
  for (const line of raw.split("\n")) {
    if (!line.trim()) continue;
    try {
      const c = JSON.parse(line);
      const where = [c.url, c.line, c.column].filter((x) => x !== undefined && x !== null && x !== "").join(":");
      out.push({ at: epoch(c.time), level: String(c.level || "info"), text: String(c.text ?? ""), source: String(c.source || ""), where, step: c.step });
    } catch { /* a torn line: the others are still shown */ }
  }
  return out;
}

function requests(har) {
  const entries = (har && har.log && Array.isArray(har.log.entries)) ? har.log.entries : [];
  return entries.map((e) => {
    const response = e.response || {};
    const error = response._error || response._blockedReason || "";
    const status = Number(response.status) || 0;
    return {
      at: epoch(e.startedDateTime), method: String((e.request || {}).method || ""), url: String((e.request || {}).url || ""),
      status, error: String(error), time: Number(e.time) || 0, size: Number(response._transferSize) || 0, step: e._step,
      failed: Boolean(error) || status === 0 || status >= 400,
    };
  });
}

/**
 * io: {json(path), text(path), image(path) -> Promise<objectURL>, ticket() -> Promise<string>,
 *      base: the case's trace route}; attempts: {"<N>": artifact name}.
 */
export class TraceView {
  constructor(io, attempts) {
    this.io = io;
    this.attempts = Object.keys(attempts).map(Number).sort((a, b) => a - b);
    this.el = h("section", { class: "trace", "aria-label": "Trace" });
    this.data = null;
  }

  /** Draw the last kept attempt (buttons switch to the others). */
  async open(attempt = this.attempts[this.attempts.length - 1]) {
    fill(this.el, h("p", { class: "muted" }, `loading the trace of attempt ${attempt}…`));
    try {
      const path = (member) => `${this.io.base}/${attempt}/${member}`;
      const [manifest, raw, har] = await Promise.all([
        this.io.json(path("trace.json")),
        this.io.text(path("console.jsonl")).catch(() => ""),
        this.io.json(path("trace.har")).catch(() => null),
      ]);
      this.data = { attempt, path, manifest, console: consoleLines(raw), requests: requests(har) };
    } catch (err) {
      fill(this.el, h("p", { class: "error" }, `Could not load the trace: ${err.message}`));
      return this.el;
    }
    this._draw();
    return this.el;
  }

  _draw() {
    const d = this.data;
    const m = d.manifest;
    const steps = Array.isArray(m.steps) ? m.steps : [];
    const counts = m.counts || {};
    this.panel = h("div", { class: "trace-panel" });
    this.buttons = steps.map((s) => this._stepButton(s));
    const switcher = this.attempts.length > 1 ? h("div", { class: "actions", role: "group", "aria-label": "Attempts" },
      this.attempts.map((n) => h("button", { type: "button", "data-attempt": n, "aria-pressed": String(n === d.attempt), onclick: () => this.open(n) }, `attempt ${n}`))) : null;
    fill(this.el,
      h("h4", {}, `Trace · attempt ${d.attempt} · ${m.mode || ""}`),
      h("p", { class: "muted trace-counts" },
        `${counts.consoleErrors || 0} console error(s) · ${counts.failedRequests || 0} failed request(s) of ${counts.requests || 0}`),
      switcher,
      h("div", { class: "trace-body" }, h("ol", { class: "trace-steps" }, this.buttons.map((b) => h("li", {}, b))), this.panel));
    const failing = steps.findIndex((s) => BAD.has(s.status));
    if (steps.length) this._choose(steps[failing >= 0 ? failing : steps.length - 1]);
    else fill(this.panel, h("p", { class: "muted" }, "no step was recorded in this trace"));
  }

  _stepButton(s) {
    const d = this.data;
    const errors = d.console.filter((c) => c.level === "error" && inStep(s, c.step, c.at)).length;
    const failures = d.requests.filter((r) => r.failed && inStep(s, r.step, r.at)).length;
    const took = s.startedAt != null && s.endedAt != null ? ms(s.endedAt - s.startedAt) : "";
    return h("button", { type: "button", class: `trace-step${BAD.has(s.status) ? " bad" : ""}`, "data-step": s.index, "aria-pressed": "false", onclick: () => this._choose(s) },
      badge(s.status), ` ${s.index}. ${s.name || ""} `, h("span", { class: "muted" }, `${s.type || ""} ${took}`),
      errors ? h("span", { class: "bad-mark" }, ` ${errors} console error(s)`) : null,
      failures ? h("span", { class: "bad-mark" }, ` ${failures} failed request(s)`) : null);
  }

  _choose(s) {
    const d = this.data;
    for (const b of this.buttons) b.setAttribute("aria-pressed", String(Number(b.dataset.step) === s.index));
    const lines = d.console.filter((c) => inStep(s, c.step, c.at));
    const reqs = d.requests.filter((r) => inStep(s, r.step, r.at));
    const shot = s.screenshot ? h("img", { class: "trace-shot", alt: `step ${s.index} screenshot` }) : null;
    if (shot) this.io.image(d.path(s.screenshot)).then((url) => { shot.src = url; }, () => { shot.alt = "screenshot (could not load)"; });
    const frames = [["snapshotBefore", "DOM before"], ["snapshotAfter", "DOM after"]]
      .filter(([key]) => s[key]).map(([key, caption]) => this._frame(d.path(s[key]), caption, s.index));
    fill(this.panel,
      h("h4", {}, `step ${s.index}: ${s.name || ""}`),
      s.error ? h("pre", { class: "error" }, s.error) : null,
      shot,
      frames.length ? h("div", { class: "trace-doms" }, frames) : null,
      this._consoleTable(lines),
      this._networkTable(reqs),
      BAD.has(s.status) ? this._earlier(s) : null);
    this.panel.dataset.step = s.index;
  }

  _frame(url, caption, index) {
    const frame = h("iframe", { sandbox: "", referrerpolicy: "no-referrer", title: `step ${index}: ${caption}` });
    this.io.ticket().then((ticket) => { frame.src = `${url}?ticket=${encodeURIComponent(ticket)}`; },
      (err) => { frame.replaceWith(h("p", { class: "error" }, `${caption}: ${err.message}`)); });
    return h("figure", { class: "trace-dom" }, h("figcaption", {}, caption), frame);
  }

  /** A failing step's view of what went wrong before it in the attempt: the error that
   * explains a failure is often logged by the step before it. */
  _earlier(s) {
    const d = this.data;
    const before = (tagged, at) => (tagged !== undefined && tagged !== null ? tagged < s.index : at !== null && s.startedAt != null && at < s.startedAt);
    const errors = d.console.filter((c) => c.level === "error" && before(c.step, c.at)).slice(-MAX_ROWS);
    const failures = d.requests.filter((r) => r.failed && before(r.step, r.at)).slice(-MAX_ROWS);
    if (!errors.length && !failures.length) return null;
    return h("div", { class: "trace-earlier" },
      errors.length ? h("table", { class: "trace-console" }, h("caption", {}, `console errors earlier in this attempt (${errors.length})`),
        errors.map((c) => h("tr", { class: "bad" }, h("td", {}, `step ${c.step ?? "?"}`), h("td", {}, c.text, c.where ? h("div", { class: "muted" }, c.where) : null), h("td", {}, c.source)))) : null,
      failures.length ? h("table", { class: "trace-network" }, h("caption", {}, `failed requests earlier in this attempt (${failures.length})`),
        failures.map((r) => h("tr", { class: "bad" }, h("td", {}, r.method), h("td", {}, `${r.status || "no response"}${r.error ? ` ${r.error}` : ""}`), h("td", {}, r.url)))) : null);
  }

  _consoleTable(lines) {
    if (!lines.length) return h("p", { class: "muted" }, "console: nothing in this step");
    return h("table", { class: "trace-console" }, h("caption", {}, `console (${lines.length})`),
      h("tr", {}, h("th", {}, "level"), h("th", {}, "message"), h("th", {}, "source")),
      lines.slice(0, MAX_ROWS).map((c) => h("tr", { class: c.level === "error" ? "bad" : (c.level === "warning" ? "warn" : null) },
        h("td", {}, c.level), h("td", {}, c.text, c.where ? h("div", { class: "muted" }, c.where) : null), h("td", {}, c.source))),
      lines.length > MAX_ROWS ? h("tr", {}, h("td", { colspan: 3 }, `${lines.length - MAX_ROWS} more: download the trace`)) : null);
  }

  _networkTable(reqs) {
    if (!reqs.length) return h("p", { class: "muted" }, "network: no request in this step");
    return h("table", { class: "trace-network" }, h("caption", {}, `network (${reqs.length})`),
      h("tr", {}, h("th", {}, "method"), h("th", {}, "status"), h("th", {}, "URL"), h("th", {}, "time"), h("th", {}, "size")),
      reqs.slice(0, MAX_ROWS).map((r) => h("tr", { class: r.failed ? "bad" : null },
        h("td", {}, r.method), h("td", {}, `${r.status || "no response"}${r.error ? ` ${r.error}` : ""}`),
        h("td", {}, r.url), h("td", {}, ms(r.time)), h("td", {}, `${r.size} B`))),
      reqs.length > MAX_ROWS ? h("tr", {}, h("td", { colspan: 5 }, `${reqs.length - MAX_ROWS} more: download the trace`)) : null);
  }
}

/** The live counts a running attempt's test_progress events carry. */
export function liveCounts(el, c) {
  const live = c.live || {};
  const parts = [];
  if (live.consoleErrors) parts.push(`${live.consoleErrors} console error(s)`);
  if (live.failedRequests) parts.push(`${live.failedRequests} failed request(s)`);
  text(el, parts.join(" · "));
  el.hidden = !parts.length;
}
