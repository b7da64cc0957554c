// The dashboard page: sign-in, the views, live updates coalesced per animation frame.

import { Connection } from "./connection.js";
import { byId, clock, fill, h, ms, text } from "./dom.js";
import { RunView } from "./runview.js";
import { compareIds, FleetState, Perf, RunState, SETTLED, TREND_WINDOW_MS } from "./state.js";
import { renderFlaky, renderTest, ATTEMPTS_READ } from "./testsview.js";
import { renderFleet, renderRuns } from "./views.js";

const KEY = "testfleet.apiKey";
const RUNS_REFRESH_MS = 1000;
const SYSTEM_HISTORY_MS = 60 * 60 * 1000;

const app = {
  config: null,
  key: null,
  conn: null,
  me: null,
  permissions: new Set(),
  perf: new Perf(),
  fleet: new FleetState(),
  runs: { filters: { status: "", tag: "" }, pages: [], cursor: null, runs: null, nextCursor: null, error: null },
  runsDue: null,
  route: { name: "none" },
  run: null, // {id, state, view, images}
  flaky: { tests: null, error: null },
  test: null, // {suite, name, history, error}: the open test page
  dirty: new Set(),
  frame: 0,
  pendingTs: [],
};

// --- HTTP ------------------------------------------------------------------------------

async function request(url, options = {}) {
  const headers = { Authorization: `Bearer ${app.key}`, ...(options.headers || {}) };
  const response = await fetch(url, { ...options, headers, cache: "no-store", credentials: "omit" });
  if (!response.ok) {
    let message = `${response.status} ${response.statusText}`;
    try {
      const body = await response.json();
      if (body && body.error && body.error.message) message = body.error.message;
    } catch { /* not JSON: keep the status line */ }
    const err = new Error(message);
    err.status = response.status;
    throw err;
  }
  return response;
}

const json = async (url, options) => (await request(url, options)).json();
const gateway = (path) => `/dashboard/api${path}`;
/** The API itself (it allows the gateway's origin, CORS): the test history is there. */
const api = (path) => `${app.config.apiUrl}${app.config.apiPrefix}${path}`;

async function download(path, fileName) {
  try {
    const url = path.startsWith("artifact:")
      ? gateway(`/runs/${encodeURIComponent(app.run.id)}/artifacts/${encodeURIComponent(path.slice(9))}`)
      : `${app.config.apiUrl}${path}`;
    const blob = await (await request(url)).blob();
    const href = URL.createObjectURL(blob);
    const a = h("a", { href, download: fileName, hidden: true });
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(href), 10000);
  } catch (err) {
    notice(`Could not download ${fileName}: ${err.message}`);
  }
}

function image(name) {
  const run = app.run;
  if (!run) return Promise.reject(new Error("no run open"));
  if (!run.images.has(name)) {
    const url = gateway(`/runs/${encodeURIComponent(run.id)}/artifacts/${encodeURIComponent(name)}`);
    run.images.set(name, request(url).then((r) => r.blob()).then((b) => URL.createObjectURL(b)));
  }
  return run.images.get(name);
}

function traces(caseId) {
  return json(gateway(`/runs/${encodeURIComponent(app.run.id)}/traces/${encodeURIComponent(caseId)}`));
}

/** What a TraceView reads: members of the case's kept traces, and tickets for the
 * snapshot frames (which cannot send the key in a header). */
function traceIo(caseId) {
  const run = app.run;
  const base = gateway(`/runs/${encodeURIComponent(run.id)}/traces/${encodeURIComponent(caseId)}`);
  return {
    base,
    json: (url) => json(url),
    text: async (url) => (await request(url)).text(),
    image: (url) => {
      if (!run.images.has(url)) run.images.set(url, request(url).then((r) => r.blob()).then((b) => URL.createObjectURL(b)));
      return run.images.get(url);
    },
    ticket: async () => (await json("/api/stream-tickets", { method: "POST" })).ticket,
  };
}

// --- notices and confirmation ----------------------------------------------------------

function notice(message) {
  text(byId("notice-text"), message);
  byId("notice").hidden = false;
}

