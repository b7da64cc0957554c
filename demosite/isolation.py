"""``/isolation``: what a browser remembers beyond cookies and Web Storage.

The page reports, then sets, one thing per store a test can leave behind, so a
second visit in the same browser reads "returning" (or the same stamp) and a
fresh, isolated one reads "new":

- ``#indexeddb-state``: a visit counter in IndexedDB;
- ``#cache-storage-state``: an entry in Cache Storage (``caches``);
- ``#service-worker-state``: a registered service worker (``/isolation/sw.js``);
- ``#permission-state``: the page's notifications permission as the Permissions
  API reports it (``prompt`` until a test grants it, e.g. with CDP
  ``Browser.grantPermissions``);
- ``#http-cache-stamp``: ``/isolation/stamp``, a new number on every request the
  server sees, cacheable for an hour: the same number twice means it came from
  the browser's HTTP cache.

``#isolation-ready`` shows once every line is filled in (``#isolation-error``
says what failed instead). Cache Storage and service workers need a secure
context: ``http://127.0.0.1`` and ``http://localhost`` are.
"""

from __future__ import annotations

import itertools

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from demosite.layout import page

STAMP_MAX_AGE_S = 3600
"""How long the browser may keep ``/isolation/stamp`` in its HTTP cache."""

_stamps = itertools.count(1)

_SCRIPT = """
const show = (id, text) => { document.getElementById(id).textContent = text; };
const request = (r) => new Promise((ok, no) => { r.onsuccess = () => ok(r.result);
  r.onerror = () => no(r.error); });
async function indexedDbVisits() {
  const open = indexedDB.open('demo-isolation', 1);
  open.onupgradeneeded = () => open.result.createObjectStore('visits');
  const db = await request(open);
  const store = db.transaction('visits', 'readwrite').objectStore('visits');
  const count = (await request(store.get('count'))) || 0;
  await request(store.put(count + 1, 'count'));
  db.close();
  return count;
}
async function report() {
  show('indexeddb-state', (await indexedDbVisits()) ? 'returning' : 'new');
  const cached = await caches.has('demo-isolation');
  await (await caches.open('demo-isolation')).put('/isolation/marker', new Response('1'));
  show('cache-storage-state', cached ? 'returning' : 'new');
  const workers = await navigator.serviceWorker.getRegistrations();
  await navigator.serviceWorker.register('/isolation/sw.js');
  show('service-worker-state', workers.length ? 'returning' : 'new');
  show('permission-state', (await navigator.permissions.query({name: 'notifications'})).state);
  show('http-cache-stamp', await (await fetch('/isolation/stamp')).text());
  document.getElementById('isolation-ready').hidden = false;
}
report().catch((error) => show('isolation-error', String(error)));
"""

_WORKER = "self.addEventListener('fetch', () => {});\n"


async def isolation(request: Request) -> Response:
    body = (
        "<h1>Isolation</h1>"
        "<p>What this browser remembered from earlier visits (a fresh session sees new):</p>"
        "<dl>"
        '<dt>IndexedDB</dt><dd id="indexeddb-state">...</dd>'
        '<dt>Cache Storage</dt><dd id="cache-storage-state">...</dd>'
        '<dt>Service worker</dt><dd id="service-worker-state">...</dd>'
        '<dt>Notifications permission</dt><dd id="permission-state">...</dd>'
        '<dt>HTTP cache stamp</dt><dd id="http-cache-stamp">...</dd>'
        '</dl><p id="isolation-ready" hidden>ready</p><p id="isolation-error" class="error"></p>'
    )
    return page("Isolation", body, _SCRIPT)


async def stamp(request: Request) -> Response:
    """A new number per request that reaches the server; cacheable by the browser."""
    return PlainTextResponse(
        str(next(_stamps)), headers={"Cache-Control": f"private, max-age={STAMP_MAX_AGE_S}"}
    )


async def service_worker(request: Request) -> Response:
    return Response(_WORKER, media_type="text/javascript")
