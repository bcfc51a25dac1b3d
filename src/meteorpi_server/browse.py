"""The browse route set: one read-only HTML page (``GET /`` and ``GET /browse``) for people.

The page (``static/browse.html``: inline CSS and vanilla JavaScript, no build step, nothing
loaded from other sites) lists the cameras and pages through events and sky-clarity images
using only the query API, with URLs relative to itself, so it works under any ``url_path``
as long as the query routes are mounted at the same one.
"""

from __future__ import annotations

import base64
import hashlib
import re
from functools import cache
from importlib import resources

from flask import Response

from meteorpi_server.app import MeteorApp
from meteorpi_server.routing import blueprint

PAGE = "browse.html"


def _source_hash(html: str, tag: str) -> str:
    """The CSP source expression allowing the page's one inline ``<tag>`` element."""
    blocks = re.findall(rf"<{tag}>(.*?)</{tag}>", html, re.DOTALL)
    if len(blocks) != 1:
        raise ValueError(f"{PAGE} must hold exactly one inline <{tag}>, found {len(blocks)}")
    digest = hashlib.sha256(blocks[0].encode("utf-8")).digest()
    return f"'sha256-{base64.b64encode(digest).decode('ascii')}'"


@cache
def page() -> tuple[bytes, str]:
    """The page's bytes and the Content-Security-Policy that lets only its own code run."""
    html = resources.files("meteorpi_server").joinpath("static", PAGE).read_text("utf-8")
    policy = ("default-src 'none'; connect-src 'self'; img-src 'self' data:; "
              f"script-src {_source_hash(html, 'script')}; style-src {_source_hash(html, 'style')}; "
              "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
    return html.encode("utf-8"), policy


def add_routes(meteor_app: MeteorApp, url_path: str = "") -> None:
    """Add ``GET /`` and ``GET /browse`` (the browse page) to ``meteor_app`` under ``url_path``."""
    bp = blueprint("browse", url_path)

    @bp.get("/")
    @bp.get("/browse")
    def browse() -> Response:
        body, policy = page()
        response = Response(body, mimetype="text/html")
        response.headers["Content-Security-Policy"] = policy
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["Cache-Control"] = "no-cache"
        return response

    meteor_app.app.register_blueprint(bp)
