"""OpenAPI paths of the routes the website is built on: activity counts, thumbnails, camera
health and metrics. ``openapi.DOCUMENT`` includes :data:`WEBSITE_PATHS`."""

from __future__ import annotations

from typing import Any

from meteorpi_server.openapi_schemas import CAMERA_ID, MILLIS, UUID, obj, text

_NULLABLE_MS = {**MILLIS, "nullable": True}


def _query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


def website_paths(op: Any, ok: Any, search_param: Any, path: Any) -> dict[str, Any]:
    """The paths, built with ``openapi``'s helpers (passed in: that module imports this one)."""
    activity_bin = obj({"camera_id": CAMERA_ID, "start": MILLIS, "count": {"type": "integer", "minimum": 1},
                        "mean": {"type": "number", "nullable": True}},
                       ("camera_id", "start", "count", "mean"))
    params = [_query("bin", {"type": "string", "enum": ["hour", "night", "day"], "default": "night"},
                     "Bin size: hours, UTC days, or nights (noon to noon UTC)"),
              _query("mean", text(), "A metadata key whose numeric values are averaged per bin")]

    def activity(kind: str, schema_name: str) -> dict[str, Any]:
        return {"get": op(
            f"activity{kind.capitalize()}", "query",
            f"Counts of matching {kind} per camera and time bin (the search's skip, limit and "
            f"cursor are ignored; at most 2000 bins per camera)",
            {"200": ok("Non-empty bins by start then camera, and their total", obj({
                "kind": {"type": "string", "enum": [kind]},
                "bin": {"type": "string", "enum": ["hour", "night", "day"]},
                "bins": {"type": "array", "items": activity_bin},
                "total": {"type": "integer", "minimum": 0}}, ("kind", "bin", "bins", "total"))),
             "304": {"description": "Not modified: If-None-Match matched the ETag, and nothing was "
                                    "written to the database since"}},
            [search_param(schema_name), *params])}

    binary = {"schema": {"type": "string", "format": "binary"}}
    thumbnail = {
        "200": {"description": "A thumbnail of image content (WebP, or JPEG where Pillow lacks WebP; at "
                               "most 240 px on the long side), else an SVG icon of the content's kind; "
                               "Cache-Control: public, max-age=31536000, immutable",
                "content": {"image/webp": binary, "image/jpeg": binary, "image/svg+xml": binary}},
        "304": {"description": "Not modified (If-None-Match matched the ETag)"},
    }
    camera = obj({
        "camera_id": CAMERA_ID, "last_status_change": _NULLABLE_MS, "last_event": _NULLABLE_MS,
        "last_file": _NULLABLE_MS, "last_import": _NULLABLE_MS, "high_water_mark": _NULLABLE_MS,
        "export": obj({"pending": {"type": "integer", "minimum": 0}, "failed": {"type": "integer", "minimum": 0}},
                      ("pending", "failed")),
        "typical_gap_s": {"type": "number", "nullable": True},
        "quiet": {"type": "boolean"}, "quiet_for_s": {"type": "number", "nullable": True}},
        ("camera_id", "last_status_change", "last_event", "last_file", "last_import", "high_water_mark",
         "export", "typical_gap_s", "quiet", "quiet_for_s"))
    metrics = {"200": {"description": "Prometheus text format (OpenMetrics if the Accept header asks for it)",
                       "content": {"text/plain": {"schema": {"type": "string"}}}}}
    return {
        "/metrics": {"get": {**op("metrics", "service", "Prometheus metrics: requests by route and status, "
                                  "latency, import results, export queue, database and store sizes "
                                  "(MPI_METRICS: off, public, or admin with Basic auth and camera_admin)",
                                  metrics, errors=("403", "429")),
                             "security": [{}, {"basicAuth": []}]}},
        "/cameras/health": {"get": op(
            "getCameraHealth", "admin", "Per camera: last status change, event, file and import, high "
            "water mark, export queue on this node, typical gap between events, quiet flag",
            {"200": ok("Every camera with a status block", obj(
                {"now": MILLIS, "cameras": {"type": "array", "items": camera}}, ("now", "cameras")))},
            auth=True, errors=())},
        "/activity/events/{search}": activity("events", "EventSearch"),
        "/activity/files/{search}": activity("files", "FileRecordSearch"),
        "/files/thumbnail/{file_id}": {"get": op(
            "getFileThumbnail", "query", "A small preview of a file (made on first request, then cached)",
            thumbnail, [path("file_id", UUID)], errors=("400", "404", "410"))},
    }

