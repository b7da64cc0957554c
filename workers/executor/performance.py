"""``assert_performance``: the page's load measured with the browser's Performance APIs,
against budgets.

Per load, read in the page with one async script once the load event has ended:

- ``ttfb_ms``, ``dom_content_loaded_ms``, ``load_ms``: navigation timing (the
  ``navigation`` entry's ``responseStart``, ``domContentLoadedEventEnd`` and
  ``loadEventEnd``, ms from the navigation's start);
- ``lcp_ms``: the last ``largest-contentful-paint`` entry's start time;
- ``cls``: cumulative layout shift, as Chromium's web-vitals count it: shifts without
  recent input grouped in session windows (at most 1 s apart, 5 s long), the
  largest window's sum;
- ``tbt_ms``: total blocking time: every long task after the first contentful paint
  counts its time over 50 ms (until the measurement, not Lighthouse's time to
  interactive).

LCP, layout shifts and long tasks come from ``PerformanceObserver``s created with
``buffered: true``, so entries from before the step are delivered too. A metric the
browser does not give (no contentful paint on an empty page) is left out, and a
budget on it fails the step saying so. ``runs: N`` reloads the page N times (the
browser cache then warm) and judges each metric's median; without it the page as
loaded is measured.
"""

from __future__ import annotations

import statistics
from typing import Any

from testfleet.results import PERFORMANCE_METRICS, PerformanceResult
from testfleet.suites.steps.model import Step
from workers.executor.errors import StepFailed
from workers.executor.page import Handler, Page

MEASURE_JS = """
const done = arguments[arguments.length - 1];
const out = {};
const nav = performance.getEntriesByType("navigation")[0];
if (nav) {
  out.ttfb_ms = nav.responseStart;
  if (nav.domContentLoadedEventEnd > 0) out.dom_content_loaded_ms = nav.domContentLoadedEventEnd;
  if (nav.loadEventEnd > 0) out.load_ms = nav.loadEventEnd;
}
const fcp = performance.getEntriesByName("first-contentful-paint")[0];
const seen = {"largest-contentful-paint": [], "layout-shift": [], "longtask": []};
const observers = [];
for (const type of Object.keys(seen)) {
  try {
    const o = new PerformanceObserver(list => seen[type].push(...list.getEntries()));
    o.observe({type, buffered: true});
    observers.push([type, o]);
  } catch (e) { delete seen[type]; }
}
const finish = () => {
  for (const [type, o] of observers) { seen[type].push(...o.takeRecords()); o.disconnect(); }
  const lcp = seen["largest-contentful-paint"];
  if (lcp && lcp.length) out.lcp_ms = lcp[lcp.length - 1].startTime;
  if (seen["layout-shift"]) {
    let best = 0, sum = 0, first = -1, last = -1;
    for (const s of seen["layout-shift"]) {
      if (s.hadRecentInput) continue;
      if (first >= 0 && s.startTime - last < 1000 && s.startTime - first < 5000) {
        sum += s.value;
      } else { sum = s.value; first = s.startTime; }
      last = s.startTime;
      best = Math.max(best, sum);
    }
    out.cls = best;
  }
  if (seen["longtask"] && fcp) {
    out.tbt_ms = seen["longtask"].filter(t => t.startTime >= fcp.startTime)
      .reduce((total, t) => total + Math.max(0, t.duration - 50), 0);
  } else if (seen["longtask"]) { out.tbt_ms = 0; }
  done({url: location.href, metrics: out});
};
// Buffered entries are delivered in a task of their own: let it run first.
setTimeout(finish, 0);
"""
"""One load's metrics (see the module docstring)."""

LOADED_JS = """
const nav = performance.getEntriesByType("navigation")[0];
return document.readyState === "complete" && !!nav && nav.loadEventEnd > 0;
"""


def _measure(page: Page, timeout_s: float) -> tuple[str, dict[str, float]]:
    page.until(
        timeout_s,
        lambda: bool(page.driver.execute_script(LOADED_JS)),
        lambda: f"the page did not finish loading within {timeout_s:.1f} s",
    )
    page.run_script("return 0;", timeout_s)  # sets the script timeout for the async read
    answer: dict[str, Any] = page.driver.execute_async_script(MEASURE_JS)
    metrics = {
        k: round(float(v), 4 if k == "cls" else 1)
        for k, v in answer["metrics"].items()
        if k in PERFORMANCE_METRICS and isinstance(v, int | float)
    }
    return str(answer["url"]), metrics


def medians(runs: list[dict[str, float]]) -> dict[str, float]:
    """Each metric's median over the runs that measured it."""
    found: dict[str, list[float]] = {}
    for run in runs:
        for metric, value in run.items():
            found.setdefault(metric, []).append(value)
    return {m: round(statistics.median(found[m]), 4) for m in PERFORMANCE_METRICS if m in found}


def _message(result: PerformanceResult, step: Step) -> str:
    runs = len(result.runs)
    over = ", ".join(
        f"{m} {result.metrics[m]:g} > {result.budgets[m]:g}"
        if m in result.metrics
        else f"{m}: not measured by the browser (no such entry on this page)"
        for m in result.over
    )
    what = f"median of {runs} loads" if runs > 1 else "one load"
    if step.negate:
        return f"expected the page to be over budget, but every metric was within ({what})"
    return f"over budget on {result.url} ({what}): {over}"


def assert_performance(page: Page, step: Step, timeout_s: float) -> None:
    runs: list[dict[str, float]] = []
    url = ""
    if step.times is None:
        url, metrics = _measure(page, timeout_s)
        runs.append(metrics)
    else:
        for _ in range(step.times):
            page.driver.refresh()
            url, metrics = _measure(page, timeout_s)
            runs.append(metrics)
            if page.should_stop():
                break
    budgets = dict(step.budgets or {})
    values = medians(runs)
    over = [m for m, limit in budgets.items() if m not in values or values[m] > limit]
    result = PerformanceResult(
        url=page.mask(url), metrics=values, runs=runs, budgets=budgets, over=over
    )
    if page.visual is not None:
        page.visual.performance = result
    if bool(over) != step.negate:
        raise StepFailed(_message(result, step))


HANDLERS: dict[str, Handler] = {"assert_performance": assert_performance}
