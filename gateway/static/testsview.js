// The Tests views, from the test history (the API's /history routes): the project's flaky
// tests, and one test's page (its last results as a strip, a duration chart, its figures).

import { durations } from "./chart.js";
import { fill, h, ms } from "./dom.js";

/** Results (runs) the strip shows, and attempts read to find them (a result may hold
 * several attempts: its retries). */
export const STRIP_RESULTS = 50;
export const ATTEMPTS_READ = 200;

const pct = (v) => (v === null || v === undefined ? "–" : `${(Math.round(v * 1000) / 10).toString()} %`);
const when = (iso) => (iso ? new Date(iso).toLocaleString([], { hour12: false }) : "–");

/** `#/tests/<suite>/<test>`: each part encoded on its own (a suite may hold a "/"). */
export function testHref(suite, name) {
  return `#/tests/${encodeURIComponent(suite)}/${encodeURIComponent(name)}`;
}

/** The one line shown when the API answers 503: no history database behind it. */
function unavailable(err) {
  return h("p", { class: "error", id: "history-unavailable", role: "alert", title: err.message },
    "No test history: the API has no history database. Set TESTFLEET_DATABASE__URL on the API (then run `testfleet db upgrade`).");
}

function problem(err, what) {
  if (err.status === 503) return unavailable(err);
  return h("p", { class: "error", role: "alert" }, `Could not read ${what}: ${err.message}`);
}

/** The flaky-tests table. model: {tests, error, more} (tests null while loading; more:
 * the API has more than the page asked for). */
