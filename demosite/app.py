"""The demo web app: a Starlette app of plain HTML pages, served by uvicorn.

Everything the example suites touch has a stable id or class. Behaviour that
makes explicit waits matter is deliberate: ``#add-item`` adds its row 300 ms
after the click, ``/slow`` renders its content 1.5 s after load. The pages in
``controls`` and ``browser`` are built to trip naive runners (custom checkboxes,
inline editors, overlays, shadow DOM, frames, dialogs, uploads, drag and drop,
new tabs, a 500, a form with only labels and roles).
"""

from __future__ import annotations

import hashlib
import html
import json
from urllib.parse import parse_qs

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from demosite import a11y, browser, controls, isolation, speed, visual
from demosite.layout import NAV, page

USERNAME = "alice"
PASSWORD = "wonderland"
USER_COOKIE = "demo_user"
VISITS_COOKIE = "demo_visits"
ADD_ITEM_DELAY_MS = 300
SLOW_DELAY_MS = 1500
MAX_DELAY_MS = 30_000
FLAKY_KEYS_KEPT = 10_000
"""Keys ``/flaky`` remembers (oldest forgotten first), so the demo site stays small."""

PRODUCTS: tuple[tuple[str, str, int], ...] = (
    ("tea", "Earl Grey tea", 450),
    ("biscuits", "Shortbread biscuits", 320),
    ("teapot", "Porcelain teapot", 2400),
)
"""(sku, name, price in cents)."""

ORDERS: tuple[tuple[str, str, str, str], ...] = (
    ("#1001", "Alice", "Open", "$42.00"),
    ("#1002", "Hatter", "Shipped", "$17.50"),
    ("#1003", "Dormouse", "Shipped", "$8.25"),
    ("#1004", "Queen", "Open", "$310.00"),
    ("#1005", "Cheshire Cat", "Shipped", "$0.99"),
)


async def _form_fields(request: Request) -> dict[str, str]:
    """An urlencoded form body as a dict (last value wins); no python-multipart needed."""
    parsed = parse_qs((await request.body()).decode("utf-8"), keep_blank_values=True)
    return {key: values[-1] for key, values in parsed.items()}


async def home(request: Request) -> Response:
    links = "".join(
        f'<li><a class="page-link" href="{href}">{label}</a></li>' for href, label in NAV[1:]
    )
    body = (
        "<h1>testfleet demo</h1>"
        '<p id="intro">A small site for the example suites to test.</p>'
        f'<ul id="links">{links}</ul>'
    )
    return page("Home", body)


def _login_form(error: str = "", user: str = "") -> str:
    message = f'<p class="error" role="alert">{html.escape(error)}</p>' if error else ""
    return (
        f"<h1>Sign in</h1>{message}"
        '<form id="login-form" method="post" action="/login">'
        '<label for="user">Username</label>'
        f'<input id="user" name="user" autocomplete="username" value="{html.escape(user)}">'
        '<label for="pass">Password</label>'
        '<input id="pass" name="pass" type="password" autocomplete="current-password">'
        '<button type="submit">Sign in</button></form>'
    )


async def login(request: Request) -> Response:
    if request.method == "GET":
        return page("Sign in", _login_form())
    fields = await _form_fields(request)
    user = fields.get("user", "")
    if user == USERNAME and fields.get("pass") == PASSWORD:
        response = RedirectResponse("/dashboard", status_code=303)
        response.set_cookie(USER_COOKIE, user, httponly=True, samesite="lax")
        return response
    return page("Sign in", _login_form("Invalid username or password", user), status_code=401)


async def logout(request: Request) -> Response:
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(USER_COOKIE)
    return response


