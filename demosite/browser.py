"""Demo pages for browser features and obstacles between a user and a control.

- ``/obstacles``: a button under a consent veil (covered until "Accept"), a
  button that slides in (moving, then still), one that never stops pulsing
  (never stable: ``force`` clicks it), one enabled a while after "Accept", a
  double-click counter, a context menu, a tooltip on hover.
- ``/frames``: a payment form in a same-origin ``<iframe>`` that tells its
  parent page when it is paid.
- ``/dialogs``: buttons opening an alert, a confirm and a prompt.
- ``/upload``: an ``<input type=file multiple>`` listing the files and the
  first line of each.
- ``/tabs``: a link opening a help page in a new tab.
- ``/broken``: answers HTTP 500.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from demosite.layout import page

ENABLE_DELAY_MS = 600
"""``/obstacles``: the late button is enabled this long after the veil is accepted."""

_OBSTACLES_CSS = """
#veil{position:fixed;inset:0;background:rgba(0,0,0,.35);display:flex;align-items:center;
  justify-content:center}#veil[hidden]{display:none}
#veil .box{background:#fff;padding:1rem 2rem}
#slider{position:relative;transition:left .4s ease-out;left:600px}#slider.in{left:0}
/* Drifts 10 px one way and jumps back: no two moments share a box, so no probe can
   see it stand still (a scale that alternates is equal either side of its turn). */
@keyframes pulse{from{transform:translateX(0)}to{transform:translateX(10px)}}
#pulsing{animation:pulse .7s linear infinite}
#menu-area{margin-top:1rem;padding:1rem;border:1px dashed #888;width:16rem}
#context-menu{position:absolute;background:#fff;border:1px solid #888;padding:.3rem}
#tip-target{display:inline-block;margin-top:1rem;border-bottom:1px dotted}
#tip{display:none;margin-left:.5rem;background:#ffd;padding:.2rem}
#tip-target:hover + #tip{display:inline}
"""

_OBSTACLES_BODY = """
<h1>Obstacles</h1>
<p><button id="subscribe" type="button">Subscribe</button> <span id="subscribed"></span></p>
<p><button id="slider" type="button">Sliding in</button> <span id="slid"></span></p>
<p><button id="pulsing" type="button">Pulsing</button> <span id="pulsed"></span></p>
<p><button id="late" type="button" disabled>Enabled later</button>
  <span id="late-result"></span></p>
<p><button id="double" type="button">Double-click me</button> <span id="clicks">0</span></p>
<div id="menu-area">Right-click here</div>
<div id="context-menu" hidden>Context menu</div>
<span id="tip-target">Hover for a tip</span><span id="tip" role="tooltip">A tip</span>
<div id="veil"><div class="box" role="dialog" aria-label="Cookies">
  <p>We use cookies.</p><button id="accept" type="button">Accept</button></div></div>
"""

_OBSTACLES_SCRIPT = f"""
const on = (id, event, fn) => document.getElementById(id).addEventListener(event, fn);
const say = (id, text) => {{ document.getElementById(id).textContent = text; }};
on("accept", "click", () => {{
  document.getElementById("veil").hidden = true;
  setTimeout(() => {{ document.getElementById("late").disabled = false; }}, {ENABLE_DELAY_MS});
}});
on("subscribe", "click", () => say("subscribed", "subscribed"));
on("slider", "click", () => say("slid", "clicked"));
on("pulsing", "click", () => say("pulsed", "clicked"));
on("late", "click", () => say("late-result", "clicked"));
let clicks = 0;
on("double", "dblclick", () => say("clicks", String(++clicks)));
on("menu-area", "contextmenu", (e) => {{
  e.preventDefault();
  const menu = document.getElementById("context-menu");
  menu.hidden = false;
  menu.style.left = e.pageX + "px";
  menu.style.top = e.pageY + "px";
}});
requestAnimationFrame(() => requestAnimationFrame(() =>
  document.getElementById("slider").classList.add("in")));
"""


async def obstacles(request: Request) -> Response:
    return page("Obstacles", _OBSTACLES_BODY, _OBSTACLES_SCRIPT, style=_OBSTACLES_CSS)


_FRAMES_SCRIPT = """
window.addEventListener("message", (e) => {
  if (e.origin === location.origin) document.getElementById("paid").textContent = e.data;
});
"""


async def frames(request: Request) -> Response:
    body = (
        "<h1>Checkout with a payment frame</h1>"
        '<iframe id="payment" title="Payment" src="/frames/card" width="420" height="220">'
        '</iframe><p>Payment: <span id="paid">pending</span></p>'
    )
    return page("Frames", body, _FRAMES_SCRIPT)


_CARD_SCRIPT = """
document.querySelector("button").addEventListener("click", () => {
  const card = document.querySelector("input").value.replace(/\\s+/g, "");
  const ok = /^\\d{16}$/.test(card);
  document.querySelector("[role=status]").textContent = ok ? "Paid" : "Invalid card";
  if (ok) parent.postMessage("paid with card ending " + card.slice(-4), location.origin);
});
"""


async def card(request: Request) -> Response:
    body = (
        '<h2>Card</h2><label>Card number <input inputmode="numeric"></label>'
        '<button type="button">Pay</button><p role="status"></p>'
    )
    return page("Card", body, _CARD_SCRIPT)


_DIALOGS_SCRIPT = """
const say = (text) => { document.getElementById("dialog-result").textContent = text; };
document.getElementById("alert").addEventListener("click", () => {
  alert("Saved!"); say("alerted");
});
document.getElementById("confirm").addEventListener("click", () => {
  say(confirm("Delete everything?") ? "confirmed" : "cancelled");
});
document.getElementById("prompt").addEventListener("click", () => {
  const name = prompt("Your name?", "");
  say(name === null ? "no name" : "Hello, " + name);
});
"""


async def dialogs(request: Request) -> Response:
    body = (
        "<h1>Dialogs</h1>"
        '<button id="alert" type="button">Alert</button> '
        '<button id="confirm" type="button">Confirm</button> '
        '<button id="prompt" type="button">Prompt</button>'
        '<p id="dialog-result"></p>'
    )
    return page("Dialogs", body, _DIALOGS_SCRIPT)


_UPLOAD_SCRIPT = """
document.getElementById("files").addEventListener("change", async (e) => {
  const list = document.getElementById("uploaded");
  list.replaceChildren();
  for (const file of e.target.files) {
    const li = document.createElement("li");
    const text = await file.text();
    li.textContent = file.name + " (" + file.size + " bytes): " + text.split("\\n")[0];
    list.appendChild(li);
  }
  document.getElementById("upload-count").textContent = String(e.target.files.length);
});
"""


async def upload(request: Request) -> Response:
    body = (
        "<h1>Upload</h1>"
        '<label>Attachments <input id="files" type="file" multiple></label>'
        '<p><span id="upload-count">0</span> file(s)</p><ul id="uploaded"></ul>'
    )
    return page("Upload", body, _UPLOAD_SCRIPT)


async def tabs(request: Request) -> Response:
    body = (
        "<h1>Tabs</h1>"
        '<p><a id="help-link" href="/tabs/help" target="_blank" rel="opener">Open the help</a>'
        " in a new tab.</p>"
    )
    return page("Tabs", body)


async def tabs_help(request: Request) -> Response:
    body = '<h1>Help</h1><p id="help-text">Close this tab to go back.</p>'
    return page("Help", body)


async def broken(request: Request) -> Response:
    body = '<h1>Something went wrong</h1><p class="error">The server failed.</p>'
    return page("Broken", body, status_code=500)
