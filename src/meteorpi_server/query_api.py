"""The query API: cameras, camera status, event and file searches, file content. No auth.

Search strings are the search's dict as JSON, URL-encoded twice by the 2015 client
(``quote_plus(quote_plus(json))``) so that proxies leave them alone. The WSGI server removes one
layer; :func:`decode_search` removes the other, and also accepts a string encoded only once.
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Any
from urllib.parse import unquote_plus

from flask import Response, current_app, jsonify, request
from werkzeug.routing import PathConverter
from werkzeug.utils import send_file

from meteorpi_model import (EventSearch, FileRecordSearch, milliseconds_to_utc_datetime,
                            utc_datetime_to_milliseconds)
from meteorpi_server.app import MeteorApp, parse_json_object
from meteorpi_server.content_offload import offloaded
from meteorpi_server.content_stream import presigned_redirect, streamed
from meteorpi_server.errors import BadRequest, error_response
from meteorpi_server.routing import (blueprint, camera_id_param, int_param, optional_routes,
                                     uuid_param)
from meteorpi_server.search_cache import ResultCache, SearchAnswers, SearchShortcut, pop_cursor


_SUFFIX_RANGE = re.compile(r"\s*bytes\s*=\s*-\s*(\d{1,30})\s*", re.IGNORECASE)


class AnythingConverter(PathConverter):
    """Like ``path``, but also matches newlines, so that any search string reaches the view
    (which answers 400 if it is not a search) instead of routing answering 404."""

    regex = "[^/][\\s\\S]*?"


def decode_search(text: str) -> dict[str, Any]:
    """The search dict from a path segment that is once- or twice-URL-encoded JSON."""
    text = text.strip()
    if not text.startswith("{"):
        text = unquote_plus(text)
    try:
        return parse_json_object(text, "search")
    except BadRequest:
        # Encoded once with quote_plus: the server decoded %XX but left '+' for spaces.
        if "+" in text:
            return parse_json_object(text.replace("+", " "), "search")
        raise


def capped(search: Any, cap: int | None = None) -> Any:
    """``search`` with its limit capped at ``cap`` (default MPI_MAX_PAGE_SIZE; 0, "no limit",
    means the cap)."""
    if cap is None:
        cap = current_app.config["MPI_MAX_PAGE_SIZE"]
    if search.limit == 0 or search.limit > cap:
        search.limit = cap
    return search


def _range_environ(size: int) -> dict[str, Any]:
    """The request environ, with the Range header adjusted where Werkzeug departs from RFC 9110.

    A server may ignore Range: we do for other units and for multi-range requests (Werkzeug
    would answer them 416), so those get 200 and the whole content. A suffix range longer
    than the content means the whole content (Werkzeug would answer 416).
    """
    environ = dict(request.environ)
    value = environ.get("HTTP_RANGE", "")
    if value and (not value.strip().lower().startswith("bytes=") or "," in value):
        del environ["HTTP_RANGE"]
    suffix = _SUFFIX_RANGE.fullmatch(value)
    if suffix and size > 0 and int(suffix.group(1)) >= size:
        environ["HTTP_RANGE"] = "bytes=0-"
    return environ


def gone(file_id: uuid.UUID, pruned: datetime) -> Response:
    """410 for content that housekeeping removed: the record stays (searchable, with its size
    and MD5); ``pruned_time`` says when, in epoch milliseconds."""
    return error_response(
        410, f"The content of file {file_id.hex} was pruned from this node on "
             f"{pruned.strftime('%Y-%m-%d %H:%M:%S')} UTC by its retention policy; the record remains",
        entity_id=file_id.hex, pruned_time=utc_datetime_to_milliseconds(pruned))


def add_routes(meteor_app: MeteorApp, url_path: str = "") -> None:
    """Add the search and retrieval routes (SPEC section 7) to ``meteor_app`` under ``url_path``,
    with the activity counts (``activity_api``) and thumbnails (``thumbnail_api``)."""
    db = meteor_app.db
    cache = ResultCache(meteor_app.settings["MPI_SEARCH_CACHE_BYTES"])
    meteor_app.app.url_map.converters["anything"] = AnythingConverter
    bp = blueprint("query", url_path)

    @bp.get("/cameras")
    def cameras() -> Response:
        return jsonify({"cameras": db.get_cameras()})

    @bp.get("/cameras/<camera_id>/status")
    def camera_status(camera_id: str) -> Response:
        status = db.get_camera_status(camera_id=camera_id_param(camera_id))
        if status is None:
            return meteor_app.not_found(camera_id, "No status for this camera")
        return jsonify({"status": status.as_dict()})

    @bp.get("/cameras/<camera_id>/status/<time>")
    def camera_status_at(camera_id: str, time: str) -> Response:
        at = milliseconds_to_utc_datetime(int_param(time, "time"), "time")
        status = db.get_camera_status(time=at, camera_id=camera_id_param(camera_id))
        if status is None:
            return meteor_app.not_found(camera_id, "No status for this camera at this time")
        return jsonify({"status": status.as_dict()})

    cap = meteor_app.settings["MPI_MAX_PAGE_SIZE"]

    def page(search_class: type, wire: Any) -> Any:
        def build(text: str) -> bytes:
            search_dict = decode_search(text)
            cursor = pop_cursor(search_dict)
            return wire(capped(search_class.from_dict(search_dict), cap), cursor)

        return build

    answers = SearchAnswers(db, cache, {"events": page(EventSearch, db.search_events_wire),
                                        "files": page(FileRecordSearch, db.search_files_wire)})
    meteor_app.app.wsgi_app = SearchShortcut(
        meteor_app.app.wsgi_app, answers, url_path,
        meteor_app.app.extensions.setdefault("meteorpi_answer_observers", []))

    @bp.get("/events/<anything:search>")
    def search_events(search: str) -> Response:
        return answers.flask_answer("events", search)

    @bp.get("/files/<anything:search>")
    def search_files(search: str) -> Response:
        return answers.flask_answer("files", search)

    @bp.get("/files/content/<file_id>")
    @bp.get("/files/content/<file_id>/<anything:file_name>")
    def file_content(file_id: str, file_name: str | None = None) -> Response:
        record = db.get_file(uuid_param(file_id, "file_id"))
        if record is None:
            return meteor_app.not_found(file_id, "No such file")
        offload = current_app.config["MPI_CONTENT_OFFLOAD"]
        presign = current_app.config.get("MPI_S3_PRESIGN_SECONDS", 0)
        try:
            source = db.file_store.content_source(record.file_id)
            response = (presigned_redirect(source, presign, record.mime_type, record.file_name)
                        if presign else None)
            if response is not None:
                return response
            path = source.path
            if path is None:
                response = streamed(source, _range_environ(source.size), record.mime_type, record.md5,
                                    record.file_name)
            elif offload:
                response = offloaded(offload, current_app.config["MPI_CONTENT_OFFLOAD_PREFIX"], path,
                                     db.file_store_path, record.mime_type, record.md5, record.file_name)
            else:
                response = send_file(path, _range_environ(source.size),
                                     mimetype=record.mime_type, download_name=record.file_name,
                                     conditional=True, etag=record.md5 or False,
                                     response_class=current_app.response_class)
        except FileNotFoundError:
            pruned = db.pruned_time(record.file_id)
            if pruned is not None:
                return gone(record.file_id, pruned)
            return meteor_app.not_found(file_id, "No content for this file")
        if record.file_name is None:
            response.headers.pop("Content-Disposition", None)
        # Content is whatever a camera registered: never let it run as a page of this origin.
        response.headers["Content-Security-Policy"] = "sandbox"
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response

    meteor_app.app.register_blueprint(bp)
    from meteorpi_server import activity_api

    activity_api.add_routes(meteor_app, url_path)
    thumbnail_api = optional_routes("thumbnail_api", "PIL")  # Pillow: the 'server' extra
    if thumbnail_api is not None:
        thumbnail_api.add_routes(meteor_app, url_path)