async def dashboard(request: Request) -> Response:
    user = request.cookies.get(USER_COOKIE, "guest")
    rows = "".join(
        f'<tr data-status="{status}"><td>{number}</td><td>{customer}</td>'
        f'<td class="status">{status}</td><td>{total}</td></tr>'
        for number, customer, status, total in ORDERS
    )
    body = (
        f"<h1>Welcome, {html.escape(user)}</h1>"
        '<div class="menu" id="menu"><button id="menu-button" type="button">Menu</button>'
        '<div class="menu-items" id="menu-items">'
        '<a id="menu-form" href="/form">Feedback form</a>'
        '<a id="menu-shop" href="/shop">Shop</a>'
        '<a id="logout" href="/logout">Sign out</a></div></div>'
        "<section><h2>Orders</h2>"
        '<label for="status-filter">Status</label><select id="status-filter">'
        '<option value="All">All</option><option value="Open">Open</option>'
        '<option value="Shipped">Shipped</option></select>'
        '<table id="orders"><thead><tr><th>Order</th><th>Customer</th><th>Status</th>'
        f"<th>Total</th></tr></thead><tbody>{rows}</tbody></table>"
        f'<p id="order-count">{len(ORDERS)} orders</p></section>'
        "<section><h2>Items</h2>"
        '<input id="new-item" placeholder="New item" aria-label="New item">'
        '<button id="add-item" type="button">Add item</button>'
        '<span id="adding" hidden>Adding...</span>'
        '<ul id="items"><li class="item">Tea</li><li class="item">Biscuits</li></ul>'
        '<p><span id="item-count">2</span> items</p></section>'
        '<div id="spacer" style="height:2400px"></div>'
        '<footer id="bottom"><p id="end-note">End of dashboard</p>'
        '<a id="back-to-top" href="#top">Back to top</a></footer>'
    )
    script = f"""
const filter = document.getElementById('status-filter');
filter.addEventListener('change', () => {{
  let shown = 0;
  for (const row of document.querySelectorAll('#orders tbody tr')) {{
    const visible = filter.value === 'All' || row.dataset.status === filter.value;
    row.hidden = !visible;
    if (visible) shown += 1;
  }}
  document.getElementById('order-count').textContent = shown + ' orders';
}});
const input = document.getElementById('new-item');
function addItem() {{
  const adding = document.getElementById('adding');
  const list = document.getElementById('items');
  const text = input.value.trim() || 'Item ' + (list.children.length + 1);
  input.value = '';
  adding.hidden = false;
  setTimeout(() => {{
    const li = document.createElement('li');
    li.className = 'item new-item';
    li.textContent = text;
    list.appendChild(li);
    document.getElementById('item-count').textContent = list.children.length;
    adding.hidden = true;
  }}, {ADD_ITEM_DELAY_MS});
}}
document.getElementById('add-item').addEventListener('click', addItem);
input.addEventListener('keydown', (event) => {{ if (event.key === 'Enter') addItem(); }});
"""
    return page("Dashboard", body, script)


def _feedback_form() -> str:
    topics = ("General", "Bug report", "Feature request")
    options = "".join(f'<option value="{t}">{t}</option>' for t in topics)
    return (
        "<h1>Feedback</h1>"
        '<form id="feedback" method="post" action="/form">'
        '<label for="name">Name</label><input id="name" name="name" required>'
        '<label for="email">Email</label><input id="email" name="email" type="email">'
        f'<label for="topic">Topic</label><select id="topic" name="topic">{options}</select>'
        '<label><input type="checkbox" id="subscribe" name="subscribe" value="yes">'
        " Subscribe to updates</label>"
        '<label for="message">Message</label><textarea id="message" name="message"></textarea>'
        '<button type="submit" id="send">Send</button></form>'
    )


async def feedback(request: Request) -> Response:
    if request.method == "GET":
        return page("Feedback", _feedback_form())
    fields = await _form_fields(request)
    name = fields.get("name", "").strip() or "anonymous"
    body = (
        f'<h1 class="ok">Thank you, {html.escape(name)}!</h1><dl id="result">'
        f'<dt>Email</dt><dd id="result-email">{html.escape(fields.get("email", ""))}</dd>'
        f'<dt>Topic</dt><dd id="result-topic">{html.escape(fields.get("topic", ""))}</dd>'
        "<dt>Subscribed</dt>"
        f'<dd id="result-subscribe">{"yes" if fields.get("subscribe") else "no"}</dd>'
        f'<dt>Message</dt><dd id="result-message">{html.escape(fields.get("message", ""))}</dd>'
        '</dl><a id="again" href="/form">Send more feedback</a>'
    )
    return page("Feedback received", body)


_CART_SCRIPT = """
function readCart() { return JSON.parse(localStorage.getItem('cart') || '{}'); }
function cartCount(cart) { return Object.values(cart).reduce((a, b) => a + b, 0); }
function showCount() {
  const badge = document.getElementById('cart-count');
  if (badge) badge.textContent = cartCount(readCart());
}
"""


