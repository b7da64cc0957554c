// The run view: every test of one run, live: progress, steps, screenshots, AI findings.

import { badge, clock, fill, h, ms, text } from "./dom.js";
import { SETTLED } from "./state.js";
import { liveCounts, TraceView } from "./traceview.js";

const FRAME_BUDGET_MS = 8;
const SETTLED_CASE = new Set(["passed", "flaky", "failed", "error", "cancelled"]);

/** "14 failures, 1 cause" and a table of the causes, once the run's labels came (the
 * `run_labels` event, or `GET /runs/{id}/labels` when the page opened after it); else
 * nothing. A cluster's tests are case ids: shown by their names. */
function clustersBlock(clusters, cases) {
  if (!clusters || !clusters.length) return "";
  const failures = clusters.reduce((sum, c) => sum + c.count, 0);
  const causes = clusters.length;
  const name = (id) => {
    const c = cases.get(id);
    return c ? `${c.suite}/${c.name}` : id;
  };
  return h("div", { class: "clusters" },
    h("p", { id: "run-clusters", class: "muted" },
      `${failures} failure${failures === 1 ? "" : "s"}, ${causes} cause${causes === 1 ? "" : "s"}`),
    h("table", { id: "run-clusters-table", "aria-labelledby": "run-clusters" },
      h("thead", {}, h("tr", {}, ["Cause (error)", "Failures", "Tests"].map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, clusters.map((c) => h("tr", { "data-signature": c.signature },
        h("td", { class: "error" }, c.error || c.signature),
        h("td", { class: "count" }, String(c.count)),
        h("td", {}, h("ul", { class: "plain" }, (c.tests || []).map((t) => h("li", {}, name(t))))))))));
}

/**
 * A run view bound to one RunState. `update()` redraws the head and the cases marked
 * dirty since the last call, reusing each case's element (keyed by case id).
 * io: {image(name) -> Promise<objectURL>, download(path, fileName), cancel(), canWrite,
 *      traces(caseId) -> Promise<{attempts}>, traceIo(caseId) -> TraceView's io}.
 */
export class RunView {
  constructor(root, state, io) {
    this.root = root;
    this.state = state;
    this.io = io;
    this.cards = new Map();
    this.head = h("div", { class: "run-head" });
    this.list = h("div", { class: "cases", id: "cases" });
    this.dialog = h("dialog", { class: "zoom", id: "zoom", "aria-label": "Screenshot" });
    fill(root, h("section", { class: "card", "aria-labelledby": "run-title" }, this.head, this.list), this.dialog);
  }

  /** Redraw what changed, within about FRAME_BUDGET_MS; true when cases are left for the
   * next frame (a big batch is drawn in slices, so no frame's task grows with it). */
  update() {
    const st = this.state;
    if (st.headDirty) {
      this._head();
      st.headDirty = false;
    }
    const until = performance.now() + FRAME_BUDGET_MS;
    let n = 0;
    for (const id of st.dirty) {
      st.dirty.delete(id); // deleting the visited entry keeps the Set's iteration valid
      this._card(st.cases.get(id));
      n += 1;
      if (n % 16 === 0 && performance.now() > until) break;
    }
    return st.dirty.size > 0;
  }

  _head() {
    const run = this.state.run;
    const links = this.state.links || {};
    const actions = [
      h("button", { type: "button", id: "dl-report", onclick: () => this.io.download(links.report, `${run.runId}.html`) }, "HTML report"),
      h("button", { type: "button", id: "dl-junit", onclick: () => this.io.download(links.junit, `${run.runId}.xml`) }, "JUnit XML"),
    ];
    if (this.io.canWrite && !SETTLED.has(run.status)) {
      actions.push(h("button", { type: "button", class: "danger", id: "run-cancel", onclick: () => this.io.cancel(run) }, "Cancel run"));
    }
    const counts = Object.entries(run.counts || {}).map(([s, n]) => `${n} ${s}`).join(", ") || "none final";
    fill(this.head,
      h("p", {}, h("a", { href: "#/runs" }, "← All runs")),
      h("h2", { id: "run-title" }, run.name || run.runId, " ", h("span", { id: "run-status" }, badge(run.status))),
      h("p", { class: "mono muted" }, run.runId),
      h("p", { id: "run-counts" }, `${counts} of ${this.state.cases.size}`,
        ` · created ${clock(run.createdMs)}`, run.finishedMs ? ` · took ${ms(run.finishedMs - run.createdMs)}` : "",
        run.schedule ? h("span", { id: "run-order" }, ` · order ${run.schedule.order}`) : ""),
      run.stopReason ? h("p", { id: "run-stop", class: "error" }, run.stopReason) : "",
      clustersBlock(run.clusters, this.state.cases),
      h("div", { class: "actions" }, actions));
  }

  _card(c) {
    if (!c) return;
    let card = this.cards.get(c.case_id);
    if (!card) card = this._newCard(c);
    card.el.dataset.status = c.status;
    const total = (c.progress && c.progress.totalSteps) || c.total_steps || 0;
    const done = c.progress ? c.progress.stepNumber : c.steps.length;
    const current = c.status === "running" && c.steps.length ? c.steps[c.steps.length - 1].label : "";
    const retries = c.retry_count ? ` of ${c.retry_count + 1}` : "";
    // Only what changed is written: at 1,000 events/s a row is touched many times a second.
    if (card.state !== c.status) {
      card.state = c.status;
      card.badge.replaceWith((card.badge = badge(c.status)));
      card.flag.hidden = c.status !== "flaky";
    }
    const labels = (c.labels || []).join(" ");
    if (card.labelKey !== labels) {
      card.labelKey = labels;
      fill(card.labels, ...(c.labels || []).map((l) => h("span", { class: "label", "data-label": l }, l)));
    }
    text(card.step, `step ${done}/${total}`);
    if (card.progress.max !== Math.max(1, total)) card.progress.max = Math.max(1, total);
    card.progress.value = Math.min(done, Math.max(1, total));
    const label = `${c.name}: step ${done} of ${total}`;
    if (card.progress.getAttribute("aria-label") !== label) card.progress.setAttribute("aria-label", label);
    text(card.attempt, `attempt ${c.attempts || 0}${retries}`);
    text(card.took, ms(c.progress && c.status === "running" ? c.progress.duration : c.duration_ms));
    text(card.current, current);
    liveCounts(card.live, c);
    const error = c.error ? (c.failed_step ? `step ${c.failed_step}: ${c.error}` : c.error) : "";
    text(card.error, error);
    card.error.hidden = !error;
    if ((c.status === "failed" || c.status === "error") && !card.opened) {
      card.opened = true;
      card.details.open = true;
    }
    text(card.count, `${c.steps.length} step(s), ${c.steps.filter((s) => s.screenshot).length} screenshot(s), ${c.ai.length} AI finding(s)`);
    card.stale = true;
    if (card.details.open) this._details(card, c);
  }

  _newCard(c) {
    const card = {
      el: h("article", { class: "case", "data-case": c.case_id }),
      badge: badge(c.status),
      state: c.status,
      step: h("span", { class: "step" }),
      progress: h("progress", { max: 1, value: 0 }),
      attempt: h("span", {}),
      flag: h("span", { class: "flag", hidden: c.status !== "flaky" }, "flaky: passed on a retry"),
      labels: h("span", { class: "labels" }),
      labelKey: "",
      took: h("span", {}),
      current: h("span", { class: "muted current" }),
      live: h("span", { class: "bad-mark live-counts", hidden: true }),
      trace: null,
      error: h("p", { class: "error case-error", hidden: true }),
      count: h("summary", {}),
      body: h("div", {}),
      details: null,
      opened: false,
      stale: true,
    };
    card.details = h("details", {}, card.count, card.body);
    // The timeline, screenshots and findings are drawn only while the details are open.
    card.details.addEventListener("toggle", () => {
      if (card.details.open && card.stale) this._details(card, this.state.cases.get(c.case_id));
    });
    card.el.append(
      h("div", { class: "case-summary" },
        h("h3", {}, dispatchMark(c), c.name, " ", h("span", { class: "muted" }, c.suite)),
        card.badge, card.labels, card.step, card.progress, card.attempt, card.flag, card.took, card.current, card.live, card.error),
      card.details);
    this.cards.set(c.case_id, card);
    this.list.appendChild(card.el);
    return card;
  }

  _details(card, c) {
    card.stale = false;
    const shots = c.steps.filter((s) => s.screenshot);
    const known = new Map([...card.body.querySelectorAll("[data-shot]")].map((b) => [b.dataset.shot, b]));
    fill(card.body,
      h("ol", { class: "timeline" }, c.steps.map((s) => h("li", { "data-step": s.index, "data-depth": s.depth ? Math.min(s.depth, 4) : null },
        badge(s.status), ` ${s.label} `, h("span", { class: "muted" }, ms(s.duration_ms)),
        s.error ? h("div", { class: "error" }, s.error) : null))),
      shots.length ? h("div", { class: "shots" }, shots.map((s) => known.get(s.screenshot) || this._thumb(s.screenshot, s.label))) : null,
      this._visuals(c),
      this._quality(c),
      c.ai.length ? h("div", { class: "ai" }, h("h4", {}, "AI findings"), c.ai.map((a) => this._ai(a))) : null,
      this._trace(card, c),
      this._artifacts(c));
  }

  /** A final case's trace (read once per attempt count; kept across redraws). */
  _trace(card, c) {
    if (!SETTLED_CASE.has(c.status)) return null;
    const key = `${c.status}/${c.attempts}`;
    if (card.trace && card.trace.key === key) return card.trace.el;
    const el = h("div", { class: "trace-box" });
    card.trace = { key, el };
    this.io.traces(c.case_id).then((found) => {
      const attempts = found.attempts || {};
      if (!Object.keys(attempts).length) {
        fill(el, h("p", { class: "muted" }, "no trace kept for this test (retain-on-failure keeps failed attempts' only)"));
        return;
      }
      const view = new TraceView(this.io.traceIo(c.case_id), attempts);
      fill(el, view.el);
      view.open();
    }, (err) => fill(el, h("p", { class: "error" }, `Could not list the traces: ${err.message}`)));
    return el;
  }

  _thumb(name, label, set = null) {
    const img = h("img", { alt: `screenshot: ${label}`, width: 160, height: 100, loading: "lazy" });
    this.io.image(name).then((url) => { img.src = url; }, () => { img.alt = `screenshot ${label} (could not load)`; });
    const attrs = set ? { "data-visual-shot": label } : { "data-shot": name };
    const button = h("button", { type: "button", class: "thumb", ...attrs, "aria-label": `Enlarge screenshot: ${label}` }, img);
    button.addEventListener("click", () => this._zoom(name, label, set));
    return button;
  }

  /** Steps whose screenshot differed from its baseline: baseline, actual and diff side by
   * side, the figures, and the model's explanation when there is one. */
  _visuals(c) {
    const checks = c.steps.filter((s) => s.visual && s.visual.diff);
    if (!checks.length) return null;
    return h("div", { class: "visuals" }, h("h4", {}, "Visual differences"), checks.map((s) => {
      const v = s.visual;
      const set = [["baseline", v.baseline], ["actual", v.actual], ["diff", v.diff]].filter(([, n]) => n);
      const explained = c.ai.find((a) => a.analysis_type === "visual_diff" && a.step === s.index && a.explanation);
      const pct = (100 * (v.diff_ratio || 0)).toFixed(2);
      return h("div", { class: "visual", "data-visual": s.index },
        h("p", {}, `step ${s.index} "${v.name}": ${v.outcome}, ${pct} % changed (${v.changed_px} px)`),
        h("div", { class: "shots" }, set.map(([label, name]) => h("figure", {}, this._thumb(name, label, set), h("figcaption", {}, label)))),
        explained ? this._explanation(explained) : null);
    }));
  }

  /** Accessibility checks (each rule broken, its impact and how many elements are new)
   * and page-speed checks (each metric against its budget), from the case's result. */
  _quality(c) {
    const a11y = c.steps.filter((s) => s.accessibility);
    const perf = c.steps.filter((s) => s.performance);
    if (!a11y.length && !perf.length) return null;
    return h("div", { class: "quality" },
      a11y.map((s) => {
        const r = s.accessibility;
        return h("div", { class: "a11y", "data-a11y": s.index },
          h("h4", {}, `Accessibility, step ${s.index} "${r.name}": ${r.new} new`),
          h("ul", {}, r.violations.map((v) => {
            const news = v.nodes.filter((n) => n.status === "new").length;
            return h("li", {}, h("span", { class: `impact ${v.impact}` }, v.impact), " ",
              h("a", { href: v.help_url, target: "_blank", rel: "noopener" }, v.rule),
              `: ${v.help} (${v.nodes.length} element(s), ${news} new)`);
          })),
          r.fixed.length ? h("p", { class: "muted" }, `fixed: ${r.fixed.join(", ")}`) : null);
      }),
      perf.map((s) => {
        const r = s.performance;
        return h("div", { class: "perf", "data-perf": s.index },
          h("h4", {}, `Performance, step ${s.index}${r.runs.length > 1 ? ` (median of ${r.runs.length})` : ""}`),
          h("p", {}, Object.entries(r.metrics).map(([m, v]) => {
            const budget = r.budgets[m];
            const over = r.over.includes(m);
            return h("span", { class: over ? "error" : "" }, `${m} ${v}${budget !== undefined ? ` / ${budget}` : ""}  `);
          })));
      }));
  }

  _explanation(a) {
    const x = a.explanation;
    const how = `${x.verdict}${x.cosmetic ? ", cosmetic" : ""}, ${Math.round(x.confidence * 100)} % sure`;
    return h("div", { class: "finding explanation" },
      h("p", {}, `AI: ${how}${a.cached ? " (cached)" : ""}: ${a.summary}`),
      x.changes && x.changes.length ? h("ul", {}, x.changes.map((ch) => h("li", {}, `${ch.kind}: ${ch.description}${ch.location ? ` at ${ch.location}` : ""}`))) : null);
  }

  /** The enlarged screenshot; with a set (a visual check's pictures), buttons toggle
   * between baseline, actual and diff in the same place. */
  _zoom(name, label, set = null) {
    const img = h("img", { alt: `screenshot: ${label}` });
    const caption = h("p", {}, label);
    const show = (n, l) => {
      text(caption, l);
      img.alt = `screenshot: ${l}`;
      this.io.image(n).then((url) => { img.src = url; });
    };
    show(name, label);
    const toggles = set ? h("div", { class: "toggles", role: "group", "aria-label": "Compare" },
      set.map(([l, n]) => h("button", { type: "button", "data-toggle": l, onclick: () => show(n, l) }, l))) : null;
    const close = h("button", { type: "button", onclick: () => this.dialog.close() }, "Close");
    fill(this.dialog, caption, toggles, img, close);
    this.dialog.showModal();
    close.focus();
  }

  _ai(a) {
    const head = `${a.analysis_type} · step ${a.step ?? "?"}: `;
    if (a.status !== "completed") {
      return h("div", { class: "finding" }, badge(a.status === "running" ? "running" : "skipped"), ` ${head}${a.status}${a.stage ? ` (${a.stage})` : ""}${a.reason ? ` — ${a.reason}` : ""}`);
    }
    return h("div", { class: "finding" },
      h("p", {}, badge("passed"), ` ${head}${a.summary}`, a.cached ? " (cached)" : ""),
      a.issues.length ? h("ul", {}, a.issues.map((i) => h("li", {}, `${i.severity}: ${i.description}${i.location ? ` at ${i.location}` : ""}`))) : null,
      a.citations && a.citations.length ? h("ul", { class: "citations" }, a.citations.map((c) => h("li", {}, `cites ${c.kind === "console" ? "console error" : "failed request"} ${c.index}: ${c.text}`))) : null,
      a.recommendations.length ? h("ul", {}, a.recommendations.map((r) => h("li", {}, `→ ${r.title} (${Math.round(r.confidence * 100)} %)`))) : null);
  }

  _artifacts(c) {
    if (!c.artifacts || !c.artifacts.length) return null;
    return h("div", { class: "artifacts" }, h("h4", {}, "Artifacts"), h("ul", { class: "inline" }, c.artifacts.map((name) => h("li", {},
      h("button", { type: "button", class: "link", onclick: () => this.io.download(`artifact:${name}`, name) }, name)))));
  }

  /** The page leaves this run: the caller drops the state and the images' object URLs. */
  close() {
    if (this.dialog.open) this.dialog.close();
    this.cards.clear();
  }

  setText(id, value) {
    const el = this.root.querySelector(`#${id}`);
    if (el) text(el, value);
  }
}

/** "#3 ": the case's place in its run's dispatch order (with its expected duration). */
function dispatchMark(c) {
  if (!c.dispatch_position) return "";
  const expected = c.expected_ms != null ? `, expected ${ms(c.expected_ms)}` : ", no history";
  return h("span", { class: "dispatch muted", "data-dispatch": c.dispatch_position, title: `dispatched #${c.dispatch_position}${expected}` }, `#${c.dispatch_position} `);
}
