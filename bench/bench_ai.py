"""AI cost: bytes and tokens per screenshot sent, and calls saved by the analysis cache.

Screenshots are real: Chromium (local chromedriver, the fleet's Chrome options,
1280 x 800) captures pages of the demo site once. Baseline per image: the raw
PNG as the executor stores it, at the tokens OpenAI would count for it at
``detail: high``. Measured: the image ``ai_image.prepare_image`` sends with the
settings' defaults.

Cache: the analyses run through the worker's ``Analyzer`` (a real Redis, the
real openai SDK against the fake OpenAI server); every screenshot is analysed
once, then re-sent ``ROUNDS`` times (as later runs of the same suite would).
Baseline: one call per analysis without a cache.

``TESTFLEET_BENCH_QUICK=1``: fewer pages and rounds.
"""

from __future__ import annotations

import io
import os
import statistics
from typing import Any

import redis
from PIL import Image

from bench.common import ratio, verdict
from grid.provider import LocalProvider
from testfleet.ai.image import estimate_image_tokens, prepare_image
from testfleet.events import Event
from testfleet.payloads import CaseEvent, Payload
from testfleet.settings import Settings
from tests.fake_openai import fake_openai
from tests.fixtures_grid import running_demosite
from tests.fixtures_redis import redis_server
from workers.analysis import Analyzer, Shot, model_for

TITLE = "AI cost: image bytes/tokens vs raw PNG, calls saved by the cache"

PAGES = ("/", "/login", "/shop", "/form", "/checkout", "/storage", "/slow")
QUICK_PAGES = ("/", "/login", "/shop")
ROUNDS = 4
QUICK_ROUNDS = 1
BYTES_TARGET = 0.25
"""Bytes sent / raw PNG bytes must not exceed this (SPEC section 9)."""


def _capture(settings: Settings, base_url: str, pages: tuple[str, ...]) -> dict[str, bytes]:
    provider = LocalProvider(settings)
    driver = provider.open()
    try:
        driver.set_window_size(settings.grid.window_width, settings.grid.window_height)
        shots = {}
        for page in pages:
            driver.get(base_url + page)
            shots[page] = driver.get_screenshot_as_png()
        return shots
    finally:
        provider.close(driver)


def _images(settings: Settings, shots: dict[str, bytes]) -> dict[str, Any]:
    ai = settings.ai
    raw_bytes, sent_bytes, raw_tokens, sent_tokens = [], [], [], []
    for png in shots.values():
        prepared = prepare_image(
            png, ai.image_max_side_px, ai.image_format, ai.image_quality, ai.image_detail
        )
        with Image.open(io.BytesIO(png)) as raw:
            width_px, height_px = raw.size
        raw_bytes.append(len(png))
        sent_bytes.append(len(prepared.data))
        raw_tokens.append(estimate_image_tokens(width_px, height_px, "high"))
        sent_tokens.append(prepared.estimated_tokens)
    return {
        "images": len(shots),
        "raw_png_bytes_mean": round(statistics.mean(raw_bytes)),
        "sent_bytes_mean": round(statistics.mean(sent_bytes)),
        "bytes_ratio_mean": ratio(sum(sent_bytes), sum(raw_bytes)),
        "bytes_ratio_worst": max(ratio(s, r) for s, r in zip(sent_bytes, raw_bytes, strict=True)),
        "raw_tokens_per_image": round(statistics.mean(raw_tokens)),
        "sent_tokens_per_image": round(statistics.mean(sent_tokens)),
        "tokens_ratio": ratio(sum(sent_tokens), sum(raw_tokens)),
        "format": ai.image_format,
        "max_side_px": ai.image_max_side_px,
        "detail": ai.image_detail,
    }


def _cache(settings: Settings, shots: dict[str, bytes], rounds: int) -> dict[str, Any]:
    published: list[Event] = []

    def event(type_: str, payload: Payload) -> Event:
        return Event(type=type_, run_id="bench", project_id="bench", payload=payload.dump())

    with redis_server() as url, fake_openai() as fake:
        s = settings.model_copy(
            update={"openai_api_key": "sk-bench", "openai_base_url": fake.base_url}
        )
        s.redis = s.redis.model_copy(update={"url": url})
        s.ai = s.ai.model_copy(update={"run_budget_usd": 0.0, "run_budget_tokens": 0})
        client = redis.Redis.from_url(url, decode_responses=True)
        try:
            case = CaseEvent(testId="bench-case", testSuiteId="bench")
            analyzer = Analyzer(s, client, published.append, event, model_for(s), case=case)
            targets = [Shot(1, name, "general", "bench") for name in shots]
            first = analyzer.analyze("bench-1", targets, shots.__getitem__)
            calls_first = len(fake.chat_requests())
            for n in range(rounds):
                analyzer.analyze(f"bench-{n + 2}", targets, shots.__getitem__)
            calls_total = len(fake.chat_requests())
        finally:
            client.close()
    analyses = len(targets) * (rounds + 1)
    return {
        "analyses": analyses,
        "calls_uncached_baseline": analyses,
        "calls_made": calls_total,
        "calls_first_round": calls_first,
        "calls_for_resent": calls_total - calls_first,
        "calls_saved": analyses - calls_total,
        "completed_first_round": sum(a.status == "completed" for a in first),
    }


def run(settings: Settings) -> dict[str, Any]:
    quick = os.environ.get("TESTFLEET_BENCH_QUICK") == "1"
    pages = QUICK_PAGES if quick else PAGES
    with running_demosite() as base_url:
        shots = _capture(settings, base_url, pages)
    return {
        "quick": quick,
        **_images(settings, shots),
        **_cache(
            settings,
            {p.strip("/") or "home": png for p, png in shots.items()},
            QUICK_ROUNDS if quick else ROUNDS,
        ),
    }


def rows(figures: dict[str, Any]) -> list[tuple[str, str, str]]:
    worst = figures["bytes_ratio_worst"]
    return [
        ("images (real demo-site screenshots)", str(figures["images"]), ""),
        ("raw PNG bytes (mean)", str(figures["raw_png_bytes_mean"]), "baseline"),
        (
            f"bytes sent (mean, {figures['format']} <= {figures['max_side_px']} px)",
            str(figures["sent_bytes_mean"]),
            "",
        ),
        (
            "bytes sent / raw PNG (all images)",
            str(figures["bytes_ratio_mean"]),
            f"<= {BYTES_TARGET}: {verdict(figures['bytes_ratio_mean'] <= BYTES_TARGET)}",
        ),
        (
            "bytes sent / raw PNG (worst image)",
            str(worst),
            f"<= {BYTES_TARGET}: {verdict(worst <= BYTES_TARGET)}",
        ),
        (
            "tokens per image, raw PNG (detail high)",
            str(figures["raw_tokens_per_image"]),
            "baseline",
        ),
        (
            "tokens per image, sent",
            str(figures["sent_tokens_per_image"]),
            f"ratio {figures['tokens_ratio']}",
        ),
        ("analyses (first + re-sent rounds)", str(figures["analyses"]), ""),
        ("calls without cache (baseline)", str(figures["calls_uncached_baseline"]), "baseline"),
        ("calls made", str(figures["calls_made"]), ""),
        (
            "calls for re-sent identical screenshots",
            str(figures["calls_for_resent"]),
            f"0: {verdict(figures['calls_for_resent'] == 0)}",
        ),
        ("calls saved by the cache", str(figures["calls_saved"]), ""),
    ]
