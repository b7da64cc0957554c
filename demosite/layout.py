"""The frame every demo page shares: title, navigation bar, the site's CSS."""

from __future__ import annotations

import html

from starlette.responses import HTMLResponse

CSS = """
body{font-family:system-ui,sans-serif;margin:0;color:#222}
nav{background:#234;padding:.6rem 1rem}nav a{color:#fff;margin-right:1rem}
main{padding:1rem 2rem;max-width:60rem}
label{display:block;margin-top:.6rem}input,select,textarea{padding:.3rem;min-width:14rem}
button{margin-top:.8rem;padding:.4rem 1rem;cursor:pointer}
.error{color:#b00;font-weight:bold}.ok{color:#070}
table{border-collapse:collapse;margin:.6rem 0}td,th{border:1px solid #999;padding:.3rem .6rem}
.menu{display:inline-block;position:relative}
.menu-items{display:none;position:absolute;background:#fff;border:1px solid #999;padding:.4rem}
.menu:hover .menu-items{display:block}.menu-items a{display:block;padding:.2rem}
.product{border:1px solid #ccc;padding:.6rem;margin:.4rem 0}
"""

NAV = (
    ("/", "Home"),
    ("/login", "Sign in"),
    ("/dashboard", "Dashboard"),
    ("/form", "Feedback"),
    ("/shop", "Shop"),
    ("/storage", "Storage"),
    ("/slow", "Slow"),
)


def page(
    title: str, body: str, script: str = "", status_code: int = 200, style: str = ""
) -> HTMLResponse:
    """A demo page: ``<title>{title} - testfleet demo</title>``, the nav bar, ``body`` in
    ``<main>``, then ``script``; ``style`` adds to the site's CSS."""
    nav = "".join(f'<a href="{href}">{label}</a>' for href, label in NAV)
    document = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)} - testfleet demo</title><style>{CSS}{style}</style></head>"
        f'<body id="top"><nav id="nav">{nav}</nav><main>{body}</main>'
        f"<script>{script}</script></body></html>"
    )
    return HTMLResponse(document, status_code=status_code)
