"""Dashboard: XADD -> the test's row updated in the page, at 1,000 events/s, in real Chromium.

A gateway (its own process, as deployed) relays a run of 100 test cases whose
``test_progress`` events this process XADDs through the run store at 1,000
events/s; the dashboard page (headless Chromium driven by Playwright) shows the
run's view. A MutationObserver in the page notes when each case's row shows a
step, so each event's latency is from its XADD to the first frame showing that
step or a later one (renders are coalesced per animation frame: a row may skip
a step). A PerformanceObserver collects long main-thread tasks. The baseline,
measured in the same run, is a plain WebSocket client following the same run
(the wire alone): the page's cost is what it adds on top.
``TESTFLEET_BENCH__QUICK=1`` shortens the 20 s window to 5 s.
"""

from __future__ import annotations

import bisect
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import redis
from websockets.sync.client import connect

from bench.common import percentile, ratio, verdict
from testfleet.artifacts import FileStore
from testfleet.events import Event, now_ms
from testfleet.fleet.auth import KeyStore
from testfleet.payloads import CaseProgress, Progress
from testfleet.settings import PathSettings, RedisSettings, Settings
from testfleet.store import RunStore
from tests.dashboard.browser import chromium, open_page, sign_in
from tests.dashboard.simulate import SimulatedRun
from tests.fixtures_redis import redis_server
from tests.ports import port_of
from tests.waiting import wait_until

TITLE = "Dashboard: XADD -> row updated in the page at 1,000 events/s (100 tests, Chromium)"
TESTS = 100
RATE_PER_S = 1000
TICK_S = 0.01
DRAIN_S = 3.0

OBSERVE = """() => {
  window.__seen = [];
  window.__long = [];
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) window.__long.push(e.duration);
  }).observe({ type: "longtask" });
  const re = /step (\\d+)\\//;
  new MutationObserver((records) => {
    const now = Date.now();
    const cards = new Set();
    for (const r of records) {
      const node = r.target.nodeType === 1 ? r.target : r.target.parentElement;
      const card = node?.closest("[data-case]");
      if (card) cards.add(card);
    }
    for (const card of cards) {
      const m = card.querySelector(".step")?.textContent.match(re);
      if (m) window.__seen.push([card.dataset.case, Number(m[1]), now]);
    }
  }).observe(document.getElementById("cases"),
             { subtree: true, childList: true, characterData: true });
}"""


