"""``GET /files/thumbnail/<file_id>``: a small preview of a file, no auth.

Image content gets a thumbnail (see ``thumbnails``), made on the first request and kept among
the file's derived files in the file store (``FileStore.read_derived`` / ``write_derived``);
anything else, and images that cannot be decoded, get an SVG icon of their kind. Both are
immutable for a given file (content never changes under an id), so they are sent with a
year-long ``Cache-Control``, an ``ETag`` and conditional GET.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Response, current_app, request

from meteorpi_server import thumbnails
from meteorpi_server.app import MeteorApp
from meteorpi_server.query_api import gone
from meteorpi_server.routing import blueprint, uuid_param

logger = logging.getLogger("meteorpi.server")

CACHE_CONTROL = "public, max-age=31536000, immutable"


def add_routes(meteor_app: MeteorApp, url_path: str = "") -> None:
    """Add ``GET /files/thumbnail/<file_id>`` to ``meteor_app`` under ``url_path``."""
    db = meteor_app.db
    bp = blueprint("thumbnail", url_path)

    @bp.get("/files/thumbnail/<file_id>")
    def thumbnail(file_id: str) -> Response:
        record = db.get_file(uuid_param(file_id, "file_id"))
        if record is None:
            return meteor_app.not_found(file_id, "No such file")
        if not db.file_store.has_content(record.file_id):
            pruned = db.pruned_time(record.file_id)
            if pruned is not None:
                return gone(record.file_id, pruned)
            return meteor_app.not_found(file_id, "No content for this file")
        if thumbnails.is_image(record.mime_type):
            answer = _image_thumbnail(db, record)
            if answer is not None:
                return answer
            return _icon("image")
        return _icon(thumbnails.icon_kind(record.mime_type))

    meteor_app.app.register_blueprint(bp)


def _image_thumbnail(db: Any, record: Any) -> Response | None:
    """The cached or newly made thumbnail of an image file; None if it cannot be decoded."""
    store, name = db.file_store, thumbnails.DERIVED_NAME
    tag = f"{record.md5}-{name}" if record.md5 else None
    if tag is not None and tag in request.if_none_match:
        return _cacheable(current_app.response_class(status=304), thumbnails.MIME_TYPE, tag)
    data = store.read_derived(record.file_id, name)
    if data is None:
        try:
            data = thumbnails.make_thumbnail(db.file_path_for_id(record.file_id))
        except thumbnails.NoThumbnail as e:
            logger.info("No thumbnail for file %s: %s", record.file_id.hex, e)
            return None
        except FileNotFoundError:  # pruned just now
            return None
        store.write_derived(record.file_id, name, data)
    return _answer(data, thumbnails.MIME_TYPE, tag)


def _icon(kind: str) -> Response:
    return _answer(thumbnails.ICONS[kind].encode(), "image/svg+xml", f"icon-{kind}-1")


def _answer(data: bytes, mime_type: str, tag: str | None) -> Response:
    response = current_app.response_class(data, mimetype=mime_type)
    if tag is None:
        response.add_etag()
        tag = response.get_etag()[0]
    return _cacheable(response, mime_type, tag).make_conditional(request)


def _cacheable(response: Response, mime_type: str, tag: str) -> Response:
    response.set_etag(tag)
    response.headers["Cache-Control"] = CACHE_CONTROL
    response.headers["Content-Type"] = mime_type
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "sandbox"
    return response