async def shop(request: Request) -> Response:
    products = "".join(
        f'<div class="product" data-sku="{sku}"><h3 class="product-name">{name}</h3>'
        f'<p class="price">${cents / 100:.2f}</p>'
        f'<button type="button" class="add-to-cart" data-sku="{sku}">Add to cart</button></div>'
        for sku, name, cents in PRODUCTS
    )
    body = (
        '<h1>Shop</h1><p>Cart: <span id="cart-count">0</span> item(s) '
        '<a id="go-to-checkout" href="/checkout">Checkout</a></p>'
        f'<div id="products">{products}</div>'
    )
    script = (
        _CART_SCRIPT
        + """
for (const button of document.querySelectorAll('.add-to-cart')) {
  button.addEventListener('click', () => {
    const cart = readCart();
    cart[button.dataset.sku] = (cart[button.dataset.sku] || 0) + 1;
    localStorage.setItem('cart', JSON.stringify(cart));
    showCount();
  });
}
showCount();
"""
    )
    return page("Shop", body, script)


async def checkout(request: Request) -> Response:
    if request.method == "POST":
        return _place_order(await _form_fields(request))
    prices = json.dumps({sku: [name, cents] for sku, name, cents in PRODUCTS})
    body = (
        '<h1>Checkout</h1><ul id="cart-summary"></ul>'
        '<p>Total: <span id="cart-total">$0.00</span></p>'
        '<form id="checkout-form" method="post" action="/checkout">'
        '<input type="hidden" id="cart-field" name="cart" value="{}">'
        '<label for="full-name">Full name</label><input id="full-name" name="full_name">'
        '<label for="address">Address</label><input id="address" name="address">'
        '<label for="shipping">Shipping</label><select id="shipping" name="shipping">'
        '<option value="Standard">Standard</option><option value="Express">Express</option>'
        "</select>"
        '<button type="submit" id="place-order">Place order</button></form>'
    )
    script = (
        _CART_SCRIPT
        + f"const PRICES = {prices};"
        + """
const cart = readCart();
let total = 0;
const summary = document.getElementById('cart-summary');
for (const [sku, qty] of Object.entries(cart)) {
  const [name, cents] = PRICES[sku];
  total += cents * qty;
  const li = document.createElement('li');
  li.className = 'cart-line';
  li.dataset.sku = sku;
  li.textContent = qty + ' x ' + name;
  summary.appendChild(li);
}
document.getElementById('cart-total').textContent = '$' + (total / 100).toFixed(2);
document.getElementById('cart-field').value = JSON.stringify(cart);
"""
    )
    return page("Checkout", body, script)


def _place_order(fields: dict[str, str]) -> Response:
    try:
        cart = {str(k): int(v) for k, v in json.loads(fields.get("cart") or "{}").items()}
    except (ValueError, AttributeError):
        cart = {}
    name = fields.get("full_name", "").strip()
    problem = "Your cart is empty" if not cart else "Full name is required" if not name else ""
    if problem:
        body = (
            f'<h1>Checkout</h1><p class="error" role="alert">{problem}</p>'
            '<a id="back-to-shop" href="/shop">Back to the shop</a>'
        )
        return page("Checkout", body, status_code=422)
    digest = hashlib.sha256(json.dumps([name, sorted(cart.items())]).encode()).hexdigest()
    body = (
        '<h1 class="ok">Order confirmed</h1>'
        f'<p>Thank you, <span id="customer">{html.escape(name)}</span>.</p>'
        f'<p>Order number: <strong id="order-number">TF-{digest[:6].upper()}</strong></p>'
        f'<p><span id="order-items">{sum(cart.values())}</span> item(s), '
        f'<span id="order-shipping">{html.escape(fields.get("shipping", ""))}</span> shipping</p>'
    )
    return page("Order confirmed", body, "localStorage.removeItem('cart');")


async def storage(request: Request) -> Response:
    try:
        visits = int(request.cookies.get(VISITS_COOKIE, "0"))
    except ValueError:
        visits = 0
    body = (
        "<h1>Storage</h1>"
        "<p>What this browser remembered from earlier visits (a fresh session sees new):</p>"
        "<dl>"
        f'<dt>Cookie</dt><dd id="cookie-state" data-count="{visits}">'
        f"{'returning' if visits else 'new'}</dd>"
        '<dt>localStorage</dt><dd id="local-state">...</dd>'
        '<dt>sessionStorage</dt><dd id="session-state">...</dd>'
        '</dl><button type="button" id="clear-storage">Clear everything</button>'
        '<p id="storage-ready" hidden>ready</p>'
    )
    script = """
function visit(store, id) {
  const count = Number(store.getItem('demo-visits') || '0');
  const cell = document.getElementById(id);
  cell.textContent = count ? 'returning' : 'new';
  cell.dataset.count = count;
  store.setItem('demo-visits', String(count + 1));
}
visit(localStorage, 'local-state');
visit(sessionStorage, 'session-state');
document.cookie = 'demo_js=1; path=/';
document.getElementById('storage-ready').hidden = false;
document.getElementById('clear-storage').addEventListener('click', () => {
  localStorage.clear();
  sessionStorage.clear();
  for (const name of ['demo_visits', 'demo_js']) {
    document.cookie = name + '=; Max-Age=0; path=/';
  }
  document.getElementById('storage-ready').textContent = 'cleared';
});
"""
    response = page("Storage", body, script)
    response.set_cookie(VISITS_COOKIE, str(visits + 1), samesite="lax")
    return response