function confirmDialog(message, yes, no) {
  return new Promise((resolve) => {
    const dialog = h("dialog", { class: "confirm", id: "confirm", "aria-labelledby": "confirm-text" });
    const ok = h("button", { type: "button", class: "danger", id: "confirm-yes" }, yes);
    const keep = h("button", { type: "button", id: "confirm-no" }, no);
    dialog.append(h("p", { id: "confirm-text" }, message), h("div", { class: "actions" }, ok, keep));
    document.body.appendChild(dialog);
    const done = (answer) => {
      dialog.close();
      dialog.remove();
      resolve(answer);
    };
    ok.addEventListener("click", () => done(true));
    keep.addEventListener("click", () => done(false));
    dialog.addEventListener("cancel", () => done(false));
    dialog.showModal();
    keep.focus();
  });
}

async function cancelRun(run) {
  const yes = await confirmDialog(
    `Cancel run “${run.name || run.runId}”? Queued tests never start; running ones stop at their next step.`,
    "Cancel run", "Keep it running");
  if (!yes) return;
  try {
    const answer = await json(gateway(`/runs/${encodeURIComponent(run.runId)}/cancel`), { method: "POST" });
    notice(`Run ${answer.runId} cancelled: ${answer.cancelled} queued test(s) will not start.`);
    scheduleRunsRefresh(0);
  } catch (err) {
    notice(`Could not cancel: ${err.message}`);
  }
}

// --- runs list -------------------------------------------------------------------------

async function loadRuns() {
  const m = app.runs;
  const params = new URLSearchParams({ limit: "25" });
  if (m.filters.status) params.set("status", m.filters.status);
  if (m.filters.tag) params.set("tag", m.filters.tag);
  if (m.cursor) params.set("cursor", m.cursor);
  try {
    const page = await json(gateway(`/runs?${params}`));
    m.runs = page.runs;
    m.nextCursor = page.nextCursor;
    m.error = null;
  } catch (err) {
    m.error = `Could not list runs: ${err.message}`;
  }
  markDirty("runs");
}

function scheduleRunsRefresh(delayMs = RUNS_REFRESH_MS) {
  if (app.route.name !== "runs" || app.runsDue !== null) return;
  app.runsDue = setTimeout(() => {
    app.runsDue = null;
    loadRuns();
  }, delayMs);
}

// --- the open run ----------------------------------------------------------------------

function closeRun() {
  if (!app.run) return;
  app.conn.unsubscribe("runai");
  app.run.view?.close();
  for (const p of app.run.images.values()) p.then((url) => URL.revokeObjectURL(url), () => {});
  app.run = null; // the run's detail goes with it: memory stays bounded
}

async function openRun(id) {
  closeRun();
  const run = { id, state: null, view: null, images: new Map() };
  app.run = run;
  fill(byId("view"), h("p", { class: "muted" }, "Loading run…"));
  try {
    const snapshot = await showRun(run);
    if (!snapshot) return;
    // The run's test events come from the project-wide subscription the fleet view
    // already holds (one delivery, one parse per event); only AI findings need their own.
    // That subscription must cover everything after the snapshot: when it has not yet
    // delivered an event from before the snapshot, it may have started after it, so it
    // restarts from the snapshot (the fleet state takes the replay idempotently). A run
    // that is over needs nothing after its snapshot: replaying every other run's events
    // since it ended (thousands, for an old run) would only hold up the page.
    const tests = app.conn.cursor("tests");
    const over = SETTLED.has(snapshot.run.status);
    if (!over && (tests === undefined || tests === null || compareIds(tests, snapshot.lastEventId) > 0)) {
      app.conn.subscribe("tests", { channel: "test_execution", since: snapshot.lastEventId });
    }
    app.conn.subscribe("runai", { channel: "ai_analysis", filters: { runIds: [id] }, since: snapshot.lastEventId });
    markDirty();
  } catch (err) {
    if (app.run === run) fill(byId("view"), h("p", { class: "error", role: "alert" }, `Could not open run ${id}: ${err.message}`));
  }
}

/** Read the run's state and draw it; the snapshot, or null when another run was opened
 * meanwhile. */
