"""``/visual``: a page for visual regression checks, whose look a query parameter changes.

Always there: a banner, a plan card, a live clock (changes every 50 ms: mask it),
an infinitely spinning square (CSS), a bar sliding forever (the Web Animations API,
from a script), a panel that fades in (a finite CSS animation), a button with a
transition, and a focused search field (a blinking caret). ``?variant=`` changes
one thing, so a check against the plain page's baseline fails where it should:

- ``text``: the banner says ``Welcome back, Bob`` instead of ``Alice``;
- ``color``: the banner is green instead of blue;
- ``layout``: a 40 px notice above the card pushes everything below it down.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from demosite.layout import page

VARIANTS = ("", "text", "color", "layout")

_CSS = """
.banner{width:480px;height:56px;line-height:56px;padding:0 16px;color:#fff;
  background:#0969da;font-size:20px;font-weight:600;border-radius:6px}
.banner.green{background:#1a7f37}
.notice{height:40px;line-height:40px;background:#fff8c5;padding:0 16px;margin-top:12px}
.card{width:320px;border:1px solid #ccc;border-radius:6px;padding:8px 16px;margin-top:12px}
.card h2{margin:4px 0;font-size:18px}
.row{display:flex;gap:24px;align-items:center;margin-top:12px}
.clock{font:16px monospace;width:160px;margin:0}
.spinner{width:32px;height:32px;background:#cf222e;animation:spin 1.2s linear infinite}
@keyframes spin{to{transform:rotate(360deg)}}
.track{width:120px;height:12px;background:#eee;position:relative;overflow:hidden}
.slider{width:24px;height:12px;background:#8250df;position:absolute;left:0;top:0}
.fade{padding:4px 8px;background:#ddf4ff;animation:fadein 1.5s .3s ease-in both}
@keyframes fadein{from{opacity:0;transform:translateY(8px)}to{opacity:1;transform:none}}
.grow{transition:background 2s,width 2s;width:120px;background:#eee}
.grow:hover{background:#bf8700;width:160px}
"""

_SCRIPT = """
const clock = document.getElementById("clock");
const tick = () => { clock.textContent = new Date().toISOString().slice(11, 23); };
tick(); setInterval(tick, 50);
document.getElementById("slider").animate(
  [{transform: "translateX(0)"}, {transform: "translateX(96px)"}],
  {duration: 900, iterations: Infinity, direction: "alternate"});
"""


async def visual(request: Request) -> Response:
    variant = request.query_params.get("variant", "")
    if variant not in VARIANTS:
        error = f"<p class='error'>unknown variant; one of {VARIANTS[1:]}</p>"
        return page("Visual", error, status_code=400)
    name = "Bob" if variant == "text" else "Alice"
    colour = " green" if variant == "color" else ""
    notice = (
        '<div id="notice" class="notice">Scheduled maintenance</div>' if variant == "layout" else ""
    )
    body = (
        "<h1>Release notes</h1>"
        f'<div id="banner" class="banner{colour}">Welcome back, {name}</div>'
        f"{notice}"
        '<div id="card" class="card"><h2>Pro plan</h2><p>3 seats, renews on 1 May</p></div>'
        '<div class="row"><p id="clock" class="clock"></p>'
        '<div id="spinner" class="spinner"></div>'
        '<div class="track"><div id="slider" class="slider"></div></div></div>'
        '<div class="row"><div id="fade" class="fade">Fades in</div>'
        '<button id="grow" class="grow">Hover me</button>'
        '<input id="search" placeholder="Search" autofocus></div>'
    )
    return page("Visual", body, script=_SCRIPT, style=_CSS)
