"""The API's interactive docs: ``/docs`` (Swagger UI) and ``/redoc`` (ReDoc), offline.

FastAPI's own pages load their scripts and stylesheet from a CDN (and ReDoc's fonts
from Google): on a fleet without internet, as most CI networks are, they stay blank.
These pages load them from the package instead, ``api/static/docs/`` served
at ``/docs/static/`` (its ``NOTICE`` says where each file comes from, its version and
its licence), so the browser asks nothing of any host but the API.

Like ``/openapi.json`` they are open: they show the schema, never a project's data;
a key typed into Swagger UI's "Authorize" stays in the page.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from starlette.staticfiles import StaticFiles

__all__ = ["ASSETS_PATH", "DOCS_PATH", "REDOC_PATH", "install_docs"]

DOCS_PATH = "/docs"
REDOC_PATH = "/redoc"
ASSETS_PATH = "/docs/static"
"""Where the files of ``api/static/docs/`` are served."""
_FAVICON = "favicon-32x32.png"
_SWAGGER_PARAMETERS = {
    # Swagger UI would otherwise send the schema's URL to validator.swagger.io.
    "validatorUrl": None,
}


def install_docs(app: FastAPI) -> None:
    """Serve the docs pages and their files on ``app``, which must be made with
    ``docs_url=None, redoc_url=None`` (FastAPI's CDN pages would answer first)."""
    if app.docs_url is not None or app.redoc_url is not None:
        raise ValueError(
            "make the app with FastAPI(docs_url=None, redoc_url=None): its own /docs and "
            "/redoc load their scripts from a CDN and would shadow the offline pages"
        )
    openapi_url = app.openapi_url
    if openapi_url is None:
        raise ValueError("the docs pages show the app's OpenAPI: keep its openapi_url")
    assets = StaticFiles(packages=[("api", "static/docs")])
    app.mount(ASSETS_PATH, assets, name="docs-static")

    @app.get(DOCS_PATH, include_in_schema=False)
    def swagger_ui(request: Request) -> HTMLResponse:
        base = _root_path(request)
        return get_swagger_ui_html(
            openapi_url=base + openapi_url,
            title=f"{app.title} - Swagger UI",
            swagger_js_url=f"{base}{ASSETS_PATH}/swagger-ui-bundle.js",
            swagger_css_url=f"{base}{ASSETS_PATH}/swagger-ui.css",
            swagger_favicon_url=f"{base}{ASSETS_PATH}/{_FAVICON}",
            swagger_ui_parameters=_SWAGGER_PARAMETERS,
        )

    @app.get(REDOC_PATH, include_in_schema=False)
    def redoc(request: Request) -> HTMLResponse:
        base = _root_path(request)
        return get_redoc_html(
            openapi_url=base + openapi_url,
            title=f"{app.title} - ReDoc",
            redoc_js_url=f"{base}{ASSETS_PATH}/redoc.standalone.js",
            redoc_favicon_url=f"{base}{ASSETS_PATH}/{_FAVICON}",
            with_google_fonts=False,
        )


def _root_path(request: Request) -> str:
    # Behind a proxy that mounts the API under a prefix (uvicorn --root-path), the
    # browser must ask for the schema and the files under that prefix too.
    root: str = request.scope.get("root_path", "")
    return root.rstrip("/")