async function showRun(run) {
  const snapshot = await json(gateway(`/runs/${encodeURIComponent(run.id)}`));
  if (app.run !== run) return null;
  run.view?.close();
  run.state = new RunState(snapshot);
  run.view = new RunView(byId("view"), run.state, { image, download, cancel: cancelRun, canWrite: app.permissions.has("test:write"), traces, traceIo });
  loadLabels(run, snapshot.run);
  return snapshot;
}

const LABELLED = ["failed", "error", "flaky"];

/** A run that was over with failures when the page opened it may have been labelled
 * already: its `run_labels` event went by before the page subscribed, so the labels are
 * read from the API. A run still going gets them live from that event. */
async function loadLabels(run, snapshotRun) {
  const counts = snapshotRun.counts || {};
  if (!SETTLED.has(snapshotRun.status) || !LABELLED.some((s) => counts[s] > 0)) return;
  try {
    const answer = await json(api(`/runs/${encodeURIComponent(run.id)}/labels`));
    if (app.run !== run || !answer.archived) return; // not archived yet: the event will come
    run.state.labels(answer);
    markDirty("run");
  } catch {
    // Labels add to the run's page; without a history database (503) it shows the rest.
  }
}

/** After a gap: the open run's state read again. Its subscriptions go on from the oldest
 * event still kept, and the new snapshot is newer than anything trimmed before it, so
 * the two cover everything; subscribing again from the snapshot would only meet the
 * same gap (a quiet run's newest event can be older than everything the stream keeps). */
async function reloadRun() {
  const run = app.run;
  try {
    if (await showRun(run)) markDirty("run");
  } catch (err) {
    if (app.run === run) notice(`Could not reload run ${run.id}: ${err.message}`);
  }
}

// --- the test history ------------------------------------------------------------------

const FLAKY_SHOWN = 100;

async function loadFlaky() {
  app.flaky = { tests: null, error: null, more: false };
  markDirty("tests");
  if (!app.permissions.has("test:read")) return; // the view says which scope it needs
  try {
    const page = await json(api(`/history/flaky?limit=${FLAKY_SHOWN}`));
    app.flaky = { tests: page.tests, error: null, more: page.nextCursor !== null };
  } catch (err) {
    app.flaky = { tests: null, error: err };
  }
  markDirty("tests");
}

async function openTest(suite, name) {
  const test = { suite, name, history: null, error: null };
  app.test = test;
  if (!app.permissions.has("test:read")) return markDirty("test");
  try {
    const params = new URLSearchParams({ test: `${suite}/${name}`, limit: String(ATTEMPTS_READ) });
    const history = await json(api(`/history/tests?${params}`));
    if (app.test === test) test.history = history;
  } catch (err) {
    if (app.test === test) test.error = err;
  }
  markDirty("test");
}

// --- live events -----------------------------------------------------------------------

function onEvents(name, events, liveFrom) {
  app.perf.received(events.length);
  text(byId("conn-last"), events[events.length - 1].id);
  for (const e of events) if (e.timestamp >= liveFrom) app.pendingTs.push(e.timestamp);
  if (name === "metrics") app.fleet.metricsEvents(events);
  else if (name === "system") app.fleet.systemEvents(events);
  else if (name === "tests") {
    app.fleet.testEvents(events);
    if (app.route.name === "runs") {
      const shown = new Set((app.runs.runs || []).map((r) => r.runId));
      if (events.some((e) => shown.has(e.runId) || e.type === "run_started")) scheduleRunsRefresh();
    }
    if (app.run && app.run.state && app.run.state.apply(events)) markDirty("run");
  } else if (name === "runai" && app.run && app.run.state) {
    app.run.state.apply(events);
    markDirty("run");
    return;
  }
  markDirty("fleet");
}

function onGap(name, payload) {
  const forRun = name === "tests" || name === "runai";
  // A run still loading subscribes once its snapshot is in; a run that is over shows
  // complete from its snapshot: what was trimmed after it is other runs' history.
  if (forRun && app.run && (!app.run.state || SETTLED.has(app.run.state.run.status))) return;
  notice(`Some events were trimmed from the stream after ${payload.lastEventId}; showing from ${payload.firstAvailableId}.`);
  if (forRun && app.run) reloadRun();
}