async def slow(request: Request) -> Response:
    try:
        delay_ms = int(request.query_params.get("delay_ms", SLOW_DELAY_MS))
    except ValueError:
        delay_ms = SLOW_DELAY_MS
    delay_ms = min(max(delay_ms, 0), MAX_DELAY_MS)
    body = '<h1>Slow page</h1><p id="slow-status">Loading...</p><div id="slow-root"></div>'
    script = f"""
setTimeout(() => {{
  document.getElementById('slow-status').textContent = 'Loaded';
  const content = document.createElement('div');
  content.id = 'slow-content';
  content.innerHTML = '<p>Content rendered after {delay_ms} ms.</p>';
  document.getElementById('slow-root').appendChild(content);
}}, {delay_ms});
"""
    return page("Slow", body, script)


_flaky_visits: dict[str, int] = {}


async def flaky(request: Request) -> Response:
    """Broken on the first visit for each ``key``, fine from then on: a test that visits
    it with a key of its own fails its first attempt and passes on retry (``flaky``).
    Visits are counted by the server, so a fresh browser session does not reset them."""
    key = request.query_params.get("key", "")[:200]
    visits = _flaky_visits.pop(key, 0) + 1
    _flaky_visits[key] = visits  # re-inserted: most recently used last
    while len(_flaky_visits) > FLAKY_KEYS_KEPT:
        del _flaky_visits[next(iter(_flaky_visits))]
    state = "Broken" if visits == 1 else "Works"
    body = f'<h1 id="flaky-state" data-visits="{visits}">{state}</h1>'
    return page("Flaky", body)


async def redirect(request: Request) -> Response:
    """302 to ``to`` (any URL, on purpose): what a site that redirects its visitors
    elsewhere does. The fleet's confinement is tested with it (a redirect to
    ``file://`` or to the fleet's own services must not get the browser there)."""
    return RedirectResponse(request.query_params.get("to", "/"), status_code=302)


async def health(request: Request) -> Response:
    return PlainTextResponse("ok")


def create_app() -> Starlette:
    """The demo app (an ASGI app)."""
    return Starlette(
        routes=[
            Route("/", home),
            Route("/login", login, methods=["GET", "POST"]),
            Route("/logout", logout),
            Route("/dashboard", dashboard),
            Route("/form", feedback, methods=["GET", "POST"]),
            Route("/shop", shop),
            Route("/checkout", checkout, methods=["GET", "POST"]),
            Route("/storage", storage),
            Route("/isolation", isolation.isolation),
            Route("/isolation/stamp", isolation.stamp),
            Route("/isolation/sw.js", isolation.service_worker),
            Route("/slow", slow),
            Route("/flaky", flaky),
            Route("/redirect", redirect),
            Route("/health", health),
            # Pages built to trip naive runners (see demosite.controls, demosite.browser).
            Route("/todos", controls.todos),
            Route("/shadow", controls.shadow),
            Route("/sortable", controls.sortable),
            Route("/signup", controls.signup),
            Route("/obstacles", browser.obstacles),
            Route("/frames", browser.frames),
            Route("/frames/card", browser.card),
            Route("/dialogs", browser.dialogs),
            Route("/upload", browser.upload),
            Route("/tabs", browser.tabs),
            Route("/tabs/help", browser.tabs_help),
            Route("/broken", browser.broken),
            Route("/visual", visual.visual),
            Route("/a11y", a11y.a11y),
            Route("/a11y/clean", a11y.clean),
            Route("/a11y/contrast", a11y.contrast),
            Route("/a11y/frame", a11y.frame),
            Route("/speed", speed.speed),
        ]
    )


app = create_app()


def main(host: str, port: int) -> None:
    """Serve the demo app on ``host:port`` until interrupted (SIGINT / SIGTERM)."""
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)
