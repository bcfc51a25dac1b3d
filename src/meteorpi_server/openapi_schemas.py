"""JSON Schemas of the wire format (SPEC section 3), as OpenAPI 3.0 components."""

from __future__ import annotations

from typing import Any

from meteorpi_model import MAX_CAMERA_ID_LENGTH, MAX_STRING_LENGTH

UUID_PATTERN = "^([0-9a-fA-F]{32}|[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12})$"


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def obj(properties: dict[str, Any], required: tuple[str, ...] = (),
        additional: bool = False, **extra: Any) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": properties,
                              "additionalProperties": additional, **extra}
    if required:
        schema["required"] = list(required)
    return schema


def text(max_length: int = MAX_STRING_LENGTH, min_length: int = 1, **extra: Any) -> dict[str, Any]:
    return {"type": "string", "minLength": min_length, "maxLength": max_length, **extra}


UUID = {"type": "string", "pattern": UUID_PATTERN, "description": "32 hex digits (dashed form accepted)"}
MILLIS = {"type": "integer", "description": "milliseconds since the Unix epoch, UTC"}
NSSTRING = text(description='namespaced string "ns:value" (no ":" means namespace meteorpi)')
CAMERA_ID = text(MAX_CAMERA_ID_LENGTH)
ROLE = {"type": "string", "enum": ["user", "camera_admin", "import"]}


def _search(kind_fields: dict[str, Any]) -> dict[str, Any]:
    return obj({
        "camera_ids": {"type": "array", "items": CAMERA_ID, "minItems": 1},
        "lat_min": {"type": "number", "minimum": -90, "maximum": 90},
        "lat_max": {"type": "number", "minimum": -90, "maximum": 90},
        "long_min": {"type": "number", "minimum": -180, "maximum": 180},
        "long_max": {"type": "number", "minimum": -180, "maximum": 180},
        "after": MILLIS, "before": MILLIS,
        "after_offset": {"type": "integer", "minimum": 0, "maximum": 86400},
        "before_offset": {"type": "integer", "minimum": 0, "maximum": 86400},
        **kind_fields,
        "meta": {"type": "array", "items": ref("MetaConstraint")},
        "limit": {"type": "integer", "minimum": 0,
                  "description": "page size; 0 or above the server's maximum means the maximum"},
        "skip": {"type": "integer", "minimum": 0},
        "exclude_export_to": UUID,
        "exclude_imported": {"type": "boolean"},
    }, description="Every criterion given must hold; bounds are checked (lat_max >= lat_min, ...).")


_NUMBER = {"type": "number"}
_POINT = obj({"lat": _NUMBER, "lon": _NUMBER, "height_km": _NUMBER}, ("lat", "lon", "height_km"))
COINCIDENCE_SCHEMAS: dict[str, Any] = {
    "CoincidenceSearch": obj({
        "after": MILLIS, "before": MILLIS,
        "camera_ids": {"type": "array", "items": CAMERA_ID, "minItems": 1},
        "event_ids": {"type": "array", "items": UUID, "minItems": 1, "maxItems": 500},
        "min_stations": {"type": "integer", "minimum": 2, "maximum": 1000},
        "solved": {"type": "boolean"},
        "limit": {"type": "integer", "minimum": 0,
                  "description": "page size; 0 or above the server's maximum means the maximum"},
        "skip": {"type": "integer", "minimum": 0}},
        description="Every criterion given must hold: first member time within after..before, "
                    "a member from camera_ids / among event_ids, at least min_stations cameras, "
                    "with (solved true) or without a solved trajectory."),
    "Trajectory": obj({
        "ok": {"type": "boolean"}, "reason": {"type": "string"},
        "stations": {"type": "integer", "minimum": 0},
        "convergence_deg": _NUMBER, "begin": _POINT, "end": _POINT,
        "radiant": obj({"ra": _NUMBER, "dec": _NUMBER, "az": _NUMBER, "el": _NUMBER},
                       ("ra", "dec", "az", "el")),
        "speed_km_s": _NUMBER, "residual_m": _NUMBER, "quality": _NUMBER, "length_km": _NUMBER},
        ("ok",), description="A straight-line trajectory by intersecting planes, or a refusal "
                             "(ok false) with its reason."),
    "Coincidence": obj({
        "group_id": UUID, "time": MILLIS, "computed": MILLIS,
        "members": {"type": "array", "items": obj(
            {"event_id": UUID, "camera_id": CAMERA_ID, "event_time": MILLIS},
            ("event_id", "camera_id", "event_time"))},
        "trajectory": ref("Trajectory")}, ("group_id", "time", "computed", "members")),
}

