"""``/speed``: a page whose load a query string slows down, for ``assert_performance``.

Plain (``/speed``), it is a small page that paints a heading at once. ``?shift=1``
inserts a 200 px banner above the text 300 ms after load (a layout shift of about a
quarter of the viewport); ``?block_ms=N`` runs an N ms busy loop after the first
contentful paint (one long task: its time over 50 ms is blocking time), then sets
``data-blocked`` on ``<body>``; ``?delay_ms=N`` holds the response back N ms (time to
first byte).
"""

from __future__ import annotations

import asyncio

from starlette.requests import Request
from starlette.responses import Response

from demosite.layout import page

MAX_DELAY_MS = 5000

_SCRIPT = """
const q = new URLSearchParams(location.search);
const block = Number(q.get("block_ms") || 0);
if (block > 0) {
  // After the first contentful paint (blocking time counts from there): one long task,
  // then a mark a test can wait for.
  new PerformanceObserver((list, observer) => {
    if (!list.getEntriesByName("first-contentful-paint").length) return;
    observer.disconnect();
    setTimeout(() => {
      const end = performance.now() + block;
      while (performance.now() < end) {}
      document.body.dataset.blocked = "1";
    }, 0);
  }).observe({type: "paint", buffered: true});
}
if (q.get("shift") === "1") {
  window.addEventListener("load", () => setTimeout(() => {
    const banner = document.createElement("div");
    banner.id = "banner";
    banner.style.cssText = "height:200px;background:#ddf4ff";
    banner.textContent = "Sale!";
    document.querySelector("main").prepend(banner);
  }, 300));
}
"""


def _number(request: Request, name: str) -> int:
    try:
        return max(0, min(MAX_DELAY_MS, int(request.query_params.get(name, "0"))))
    except ValueError:
        return 0


async def speed(request: Request) -> Response:
    delay_ms = _number(request, "delay_ms")
    if delay_ms:
        await asyncio.sleep(delay_ms / 1000)
    body = '<h1 id="title">Page speed</h1>' + "".join(
        f"<p>Paragraph {i}: the quick brown fox jumps over the lazy dog.</p>" for i in range(20)
    )
    return page("Speed", body, _SCRIPT)