// --- rendering, once per frame ---------------------------------------------------------

/** Ask for `view` ("fleet", "runs", "run", "tests", "test"; all when omitted) to be
 * redrawn next frame. */
function markDirty(view) {
  if (view) app.dirty.add(view);
  else for (const v of ["fleet", "runs", "run", "tests", "test"]) app.dirty.add(v);
  if (!app.frame) app.frame = requestAnimationFrame(frame);
}

/** What has keyboard focus, said so that the same control can be found after a redraw. */
function focusKey() {
  const el = document.activeElement;
  if (!el || el === document.body || !byId("view").contains(el)) return null;
  if (el.id) return `#${CSS.escape(el.id)}`;
  for (const attr of ["href", "data-cancel", "data-shot"]) {
    const v = el.getAttribute(attr);
    if (v) return `[${attr}="${CSS.escape(v)}"]`;
  }
  return null;
}

function frame() {
  app.frame = 0;
  if (app.dirty.has(app.route.name)) {
    const key = focusKey();
    app.dirty.delete(app.route.name);
    render();
    if (key && !byId("view").contains(document.activeElement)) byId("view").querySelector(key)?.focus();
  }
  if (app.pendingTs.length) {
    app.perf.rendered(app.pendingTs);
    app.pendingTs = [];
  }
}

function render() {
  const view = byId("view");
  if (app.route.name === "fleet") renderFleet(view, app.fleet, app.permissions.has("dashboard:read"));
  else if (app.route.name === "runs") {
    renderRuns(view, app.runs, { read: app.permissions.has("test:read"), write: app.permissions.has("test:write") }, {
      filter: (f) => { app.runs.filters = f; app.runs.pages = []; app.runs.cursor = null; loadRuns(); },
      older: () => { app.runs.pages.push(app.runs.cursor); app.runs.cursor = app.runs.nextCursor; loadRuns(); },
      newer: () => { app.runs.cursor = app.runs.pages.pop() ?? null; loadRuns(); },
      cancel: cancelRun,
    });
  } else if (app.route.name === "run" && app.run && app.run.view && app.run.view.update()) {
    markDirty("run"); // cases left over: the next frame draws them
  } else if (app.route.name === "tests") renderFlaky(view, app.flaky, app.permissions.has("test:read"));
  else if (app.route.name === "test" && app.test) renderTest(view, app.test, app.permissions.has("test:read"));
}

function panels() {
  const info = app.conn ? app.conn.info() : { state: "offline", attempts: 0 };
  const state = byId("conn-state");
  text(state, info.state);
  state.dataset.state = info.state;
  text(byId("conn-rtt"), info.rttMs === null || info.rttMs === undefined ? "–" : ms(info.rttMs));
  text(byId("conn-attempts"), info.attempts);
  text(byId("conn-next"), info.nextTryAt && info.state !== "connected" ? `in ${ms(Math.max(0, info.nextTryAt - Date.now()))}` : "–");
  text(byId("conn-error"), info.lastError || "none");
  const p = app.perf;
  const lat = p.latency();
  text(byId("perf-messages"), p.messages);
  text(byId("perf-events"), p.events);
  text(byId("perf-rate"), p.rate().toFixed(1));
  text(byId("perf-mean"), lat.mean === null ? "–" : ms(lat.mean));
  text(byId("perf-p95"), lat.p95 === null ? "–" : ms(lat.p95));
  text(byId("perf-uptime"), ms(p.uptimeMs()));
}

// --- routing ---------------------------------------------------------------------------

/** `#/tests/<suite>/<test>` (each part URI-encoded) as {suite, name}; null otherwise or
 * when a part does not decode. */
