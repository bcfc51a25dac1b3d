"""The website route set (``browse``): static pages for people over the query and admin APIs.

Pages are plain HTML files in ``web/pages/`` (``<name>.html`` is served at ``web/<name>``,
``index.html`` at ``web/``); their scripts (ES modules), the one style sheet and the icons are
in ``web/static/`` and served at ``web/static/<asset>``. There is no build step and nothing is
loaded from other sites: the Content-Security-Policy lets a page run only scripts and styles
from this server. Every URL in the pages is relative, so the site works under any
``url_path`` as long as the API routes are mounted at the same one. ``GET /`` and
``GET /browse`` redirect to the gallery (``web/``). See docs/website.md.
"""

from __future__ import annotations

import hashlib
import mimetypes
import re
from functools import cache
from importlib import resources

from flask import Response, redirect, request

from meteorpi_server.app import MeteorApp
from meteorpi_server.errors import NotFound
from meteorpi_server.routing import blueprint

#: the policy of every page: only this server's own scripts, styles, images and API
POLICY = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
          "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
#: assets revalidate on every use (a cheap 304 by ETag), so a page never mixes versions
ASSET_CACHE = "no-cache"
_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}(\.[a-z0-9]{1,8})?")
_TYPES = {".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml",
          ".png": "image/png", ".html": "text/html"}


@cache
def _file(folder: str, name: str) -> tuple[bytes, str] | None:
    """A file of ``web/<folder>`` and its ETag, or None if there is none by that name."""
    if not _NAME.fullmatch(name):
        return None
    path = resources.files("meteorpi_server").joinpath("web", folder, name)
    if not path.is_file():
        return None
    body = path.read_bytes()
    return body, hashlib.sha256(body).hexdigest()[:32]


def page_names() -> list[str]:
    """The names of the served pages (``index`` is the gallery at ``web/``)."""
    folder = resources.files("meteorpi_server").joinpath("web", "pages")
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".html"))


def _serve(folder: str, name: str, content_type: str, cache_control: str) -> Response:
    found = _file(folder, name)
    if found is None:
        raise NotFound(f"no such {'page' if folder == 'pages' else 'asset'}: {name[:64]!r}")
    body, etag = found
    headers = {"ETag": f'"{etag}"', "Cache-Control": cache_control, "X-Content-Type-Options": "nosniff",
               "Referrer-Policy": "no-referrer"}
    if folder == "pages":
        headers["Content-Security-Policy"] = POLICY
    if request.if_none_match.contains(etag):
        return Response(status=304, headers=headers)
    if content_type.startswith("text/") or content_type.endswith("+xml"):
        content_type += "; charset=utf-8"
    return Response(body, content_type=content_type, headers=headers)


def add_routes(meteor_app: MeteorApp, url_path: str = "") -> None:
    """Add the website (``web/...``) and the redirects at ``/`` and ``/browse`` under ``url_path``."""
    bp = blueprint("browse", url_path)

    @bp.get("/")
    @bp.get("/browse")
    def home() -> Response:
        query = request.query_string.decode("latin-1")
        target = "web/" + (f"?{query}" if query else "")
        response = redirect(target, code=302)
        response.headers["Cache-Control"] = "no-cache"
        return response

    @bp.get("/web/")
    def gallery() -> Response:
        return _serve("pages", "index.html", "text/html", "no-cache")

    @bp.get("/web/<page>")
    def web_page(page: str) -> Response:
        return _serve("pages", f"{page}.html", "text/html", "no-cache")

    @bp.get("/web/static/<asset>")
    def web_asset(asset: str) -> Response:
        suffix = asset[asset.rfind("."):] if "." in asset else ""
        content_type = _TYPES.get(suffix) or mimetypes.guess_type(asset)[0] or "application/octet-stream"
        return _serve("static", asset, content_type, ASSET_CACHE)

    meteor_app.app.register_blueprint(bp)
