"""The throughput benchmark's suites: 44 short tests (5-10 steps) on the bundled demo site.

Generated, not hand-written, so that quick mode can take a few of each kind and
the unit tests can check that every one loads. Each kind of test is a template
filled with a few parameter sets; every test passes on a healthy demo site and
expects a fresh browser state (``/storage`` checks it), so a runner that reuses
a browser must reset it between tests.

The suites are written in the testfleet short form (the YAML people write) with
``base_url: ${DEMO_URL}`` (declared in ``env:``), so the fleet, the pytest baseline and
the hand-tuned runner all read the very same files.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from itertools import product
from pathlib import Path
from typing import Any

import yaml

from testfleet.suites.loader import load_paths
from testfleet.suites.model import Suite

Step = dict[str, Any]
TestDoc = dict[str, Any]


def _login_ok(submit_with_enter: bool) -> TestDoc:
    submit: Step = (
        {"press": {"selector": "#pass", "keys": "Enter"}}
        if submit_with_enter
        else {"click": "button[type=submit]"}
    )
    return {
        "name": f"login succeeds ({'Enter key' if submit_with_enter else 'button'})",
        "steps": [
            {"navigate": "/login"},
            {"assert_title": "Sign in"},
            {"type": {"selector": "#user", "text": "alice"}},
            {"type": {"selector": "#pass", "text": "wonderland"}},
            submit,
            {"wait": "#menu"},
            {"assert_url": "/dashboard"},
            {"assert_text": {"selector": "h1", "equals": "Welcome, alice"}},
        ],
    }


def _login_bad(password: str) -> TestDoc:
    return {
        "name": f"login rejects password {password!r}",
        "steps": [
            {"navigate": "/login"},
            {"type": {"selector": "#user", "text": "alice"}},
            {"type": {"selector": "#pass", "text": password}},
            {"click": "button[type=submit]"},
            {"wait": ".error"},
            {"assert_text": {"selector": ".error", "contains": "Invalid username or password"}},
            {"assert_attribute": {"selector": "#user", "attribute": "value", "equals": "alice"}},
        ],
    }


_ORDERS_BY_STATUS = {"All": 5, "Open": 2, "Shipped": 3}


def _filter_orders(status: str) -> TestDoc:
    shown = _ORDERS_BY_STATUS[status]
    return {
        "name": f"orders filter {status}",
        "steps": [
            {"navigate": "/dashboard"},
            {"assert_title": "Dashboard"},
            {"assert_count": {"selector": "#orders tbody tr", "count": 5}},
            {"select": {"selector": "#status-filter", "option": status}},
            {"assert_text": {"selector": "#order-count", "equals": f"{shown} orders"}},
            {"assert_count": {"selector": "#orders tbody tr:not([hidden])", "count": shown}},
        ],
    }


def _add_item(item: str) -> TestDoc:
    return {
        "name": f"add item {item}",
        "steps": [
            {"navigate": "/dashboard"},
            {"type": {"selector": "#new-item", "text": item}},
            {"click": "#add-item"},
            {"wait": "li.new-item"},
            {"assert_text": {"selector": "#items li:last-child", "equals": item}},
            {"assert_text": {"selector": "#item-count", "equals": "3"}},
        ],
    }


def _feedback(name: str, topic: str) -> TestDoc:
    return {
        "name": f"feedback from {name} about {topic}",
        "steps": [
            {"navigate": "/form"},
            {"type": {"selector": "#name", "text": name}},
            {"type": {"selector": "#email", "text": f"{name.lower()}@example.com"}},
            {"select": {"selector": "#topic", "option": topic}},
            {"type": {"selector": "#message", "text": "Lovely tea party."}},
            {"click": "#send"},
            {"wait": "#result"},
            {"assert_text": {"selector": "#result-topic", "equals": topic}},
            {"assert_text": {"selector": "h1", "contains": name}},
        ],
    }


def _cart(sku: str, quantity: int) -> TestDoc:
    # Separate dicts: one object repeated would come out as a YAML anchor and alias.
    adds: list[Step] = [{"click": f".add-to-cart[data-sku={sku}]"} for _ in range(quantity)]
    return {
        "name": f"cart holds {quantity} {sku}",
        "steps": [
            {"navigate": "/shop"},
            *adds,
            {"assert_text": {"selector": "#cart-count", "equals": str(quantity)}},
            {"click": "#go-to-checkout"},
            {"wait": "#checkout-form"},
            {"assert_count": {"selector": ".cart-line", "count": 1}},
            {"assert_text": {"selector": "#cart-summary", "contains": f"{quantity} x"}},
        ],
    }


def _checkout(sku: str, shipping: str) -> TestDoc:
    return {
        "name": f"checkout {sku} with {shipping} shipping",
        "steps": [
            {"navigate": "/shop"},
            {"click": f".add-to-cart[data-sku={sku}]"},
            {"click": "#go-to-checkout"},
            {"type": {"selector": "#full-name", "text": "Alice Liddell"}},
            {"select": {"selector": "#shipping", "option": shipping}},
            {"click": "#place-order"},
            {"wait": "#order-number"},
            {"assert_text": {"selector": "#order-items", "equals": "1"}},
            {"assert_text": {"selector": "#order-shipping", "equals": shipping}},
        ],
    }


def _storage(variant: int) -> TestDoc:
    """A fresh browser must look new here: catches state leaking from an earlier test."""
    return {
        "name": f"storage starts empty ({variant})",
        "steps": [
            {"navigate": "/storage"},
            {"wait": "#storage-ready"},
            {"assert_text": {"selector": "#cookie-state", "equals": "new"}},
            {"assert_text": {"selector": "#local-state", "equals": "new"}},
            {"assert_text": {"selector": "#session-state", "equals": "new"}},
            {"click": "#clear-storage"},
            {"assert_text": {"selector": "#storage-ready", "equals": "cleared"}},
        ],
    }


_NAV_PAGES = {
    "/login": "Sign in",
    "/dashboard": "Dashboard",
    "/form": "Feedback",
    "/shop": "Shop",
    "/storage": "Storage",
    "/slow": "Slow",
}


def _home_link(href: str) -> TestDoc:
    return {
        "name": f"home links to {href}",
        "steps": [
            {"navigate": "/"},
            {"assert_count": {"selector": "#links li", "count": len(_NAV_PAGES)}},
            {"click": f"a.page-link[href='{href}']"},
            {"assert_url": href},
            {"assert_title": _NAV_PAGES[href]},
        ],
    }


def _slow(delay_ms: int) -> TestDoc:
    return {
        "name": f"slow page after {delay_ms} ms",
        "steps": [
            {"navigate": f"/slow?delay_ms={delay_ms}"},
            {"assert_title": "Slow"},
            {"wait": "#slow-content"},
            {"assert_text": {"selector": "#slow-status", "equals": "Loaded"}},
            {"assert_visible": "#slow-content"},
            {"screenshot": f"slow-{delay_ms}"},
        ],
    }


_ITEMS = ("Jam", "Scones", "Cream", "Honey", "Butter", "Toast")
_SKUS = ("tea", "biscuits", "teapot")
_TOPICS = ("General", "Bug report", "Feature request")

# (suite name, template, parameter sets): one suite file per template.
TEMPLATES: tuple[tuple[str, Callable[..., TestDoc], tuple[tuple[Any, ...], ...]], ...] = (
    ("Bench login", _login_ok, ((False,), (True,))),
    ("Bench bad login", _login_bad, (("x",), ("alice",), ("Wonderland",), ("wonderland ",))),
    ("Bench orders", _filter_orders, tuple((s,) for s in _ORDERS_BY_STATUS)),
    ("Bench items", _add_item, tuple((i,) for i in _ITEMS)),
    ("Bench feedback", _feedback, tuple(product(("Alice", "Hatter"), _TOPICS))),
    ("Bench cart", _cart, tuple(product(_SKUS, (1, 2)))),
    ("Bench checkout", _checkout, tuple(product(_SKUS, ("Standard", "Express")))),
    ("Bench storage", _storage, ((1,), (2,))),
    ("Bench home", _home_link, tuple((h,) for h in _NAV_PAGES)),
    ("Bench slow", _slow, ((100,), (200,), (300,))),
)


def suite_documents(
    per_template: int | None = None, prefix: str = "", kinds: int | None = None
) -> list[dict[str, Any]]:
    """The bench suites as short-form documents.

    ``per_template`` caps the tests per suite, ``kinds`` the number of suites
    (templates, in order); ``prefix`` goes before each suite name.
    """
    documents = []
    for name, template, params in TEMPLATES[:kinds]:
        chosen = params if per_template is None else params[:per_template]
        documents.append(
            {
                "name": f"{prefix}{name}",
                "env": ["DEMO_URL"],
                "base_url": "${DEMO_URL}",
                "timeout_seconds": 10,
                "tests": [template(*p) for p in chosen],
            }
        )
    return documents


def write_suites(
    directory: Path, per_template: int | None = None, prefix: str = "", kinds: int | None = None
) -> int:
    """Write one YAML file per suite into ``directory``; returns the number of tests."""
    directory.mkdir(parents=True, exist_ok=True)
    total = 0
    for index, document in enumerate(suite_documents(per_template, prefix, kinds)):
        path = directory / f"{index:02d}_{document['name'].lower().replace(' ', '_')}.yaml"
        path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
        total += len(document["tests"])
    return total


def load_suites(
    directory: Path, demo_url: str, env: Mapping[str, str] | None = None
) -> list[Suite]:
    """Load the suites in ``directory`` the way ``testfleet run`` does, for the baselines."""
    return load_paths([directory], {**(env or {}), "DEMO_URL": demo_url})
