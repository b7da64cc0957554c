"""``/a11y``: a page with known accessibility violations, and its clean twin.

``/a11y`` breaks, on purpose, one rule of each impact axe-core gives, in the page, in
an open shadow root and in a frame:

- critical: an image without ``alt`` (``image-alt``, also inside the shadow root of
  ``<brand-logo>``), an icon button without a name (``button-name``, also in the
  frame), a text field without a label (``label``);
- serious: grey text on white (``color-contrast``), an empty link (``link-name``),
  a frame without a title (``frame-title``);
- moderate: a heading level skipped (``heading-order``, best-practice).

``/a11y/clean`` is the same page with each fixed; ``/a11y/frame`` (``?clean=1``) is
what the frame shows. ``/a11y/contrast`` fixes everything but the grey text, for checks of
one serious violation.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from demosite.layout import page

_PIXEL = (
    "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk"
    "YPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)
_STYLE = ".faint{color:#bbb;background:#fff}.clear{color:#333;background:#fff}"


def _script(alt: str) -> str:
    return f"""
class BrandLogo extends HTMLElement {{
  constructor() {{
    super();
    this.attachShadow({{mode: "open"}}).innerHTML = '<img src="{_PIXEL}" width="24" '
      + 'height="24"{alt}>';
  }}
}}
customElements.define("brand-logo", BrandLogo);
"""


def _body(clean: bool, contrast_only: bool = False) -> str:
    fixed = clean or contrast_only
    alt = ' alt="Acme"' if fixed else ""
    text_class = "clear" if clean else "faint"
    heading = "h2" if fixed else "h4"
    return (
        "<h1>Accessibility</h1>"
        f'<p class="{text_class}" id="note">Prices include VAT.</p>'
        f'<img id="hero" src="{_PIXEL}" width="40" height="40"{alt}>'
        "<brand-logo></brand-logo>"
        + (
            '<button id="close" type="button" aria-label="Close">×</button>'
            if fixed
            else '<button id="close" type="button"></button>'
        )
        + (
            '<label for="q">Search</label><input id="q" type="text">'
            if fixed
            else '<input id="q" type="text">'
        )
        + (
            '<a id="more" href="/a11y/clean">More about prices</a>'
            if fixed
            else '<a id="more" href="/a11y/clean"></a>'
        )
        + f"<{heading}>Details</{heading}>"
        + (
            '<iframe id="card" title="Payment card" src="/a11y/frame?clean=1"></iframe>'
            if fixed
            else '<iframe id="card" src="/a11y/frame"></iframe>'
        )
    )


async def a11y(request: Request) -> Response:
    return page("Accessibility", _body(False), _script(""), style=_STYLE)


async def clean(request: Request) -> Response:
    return page("Accessibility", _body(True), _script(' alt="Acme"'), style=_STYLE)


async def contrast(request: Request) -> Response:
    body = _body(False, contrast_only=True)
    return page("Accessibility", body, _script(' alt="Acme"'), style=_STYLE)


async def frame(request: Request) -> Response:
    named = request.query_params.get("clean") == "1"
    button = (
        '<button id="pay" type="button" aria-label="Pay">→</button>'
        if named
        else '<button id="pay" type="button"></button>'
    )
    document = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Card</title>'
        f'</head><body><main aria-label="Card"><h1>Card</h1>{button}</main></body></html>'
    )
    return HTMLResponse(document)