export function renderFlaky(root, model, canRead) {
  let body;
  if (!canRead) body = h("p", {}, "This API key lacks the test:read scope, which the tests view needs.");
  else if (model.error) body = problem(model.error, "the flaky tests");
  else if (!model.tests) body = h("p", { class: "muted" }, "Loading the flaky tests…");
  else if (!model.tests.length) body = h("p", { class: "muted", id: "flaky-none" }, "No test of this project was flaky in the last 30 days.");
  else {
    body = [h("table", { id: "flaky-table" },
      h("thead", {}, h("tr", {}, ["Test", "Flake rate", "Pass rate", "Time lost", "Runs", "Last failure"].map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, model.tests.map((t) => h("tr", { "data-test": t.test },
        h("th", { scope: "row" }, h("a", { href: testHref(t.suite, t.name) }, t.name), h("div", { class: "muted" }, t.suite)),
        h("td", { class: "flake-rate" }, pct(t.flakeRate), h("div", { class: "muted" }, `${t.flakyRuns} flaky run(s)`)),
        h("td", { class: "pass-rate" }, pct(t.runs ? (t.runs - t.failedRuns) / t.runs : null)),
        h("td", { class: "lost" }, ms(t.lostMs), h("div", { class: "muted" }, `${t.retries} retr${t.retries === 1 ? "y" : "ies"}`)),
        h("td", { class: "runs" }, String(t.runs)),
        h("td", { class: "last-failure" }, when(t.lastFailureAt)))))),
      model.more ? h("p", { class: "muted", id: "flaky-more" }, `The ${model.tests.length} tests that lost the most time; \`testfleet flaky --limit N\` lists more.`) : null];
  }
  fill(root, h("section", { class: "card", "aria-labelledby": "tests-title" },
    h("h2", { id: "tests-title" }, "Flaky tests"),
    h("p", { class: "muted" }, "Tests that failed and then passed on a retry, or failed and passed on one commit, in the last 30 days; the most time lost to failed attempts first."),
    body));
}

/** The test's newest runs, newest first, from its attempts (newest first): per run its
 * final status, attempts, time taken and last error. */
export function results(attempts, limit = STRIP_RESULTS) {
  const byRun = new Map();
  for (const a of attempts) {
    let r = byRun.get(a.runId);
    if (!r) {
      if (byRun.size >= limit) break;
      r = { runId: a.runId, status: a.runStatus, attempts: [], durationMs: 0, error: null, commit: a.commit, branch: a.branch, startedAt: a.startedAt };
      byRun.set(a.runId, r);
    }
    r.attempts.push(a);
    r.durationMs += a.durationMs;
    if (!r.error && a.error) r.error = a.error; // newest first: the last error of the run
  }
  return [...byRun.values()];
}

/** What a result's cell tells on hover (and to a screen reader). */
function tooltip(r) {
  const retries = r.attempts.length > 1 ? ` in ${r.attempts.length} attempts` : "";
  return [
    `${r.status}, ${ms(r.durationMs)}${retries}`,
    `commit ${r.commit || "–"} on ${r.branch || "–"}`,
    `run ${r.runId} · ${when(r.startedAt)}`,
    r.error ? `error: ${r.error}` : null,
  ].filter(Boolean).join("\n");
}

const MARK = { passed: "✓", failed: "✗", error: "!", flaky: "≈", cancelled: "–" };

function strip(shown) {
  // Oldest left, newest right, as a timeline reads.
  return h("ol", { class: "strip", id: "test-strip", "aria-label": `Last ${shown.length} result(s), oldest first` },
    [...shown].reverse().map((r) => h("li", {},
      h("a", { class: "cell", href: `#/runs/${encodeURIComponent(r.runId)}`, "data-status": r.status, "data-run": r.runId, title: tooltip(r), "aria-label": tooltip(r) },
        MARK[r.status] || "•"))));
}

function trendText(t) {
  if (!t) return "– (too few attempts)";
  const change = `${t.changeRatio >= 0 ? "+" : ""}${Math.round(t.changeRatio * 100)} %`;
  return `${t.direction} (${change}: P50 ${ms(t.recentP50Ms)} over the last ${t.windowAttempts} attempts, ${ms(t.previousP50Ms)} before)`;
}

/** One test's page. model: {suite, name, history, error} (history null while loading). */
export function renderTest(root, model, canRead) {
  const title = h("h2", { id: "test-title" }, model.name, " ", h("span", { class: "muted" }, model.suite));
  const back = h("p", {}, h("a", { href: "#/tests" }, "← Flaky tests"));
  let body;
  const hist = model.history;
  if (!canRead) body = h("p", {}, "This API key lacks the test:read scope, which the tests view needs.");
  else if (model.error && model.error.status === 404) {
    body = h("p", { class: "muted", id: "test-unknown" }, `No archived run of this project has the test ${model.suite}/${model.name}.`);
  } else if (model.error) body = problem(model.error, "the test's history");
  else if (!hist) body = h("p", { class: "muted" }, "Loading the test's history…");
  else {
    const shown = results(hist.attempts);
    const attempts = shown.flatMap((r) => r.attempts).reverse(); // oldest first
    const last = hist.lastFailure;
    body = [
      h("dl", { class: "facts test-figures", id: "test-figures" },
        h("dt", {}, "Pass rate"), h("dd", { id: "test-pass-rate" }, pct(hist.passRate), ` (${hist.passedRuns} of ${hist.runs} runs)`),
        h("dt", {}, "Flake rate"), h("dd", { id: "test-flake-rate" }, pct(hist.flakeRate), ` (${hist.flakyRuns} flaky run(s))`),
        h("dt", {}, "Duration"), h("dd", { id: "test-durations" }, `P50 ${ms(hist.p50Ms)}, P95 ${ms(hist.p95Ms)}`),
        h("dt", {}, "Trend"), h("dd", { id: "test-trend" }, trendText(hist.trend)),
        h("dt", {}, "First seen"), h("dd", { id: "test-first-seen" }, when(hist.firstSeen)),
        h("dt", {}, "Last failure"), h("dd", { id: "test-last-failure" }, last
          ? [when(last.startedAt), " in ", h("a", { href: `#/runs/${encodeURIComponent(last.runId)}` }, last.runId), last.error ? h("div", { class: "error" }, last.error) : null]
          : "never")),
      h("h3", {}, `Last ${shown.length} result(s)`),
      shown.length ? strip(shown) : h("p", { class: "muted" }, "No attempt kept."),
      h("ul", { class: "legend inline", "aria-label": "Legend" }, ["passed", "flaky", "failed", "error", "cancelled"].map((s) =>
        h("li", {}, h("span", { class: "cell", "data-status": s, "aria-hidden": "true" }, MARK[s]), ` ${s}`))),
      h("h3", {}, "Duration of those attempts"),
      attempts.length
        ? h("figure", { class: "chart", id: "test-chart" }, durations(attempts.map((a) => ({
            ms: a.durationMs, status: a.status,
            title: `${a.status}, ${ms(a.durationMs)} · run ${a.runId} attempt ${a.attempt}`,
          })), { p50Ms: hist.p50Ms, p95Ms: hist.p95Ms, label: "Duration per attempt", format: ms }),
          h("figcaption", { class: "muted" }, `oldest left; lines: P50 ${ms(hist.p50Ms)} and P95 ${ms(hist.p95Ms)} over the test's whole history`))
        : null,
    ];
  }
  fill(root, h("section", { class: "card", "aria-labelledby": "test-title" }, back, title, body));
}
