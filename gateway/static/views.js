// The fleet view and the runs view.

import { trend } from "./chart.js";
import { badge, clock, fill, h, ms } from "./dom.js";
import { SETTLED, TREND_WINDOW_MS } from "./state.js";

const pct = (v) => (v === null || v === undefined ? "–" : `${Math.round(v * 100)} %`);
const num = (v) => (v === null || v === undefined ? "–" : String(Math.round(v * 10) / 10));

function tile(label, value, extra) {
  return h("div", { class: "tile" }, h("div", { class: "tile-label" }, label), h("div", { class: "tile-value" }, value), extra || null);
}

function series(history, pick) {
  return history.map(([t, m]) => [t, pick(m)]);
}

/** The fleet view (needs dashboard:read). */
export function renderFleet(root, fleet, allowed) {
  if (!allowed) {
    fill(root, h("section", { class: "card" }, h("h2", {}, "Fleet"),
      h("p", {}, "This API key lacks the dashboard:read scope, which the fleet view needs.")));
    return;
  }
  const m = fleet.metrics;
  const now = Date.now();
  const chart = (label, pick, format, max) => trend(series(fleet.history, pick), { windowMs: TREND_WINDOW_MS, now, label, format, max });
  const tiles = m
    ? [
        tile("Tests per minute", num(m.testsPerMinute), chart("Tests per minute", (x) => x.testsPerMinute, num)),
        tile("Pass rate", pct(m.passRate), chart("Pass rate", (x) => x.passRate, pct, 1)),
        tile("Queue depth", String(m.queueDepth), chart("Queue depth", (x) => x.queueDepth, num)),
        tile("Grid slots free", `${m.freeGridSlots} / ${m.gridSlots}`, h("div", { class: "tile-note" }, `${m.gridNodesUp} node(s) up`)),
        tile("Workers busy", `${m.busyWorkers} / ${m.workerSlots}`, h("div", { class: "tile-note" }, `${m.workers} worker(s)`)),
        tile("Events per second", num(m.eventsPerSecond ?? 0)),
      ]
    : [h("p", { class: "muted" }, "Waiting for the first metrics_update…")];
  const byPriority = m && m.queueByPriority
    ? h("ul", { class: "inline", "aria-label": "Queue by priority" },
        Object.entries(m.queueByPriority).map(([name, n]) => h("li", {}, `${name}: ${n}`)))
    : null;
  fill(root,
    h("section", { class: "card", "aria-labelledby": "fleet-title" },
      h("h2", { id: "fleet-title" }, "Fleet"),
      h("div", { class: "tiles", id: "fleet-tiles" }, tiles),
      byPriority ? h("div", { class: "sub" }, h("h3", {}, "Queued by priority"), byPriority) : null),
    h("section", { class: "card", "aria-labelledby": "workers-title" },
      h("h2", { id: "workers-title" }, "Workers"),
      workersTable(m, fleet.running)),
    h("section", { class: "card", "aria-labelledby": "services-title" },
      h("h2", { id: "services-title" }, "Service changes"),
      servicesList(fleet.services)));
}

function workersTable(m, running) {
  const workers = (m && m.workerList) || [];
  if (!workers.length) return h("p", { class: "muted" }, "No live worker.");
  const rows = workers.map((w) => {
    const mine = [...running.values()].filter((r) => r.worker && String(r.worker).startsWith(`${w.name}:`));
    const others = Math.max(0, w.busy - mine.length);
    const now = mine.map((r) => h("li", {}, h("a", { href: `#/runs/${encodeURIComponent(r.runId)}` }, r.name || r.runId), ` · step ${r.step}/${r.total}`));
    if (others) now.push(h("li", { class: "muted" }, `${others} case(s) of other projects`));
    return h("tr", { "data-worker": w.name },
      h("th", { scope: "row", class: "mono" }, w.name),
      h("td", {}, badge(w.busy ? "busy" : "idle"), ` ${w.busy} / ${w.concurrency}`),
      h("td", {}, now.length ? h("ul", { class: "plain" }, now) : h("span", { class: "muted" }, "idle")));
  });
  return h("table", {},
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Worker"), h("th", { scope: "col" }, "Busy"), h("th", { scope: "col" }, "Running now"))),
    h("tbody", {}, rows));
}