SCHEMAS: dict[str, Any] = {
    "Error": obj({"message": {"type": "string"}, "entity_id": {"type": "string"}},
                 ("message",), additional=True),
    "Message": obj({"message": {"type": "string"}}, ("message",)),
    "Meta": obj({"type": {"type": "string", "enum": ["number", "string", "date"]},
                 "key": NSSTRING,
                 "value": {"oneOf": [{"type": "number"}, {"type": "string"}]}},
                ("type", "key", "value")),
    "MetaConstraint": obj({
        "type": {"type": "string", "enum": ["string_equals", "number_equals", "less", "greater",
                                            "before", "after"]},
        "key": NSSTRING,
        "value": {"oneOf": [{"type": "number"}, {"type": "string"}],
                  "description": "string for string_equals, number for number_equals/less/"
                                 "greater, milliseconds for before/after"}},
        ("type", "key", "value")),
    "FileRecord": obj({
        "file_id": UUID, "camera_id": CAMERA_ID, "mime_type": text(), "file_name": text(),
        "semantic_type": NSSTRING, "file_time": MILLIS,
        "file_size": {"type": "integer", "minimum": 0}, "status_id": UUID,
        "md5": {"type": "string", "pattern": "^[0-9a-fA-F]{32}$"},
        "meta": {"type": "array", "items": ref("Meta")}},
        ("camera_id", "mime_type", "semantic_type", "status_id")),
    "Event": obj({
        "event_id": UUID, "camera_id": CAMERA_ID, "event_time": MILLIS, "event_type": NSSTRING,
        "status_id": UUID, "files": {"type": "array", "items": ref("FileRecord")},
        "meta": {"type": "array", "items": ref("Meta")}},
        ("event_id", "camera_id", "event_time", "event_type", "status_id")),
    "Location": obj({"lat": {"type": "number", "minimum": -90, "maximum": 90},
                     "long": {"type": "number", "minimum": -180, "maximum": 180},
                     "gps": {"type": "boolean"}, "error": {"type": "number", "minimum": 0}},
                    ("lat", "long")),
    "Orientation": obj({"alt": {"type": "number", "minimum": -90, "maximum": 90},
                        "az": {"type": "number", "minimum": -360, "maximum": 360},
                        "error": {"type": "number", "minimum": 0},
                        "rot": {"type": "number", "minimum": -360, "maximum": 360},
                        "width": {"type": "number", "minimum": 0, "maximum": 360}},
                       ("alt", "az")),
    "Region": {"type": "array", "minItems": 3,
               "items": obj({"x": {"type": "integer", "minimum": 0},
                             "y": {"type": "integer", "minimum": 0}}, ("x", "y"))},
    "CameraStatus": obj({
        "lens": text(min_length=0), "sensor": text(min_length=0),
        "inst_url": text(min_length=0), "inst_name": text(min_length=0),
        "valid_from": MILLIS, "valid_to": MILLIS,
        "software_version": {"type": "integer", "minimum": 0},
        "location": ref("Location"), "orientation": ref("Orientation"),
        "regions": {"type": "array", "items": ref("Region")},
        "camera_id": CAMERA_ID, "status_id": UUID},
        ("lens", "sensor", "inst_url", "inst_name", "location", "orientation", "camera_id")),
    "User": obj({"user_id": text(), "role_mask": {"type": "integer", "minimum": 0, "maximum": 7},
                 "roles": {"type": "array", "items": ROLE}},
                ("user_id", "role_mask", "roles")),
    "EventSearch": _search({"event_type": NSSTRING}),
    "FileRecordSearch": _search({"mime_type": text(), "semantic_type": NSSTRING,
                                 "exclude_events": {"type": "boolean"}}),
    "ExportConfiguration": obj({
        "type": {"type": "string", "enum": ["event", "file"]},
        "config_id": UUID, "target_url": text(pattern="^https?://"), "user_id": text(),
        "password": text(min_length=0, writeOnly=True,
                         description="sent to the server only; omit to keep the stored one"),
        "password_set": {"type": "boolean", "readOnly": True},
        "search": {"anyOf": [ref("EventSearch"), ref("FileRecordSearch")],
                   "description": "an EventSearch when type is event, else a FileRecordSearch"},
        "config_name": text(), "config_description": text(min_length=0),
        "enabled": {"type": "boolean"}, "ca_bundle": text()},
        ("type", "target_url", "user_id", "search", "config_name")),
    # Unset values (no limit, any time, never verified) are left out.
    "ExportSettings": obj({
        "protocol": {"type": "string", "enum": ["auto", "2015", "v2"]},
        "bwlimit": {"type": "integer", "minimum": 1, "description": "bytes per second"},
        "window": {"type": "string", "pattern": "^([0-9]{1,2}:[0-9]{2}-[0-9]{1,2}:[0-9]{2}|any|)$",
                   "description": "local times of day, e.g. 09:00-17:00"},
        "batch_entities": {"type": "integer", "minimum": 1, "maximum": 2000},
        "batch_bytes": {"type": "integer", "minimum": 1},
        "verify_hours": {"type": "integer", "minimum": 1},
        "last_verified": {**MILLIS, "readOnly": True},
    }),
    **COINCIDENCE_SCHEMAS,
    "ImportState": obj({
        "state": {"type": "string", "enum": ["complete", "need_status", "need_file_data",
                                             "continue", "continue-nocache", "failed"]},
        "status_id": UUID, "file_id": UUID, "message": {"type": "string"}},
        ("state",), additional=True),
    "ImportMessage": obj({
        "type": {"type": "string", "enum": ["event", "file", "status", "cached_entity"]},
        "event": ref("Event"), "file": ref("FileRecord"), "status": ref("CameraStatus"),
        "cached_entity_id": UUID}, ("type",)),
}
