// What the page knows: the fleet, the project's runs, the open run. Bounded in size.

export const TREND_WINDOW_MS = 15 * 60 * 1000;
const MAX_TREND_POINTS = 2000;
const MAX_SERVICE_EVENTS = 100;
const MAX_RUNNING = 1000;
const LATENCY_SAMPLES = 2000;

export const FINAL_TYPES = new Set(["test_completed", "test_failed", "test_cancelled"]);

/** A run in one of these is over: nothing more changes its cases. */
export const SETTLED = new Set(["passed", "failed", "cancelled"]);

/** The last segment of an artifact URL (the artifact's name). */
export function artifactName(url) {
  if (!url) return null;
  return String(url).split("/").pop();
}

/** Order of two stream ids ("<ms>-<seq>"): negative, 0 or positive as a is before, the
 * same as or after b. */
export function compareIds(a, b) {
  const [am, as] = String(a).split("-");
  const [bm, bs] = String(b).split("-");
  return Number(am) - Number(bm) || Number(as || 0) - Number(bs || 0);
}

/** A test_progress event's visual check in the run snapshot's shape (artifact names). */
function visualOf(v) {
  if (!v) return null;
  return {
    outcome: v.outcome, name: v.name, diff_ratio: v.diffRatio, changed_px: v.changedPx,
    baseline_version: v.baselineVersion, actual: artifactName(v.actualUrl),
    baseline: artifactName(v.baselineUrl), diff: artifactName(v.diffUrl),
  };
}

export class Perf {
  constructor() {
    this.startedAt = performance.now();
    this.messages = 0;
    this.events = 0;
    this.window = []; // [time ms, events] per batch, last 5 s
    this.latencies = new Float64Array(LATENCY_SAMPLES);
    this.latencyCount = 0;
  }

  message() {
    this.messages += 1;
  }

  received(n) {
    this.events += n;
    const now = performance.now();
    this.window.push([now, n]);
    while (this.window.length && this.window[0][0] < now - 5000) this.window.shift();
  }

  rate() {
    const now = performance.now();
    const span = Math.min(5000, now - this.startedAt);
    if (span <= 0) return 0;
    return this.window.reduce((sum, [, n]) => sum + n, 0) / (span / 1000);
  }

  rendered(timestamps) {
    const now = Date.now();
    for (const ts of timestamps) {
      this.latencies[this.latencyCount % LATENCY_SAMPLES] = Math.max(0, now - ts);
      this.latencyCount += 1;
    }
  }

  latency() {
    const n = Math.min(this.latencyCount, LATENCY_SAMPLES);
    if (!n) return { mean: null, p95: null };
    const sorted = Array.from(this.latencies.subarray(0, n)).sort((a, b) => a - b);
    const mean = sorted.reduce((a, b) => a + b, 0) / n;
    return { mean, p95: sorted[Math.max(0, Math.ceil(0.95 * n) - 1)] };
  }

  uptimeMs() {
    return performance.now() - this.startedAt;
  }
}

export class FleetState {
  constructor() {
    this.metrics = null;
    this.history = []; // [timestamp ms, metrics]
    this.services = []; // newest first
    this.running = new Map(); // case id -> {runId, name, worker, step, total}
  }

  metricsEvents(events) {
    for (const e of events) {
      if (e.type !== "metrics_update") continue;
      this.metrics = e.payload.metrics;
      this.history.push([e.timestamp, e.payload.metrics]);
    }
    const from = Date.now() - TREND_WINDOW_MS;
    while (this.history.length && (this.history[0][0] < from || this.history.length > MAX_TREND_POINTS)) this.history.shift();
  }

  systemEvents(events) {
    for (const e of events) {
      if (e.type === "service_status_change" || e.type === "quota_warning") this.services.unshift(e);
    }
    if (this.services.length > MAX_SERVICE_EVENTS) this.services.length = MAX_SERVICE_EVENTS;
  }

  testEvents(events) {
    for (const e of events) {
      const p = e.payload || {};
      if (e.type === "test_started") {
        this.running.set(p.testId, { runId: e.runId, name: p.name, worker: p.worker || e.metadata?.source, step: 0, total: p.totalSteps });
      } else if (e.type === "test_progress") {
        const r = this.running.get(p.testId);
        if (r) r.step = p.progress.stepNumber;
      } else if (FINAL_TYPES.has(e.type)) {
        this.running.delete(p.testId);
      }
    }
    while (this.running.size > MAX_RUNNING) this.running.delete(this.running.keys().next().value);
  }
}

/** The open run: its snapshot, then every event after the snapshot's lastEventId. */
export class RunState {
  constructor(snapshot) {
    this.run = snapshot.run;
    this.links = snapshot.links;
    this.lastEventId = snapshot.lastEventId;
    this.cases = new Map();
    this.dirty = new Set();
    for (const c of snapshot.run.tests) {
      this.cases.set(c.case_id, { ...c, progress: null, ai: (c.ai || []).map((a) => ({ ...a })) });
      this.dirty.add(c.case_id);
    }
    this.headDirty = true;
  }