function servicesList(services) {
  if (!services.length) return h("p", { class: "muted" }, "No service change yet.");
  return h("ol", { class: "plain events", id: "service-events" }, services.map((e) => {
    const p = e.payload || {};
    if (e.type === "quota_warning") return h("li", {}, h("time", {}, clock(e.timestamp)), " ", badge("error"), ` AI budget: ${p.message || ""}`);
    const details = p.details && p.details.nodesUp !== undefined ? ` (${p.details.nodesUp} node(s))` : "";
    return h("li", { "data-service": p.serviceName },
      h("time", {}, clock(e.timestamp)), " ", h("span", { class: "mono" }, `${p.serviceType} ${p.serviceName}`), " ",
      badge(p.status), p.previousStatus ? ` was ${p.previousStatus}` : "", details);
  }));
}

const RUN_STATUSES = ["", "queued", "running", "passed", "failed", "cancelled"];

function counts(c) {
  const parts = Object.entries(c || {}).filter(([, n]) => n).map(([s, n]) => `${n} ${s}`);
  return parts.length ? parts.join(", ") : "none final";
}

/** The runs view: filters, a page of runs, paging, cancel. The filter form is built once
 * per visit (what is typed in it survives live refreshes); the table and pager are redrawn. */
export function renderRuns(root, model, can, on) {
  let form = root.querySelector("#runs-form");
  if (!form) {
    const statusSelect = h("select", { id: "filter-status", name: "status" },
      RUN_STATUSES.map((s) => h("option", { value: s, selected: s === model.filters.status }, s || "any status")));
    const tagInput = h("input", { id: "filter-tag", name: "tag", value: model.filters.tag, placeholder: "smoke", maxlength: 200 });
    form = h("form", { class: "filters", id: "runs-form", role: "search", "aria-label": "Filter runs" },
      h("label", { for: "filter-status" }, "Status"), statusSelect,
      h("label", { for: "filter-tag" }, "Tag"), tagInput,
      h("button", { type: "submit" }, "Apply"));
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      on.filter({ status: statusSelect.value, tag: tagInput.value.trim() });
    });
    fill(root, h("section", { class: "card", "aria-labelledby": "runs-title" },
      h("h2", { id: "runs-title" }, "Runs"), form, h("div", { id: "runs-body" }), h("div", { id: "runs-pager" })));
  }
  let body;
  if (!can.read) body = h("p", {}, "This API key lacks the test:read scope, which the runs view needs.");
  else if (model.error) body = h("p", { class: "error", role: "alert" }, model.error);
  else if (!model.runs) body = h("p", { class: "muted" }, "Loading runs…");
  else if (!model.runs.length) body = h("p", { class: "muted" }, "No run matches.");
  else {
    body = h("table", { id: "runs-table" },
      h("thead", {}, h("tr", {}, ["Run", "Status", "Results", "Tests", "Created", "Took", ""].map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, model.runs.map((r) => h("tr", { "data-run": r.runId },
        h("th", { scope: "row" }, h("a", { href: `#/runs/${encodeURIComponent(r.runId)}` }, r.name || r.runId), h("div", { class: "mono muted" }, r.runId)),
        h("td", {}, badge(r.status)),
        h("td", { class: "counts" }, counts(r.counts)),
        h("td", {}, String(r.total)),
        h("td", {}, clock(r.createdMs)),
        h("td", {}, r.finishedMs ? ms(r.finishedMs - r.createdMs) : "–"),
        h("td", {}, can.write && !SETTLED.has(r.status)
          ? h("button", { type: "button", class: "danger", "data-cancel": r.runId, onclick: () => on.cancel(r) }, "Cancel")
          : null)))));
  }
  fill(root.querySelector("#runs-body"), body);
  fill(root.querySelector("#runs-pager"), h("nav", { class: "pager", "aria-label": "Pages of runs" },
    h("button", { type: "button", id: "page-newer", disabled: !model.pages.length, onclick: on.newer }, "← Newer"),
    h("span", {}, `page ${model.pages.length + 1}`),
    h("button", { type: "button", id: "page-older", disabled: !model.nextCursor, onclick: on.older }, "Older →")));
}