function testRoute(hash) {
  const m = hash.match(/^#\/tests\/([^/]+)\/(.+)$/);
  if (!m) return null;
  try {
    return { suite: decodeURIComponent(m[1]), name: decodeURIComponent(m[2]) };
  } catch {
    return null;
  }
}

function route() {
  const hash = location.hash || "";
  const m = hash.match(/^#\/runs\/(.+)$/);
  const t = testRoute(hash);
  const previous = app.route;
  if (m) app.route = { name: "run", id: decodeURIComponent(m[1]) };
  else if (t) app.route = { name: "test", suite: t.suite, test: t.name };
  else if (hash === "#/runs") app.route = { name: "runs" };
  else if (hash === "#/tests") app.route = { name: "tests" };
  else if (hash === "#/fleet") app.route = { name: "fleet" };
  else app.route = { name: app.permissions.has("dashboard:read") || !app.permissions.size ? "fleet" : "runs" };
  const under = { run: "runs", test: "tests" };
  for (const [id, name] of [["nav-fleet", "fleet"], ["nav-runs", "runs"], ["nav-tests", "tests"]]) {
    const link = byId(id);
    if (app.route.name === name || under[app.route.name] === name) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  if (app.route.name !== "run") closeRun();
  if (app.route.name !== "test") app.test = null;
  if (app.route.name === "runs" && previous.name !== "runs") loadRuns();
  if (app.route.name === "run" && (!app.run || app.run.id !== app.route.id)) openRun(app.route.id);
  if (app.route.name === "tests" && previous.name !== "tests") loadFlaky();
  if (app.route.name === "test" && (!app.test || app.test.suite !== t.suite || app.test.name !== t.name)) openTest(t.suite, t.name);
  markDirty();
}

// --- sign-in ---------------------------------------------------------------------------

function showLogin(message) {
  byId("login").hidden = false;
  byId("view").hidden = true;
  byId("signout").hidden = true;
  text(byId("login-error"), message || "");
  byId("key").focus();
}

function connect(key) {
  app.key = key;
  byId("login").hidden = true;
  byId("view").hidden = false;
  byId("signout").hidden = false;
  const url = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws/v1`;
  let subscribed = false;
  app.conn = new Connection(url, key, {
    status: () => {},
    message: () => app.perf.message(),
    auth: (payload) => {
      app.me = payload.user || {};
      app.permissions = new Set(payload.permissions || []);
      text(byId("who"), `project ${app.me.projectId || "?"} · key ${app.me.keyId || "?"}`);
      if (!subscribed) {
        subscribed = true;
        const now = Date.now();
        if (app.permissions.has("dashboard:read")) {
          app.conn.subscribe("metrics", { channel: "dashboard_metrics", since: `${now - TREND_WINDOW_MS}-0` });
          app.conn.subscribe("system", { channel: "system_events", since: `${now - SYSTEM_HISTORY_MS}-0` });
        }
        if (app.permissions.has("test:read")) app.conn.subscribe("tests", { channel: "test_execution" });
        route();
      } else if (app.route.name === "runs") scheduleRunsRefresh(0);
    },
    events: onEvents,
    gap: onGap,
    authFailed: (message) => {
      sessionStorage.removeItem(KEY);
      app.conn = null;
      showLogin(`The gateway refused this key: ${message}`);
    },
  });
  app.conn.start();
}

async function main() {
  app.config = await (await fetch("/dashboard/config.json", { cache: "no-store" })).json();
  byId("login-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const key = byId("key").value.trim();
    if (!key) {
      text(byId("login-error"), "Paste an API key (testfleet keys create prints one).");
      return;
    }
    byId("key").value = "";
    sessionStorage.setItem(KEY, key);
    connect(key);
    byId("main").focus();
  });
  byId("signout").addEventListener("click", () => {
    sessionStorage.removeItem(KEY);
    if (app.conn) app.conn.stop();
    app.conn = null;
    closeRun();
    showLogin("");
  });
  byId("notice-close").addEventListener("click", () => { byId("notice").hidden = true; });
  window.addEventListener("hashchange", route);
  setInterval(panels, 500);
  panels();
  const key = sessionStorage.getItem(KEY);
  if (key) connect(key);
  else showLogin("");
}

main();

// For tests and the benchmark: drop the socket as a network failure would.
window.testfleetDashboard = { drop: () => app.conn && app.conn.drop(), clock };