  /** What the test history says of the run's failures, once the run was archived: the
   * `run_labels` event's payload, or `GET /runs/{id}/labels` for a run labelled before
   * the page opened (the same shape; applying both is harmless). */
  labels(p) {
    for (const t of p.tests || []) {
      const labelled = this.cases.get(t.testId);
      if (!labelled) continue;
      labelled.labels = t.labels || [];
      this.dirty.add(labelled.case_id);
    }
    this.run.clusters = p.clusters || [];
    this.headDirty = true;
  }

  /** Apply the events of this run that come after the snapshot (others are skipped);
   * true when any was applied. */
  apply(events) {
    let changed = false;
    for (const e of events) {
      if (e.runId !== this.run.runId) continue;
      if (this.lastEventId && e.id && compareIds(e.id, this.lastEventId) <= 0) continue;
      changed = true;
      const p = e.payload || {};
      if (e.type === "run_completed") {
        this.run.status = p.status;
        this.run.finishedMs = e.timestamp;
        this.run.counts = Object.fromEntries(Object.entries(p.counts).filter(([, n]) => n));
        this.headDirty = true;
        continue;
      }
      if (e.type === "run_labels") {
        this.labels(p);
        continue;
      }
      const c = this.cases.get(p.testId);
      if (!c) continue;
      this.dirty.add(c.case_id);
      switch (e.type) {
        case "test_started":
          c.status = "running";
          c.attempts = p.attempt;
          c.steps = [];
          c.total_steps = p.totalSteps;
          c.worker = p.worker || c.worker;
          c.error = null;
          c.failed_step = null;
          c.progress = { stepNumber: 0, totalSteps: p.totalSteps, duration: 0 };
          c.live = null;
          this._count();
          break;
        case "test_progress":
          if (p.attempt > c.attempts) {
            c.attempts = p.attempt;
            c.steps = [];
          }
          c.status = c.status === "queued" ? "running" : c.status;
          c.progress = p.progress;
          c.live = { consoleErrors: p.consoleErrors || 0, failedRequests: p.failedRequests || 0 };
          {
            const step = {
              index: p.progress.stepNumber, label: p.progress.currentStep, status: p.stepStatus,
              duration_ms: p.stepDuration, error: p.stepError, screenshot: artifactName(p.progress.screenshot),
              visual: visualOf(p.visual),
              accessibility: p.accessibility || null, performance: p.performance || null,
              depth: p.stepDepth || 0, parent: p.stepParent ?? null,
            };
            const last = c.steps[c.steps.length - 1];
            if (!last || last.index < step.index) c.steps.push(step);
            else {
              const at = c.steps.findIndex((s) => s.index === step.index);
              if (at >= 0) c.steps[at] = step;
              else c.steps.push(step);
            }
          }
          break;
        case "test_completed":
        case "test_failed":
        case "test_cancelled":
          c.status = p.result.status;
          c.error = p.result.error;
          c.failed_step = p.result.failedStep;
          c.duration_ms = p.duration || c.duration_ms;
          c.attempts = p.attempts || c.attempts;
          if (p.artifacts && p.artifacts.length) c.artifacts = p.artifacts.map(artifactName);
          this._count();
          break;
        case "ai_analysis_started":
        case "ai_analysis_progress":
        case "ai_analysis_completed":
        case "ai_recommendation":
          this._ai(c, e.type, p);
          break;
        default:
          break;
      }
    }
    return changed;
  }

  _count() {
    const counts = {};
    for (const c of this.cases.values()) if (!["queued", "running"].includes(c.status)) counts[c.status] = (counts[c.status] || 0) + 1;
    this.run.counts = counts;
    if (this.run.status === "queued") this.run.status = "running";
    this.headDirty = true;
  }

  _ai(c, type, p) {
    let a = c.ai.find((x) => x.screenshot === p.screenshot && x.analysis_type === p.analysisType);
    if (!a) {
      a = { analysis_type: p.analysisType, screenshot: p.screenshot, step: p.step, status: "running", summary: "", issues: [], recommendations: [] };
      c.ai.push(a);
    }
    if (type === "ai_analysis_progress") a.stage = p.stage;
    if (type === "ai_analysis_completed") {
      Object.assign(a, { status: p.status, reason: p.reason, summary: p.summary, issues: p.issues || [], cached: p.cached, model: p.model, explanation: p.explanation || null, citations: p.citations || [] });
    }
    if (type === "ai_recommendation" && !a.recommendations.some((r) => r.title === p.title)) {
      a.recommendations.push({ title: p.title, confidence: p.confidence, implementation: p.implementation });
    }
  }
}