def _gateway(redis_url: str, state: Path) -> subprocess.Popen[bytes]:
    """The gateway on a port the kernel chooses (``tests.ports.port_of`` reads it)."""
    env = {
        **os.environ,
        "TESTFLEET_REDIS__URL": redis_url,
        "TESTFLEET_GATEWAY__PORT": "0",
        "TESTFLEET_GATEWAY__METRICS_INTERVAL_S": "0",
        "TESTFLEET_PATHS__STATE_DIR": str(state),
        "TESTFLEET_LOG__LEVEL": "WARNING",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "cli.main", "gateway"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


class WireClient:
    """The baseline: a WebSocket client following the run, noting each event's arrival."""

    def __init__(self, url: str, key: str, run_id: str) -> None:
        self.arrivals: dict[str, float] = {}
        self._ws = connect(f"{url}/ws/v1", open_timeout=30, max_size=None)
        self._ws.send(json.dumps({"type": "auth", "payload": {"apiKey": key}}))
        json.loads(self._ws.recv(timeout=30))
        batched = {"batch": {"size": 200, "windowMs": 50}}
        payload = {"channel": "test_execution", "filters": {"runIds": [run_id]}, "options": batched}
        self._ws.send(json.dumps({"type": "subscribe", "id": "s", "payload": payload}))
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        try:
            for raw in self._ws:
                now = time.time() * 1000
                message = json.loads(raw)
                for event in message.get("events", []):
                    self.arrivals.setdefault(
                        f"{event['correlationId']}:{event['payload']['progress']['stepNumber']}",
                        now,
                    )
        except Exception:  # closed at the end
            return

    def close(self) -> None:
        self._ws.close()
        self._thread.join(5)


def _load(store: RunStore, sim: SimulatedRun, window_s: float) -> dict[str, float]:
    """XADD test_progress events round robin over the cases at RATE_PER_S; (case:step) ->
    XADD time (epoch ms)."""
    sent: dict[str, float] = {}
    steps = int(window_s * RATE_PER_S / TESTS) + 1
    per_tick = int(RATE_PER_S * TICK_S)
    order = [(case, n) for n in range(1, steps + 1) for case in sim.case_ids]
    start = time.monotonic()
    for i in range(0, len(order), per_tick):
        due = start + (i // per_tick) * TICK_S
        pause = due - time.monotonic()
        if pause > 0:
            time.sleep(pause)  # the generator's pacing, not a wait for a condition
        for case, n in order[i : i + per_tick]:
            payload = CaseProgress(
                testId=case,
                testSuiteId=sim.name,
                attempt=1,
                progress=Progress(
                    percentage=min(100, n),
                    currentStep=f"step {n}",
                    stepNumber=n,
                    totalSteps=steps,
                    duration=n * 10,
                ),
                stepStatus="passed",
                stepDuration=3,
            )
            event = Event(
                type="test_progress",
                run_id=sim.run_id,
                project_id="bench",
                payload=payload.dump(),
                correlation_id=case,
                timestamp_ms=now_ms(),
            )
            store.publish(event)
            sent[f"{case}:{n}"] = time.time() * 1000
    return sent


def _page_latencies(sent: dict[str, float], seen: list[list[Any]]) -> tuple[list[float], int]:
    shown: dict[str, tuple[list[int], list[float]]] = {}
    for case, step, at in seen:
        steps_times = shown.setdefault(case, ([], []))
        steps_times[0].append(step)
        steps_times[1].append(at)
    latencies: list[float] = []
    missing = 0
    for key, t_sent in sent.items():
        case, _, n = key.rpartition(":")
        steps, times = shown.get(case, ([], []))
        # The first observation at or after the send showing this step or a later one.
        i = bisect.bisect_left(times, t_sent - 5)
        found = next((times[j] for j in range(i, len(times)) if steps[j] >= int(n)), None)
        if found is None:
            missing += 1
        else:
            latencies.append(max(0.0, found - t_sent))
    return latencies, missing


def _heap_mb(cdp: Any) -> float:
    """The page's JavaScript heap in use after a full garbage collection, in MB."""
    cdp.send("HeapProfiler.collectGarbage")
    return round(float(cdp.send("Runtime.getHeapUsage")["usedSize"]) / 2**20, 2)


def run(settings: Settings) -> dict[str, Any]:
    window_s = 5.0 if settings.bench.quick else 20.0
    with ExitStack() as stack:
        redis_url = stack.enter_context(redis_server())
        state = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        gateway = _gateway(redis_url, state)
        stack.callback(_stop, gateway)
        port = port_of(gateway)
        base = f"http://127.0.0.1:{port}"
        wait_until(
            "the gateway to answer",
            lambda: httpx.get(f"{base}/ready").status_code == 200,
            30,
            ignore=(httpx.HTTPError,),
        )
        bench_settings = Settings(
            redis=RedisSettings(url=redis_url), paths=PathSettings(state_dir=state)
        )
        client = redis.Redis.from_url(redis_url, decode_responses=True)
        store = RunStore(client, bench_settings, source="bench")
        key = KeyStore(client).create("bench", ["test:read"])[1]
        sim = SimulatedRun(
            store, FileStore(state / "artifacts"), "bench", name="Load", tests=TESTS, steps=1
        ).create()
        for case in sim.case_ids:
            sim.start(case)
        browser = stack.enter_context(chromium())
        tab = stack.enter_context(open_page(browser))
        page = tab.page
        sign_in(page, base, key, f"#/runs/{sim.run_id}")
        page.locator(f"[data-case='{sim.case_ids[-1]}']").wait_for()
        page.evaluate(OBSERVE)
        cdp = page.context.new_cdp_session(page)
        heap_before = _heap_mb(cdp)
        wire = WireClient(f"ws://127.0.0.1:{port}", key, sim.run_id)
        stack.callback(wire.close)
        sent = _load(store, sim, window_s)
        last = max(int(k.rpartition(":")[2]) for k in sent)
        page.locator(f"[data-case='{sim.case_ids[-1]}'] .step").filter(
            has_text=f"step {last}/"
        ).wait_for(timeout=int(DRAIN_S * 1000 + 30_000))
        seen: list[list[Any]] = page.evaluate("window.__seen")
        longest: list[float] = page.evaluate("window.__long")
        panel_p95 = page.locator("#perf-p95").inner_text()
        heap_after = _heap_mb(cdp)
        tab.assert_no_errors()
    latencies, missing = _page_latencies(sent, seen)
    wire_ms = [wire.arrivals[k] - t for k, t in sent.items() if k in wire.arrivals]
    p95 = percentile(latencies, 95)
    longest_ms = max(longest, default=0.0)
    return {
        "events": len(sent),
        "rate_per_s": RATE_PER_S,
        "window_s": window_s,
        "page_p50_ms": round(percentile(latencies, 50), 1),
        "page_p95_ms": round(p95, 1),
        "page_missing": missing,
        "wire_p50_ms": round(percentile(wire_ms, 50), 1),
        "wire_p95_ms": round(percentile(wire_ms, 95), 1),
        "page_vs_wire_p95": ratio(p95, percentile(wire_ms, 95)),
        "long_tasks": len(longest),
        "longest_task_ms": round(longest_ms, 1),
        "panel_p95": panel_p95,
        "heap_before_mb": heap_before,
        "heap_after_mb": heap_after,
        "met": bool(p95 <= 250 and longest_ms <= 100 and missing == 0),
    }


def rows(f: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [
        ("events (at /s)", f"{f['events']} ({f['rate_per_s']})", f"{f['window_s']} s"),
        ("XADD -> row, P50", f"{f['page_p50_ms']} ms", ""),
        (
            "XADD -> row, P95",
            f"{f['page_p95_ms']} ms",
            f"<= 250 ms: {verdict(f['page_p95_ms'] <= 250)}",
        ),
        ("events never shown", str(f["page_missing"]), f"0: {verdict(f['page_missing'] == 0)}"),
        ("baseline: XADD -> wire P50 / P95", f"{f['wire_p50_ms']} / {f['wire_p95_ms']} ms", ""),
        ("page P95 / wire P95", f"{f['page_vs_wire_p95']}x", "what rendering adds"),
        (
            "longest main-thread task",
            f"{f['longest_task_ms']} ms" if f["long_tasks"] else "< 50 ms (none reported)",
            f"<= 100 ms: {verdict(f['longest_task_ms'] <= 100)}",
        ),
        ("long tasks (> 50 ms)", str(f["long_tasks"]), ""),
        (
            "JS heap after GC, before / after the load",
            f"{f['heap_before_mb']} / {f['heap_after_mb']} MB",
            "the open run's steps grow it; other state is capped",
        ),
    ]
