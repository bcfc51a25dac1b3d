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
                "total": {"type": "integer", "minimum": 0}}, ("kind", "bin", "bins", "total")))},
            [search_param(schema_name), *params])}

    return {
        "/activity/events/{search}": activity("events", "EventSearch"),
        "/activity/files/{search}": activity("files", "FileRecordSearch"),
    }

