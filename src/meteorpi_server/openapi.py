"""The OpenAPI 3 description of the whole HTTP API, served at ``/openapi.json``.

:data:`DOCUMENT` describes every route set (query, admin, import, browse, coincidences,
service);
:func:`document_for` narrows it to the routes an app actually serves.
"""

from __future__ import annotations

import copy
import re
from typing import Any, Iterable

from meteorpi_server.openapi_schemas import (CAMERA_ID, MILLIS, SCHEMAS, UUID, obj, ref, text)

JSON = "application/json"
BASIC_AUTH = [{"basicAuth": []}]


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"content": {JSON: {"schema": schema}}}


def _ok(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, **_json(schema)}


def _errors(*codes: str) -> dict[str, Any]:
    return {code: {"$ref": f"#/components/responses/{_ERROR_NAMES[code]}"} for code in codes}


_ERROR_NAMES = {"400": "BadRequest", "403": "Forbidden", "404": "NotFound", "409": "Conflict", "410": "Gone",
                "413": "PayloadTooLarge", "416": "RangeNotSatisfiable", "429": "TooManyRequests"}


def _path(name: str, schema: dict[str, Any], description: str = "") -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": schema,
            "description": description}


def _op(operation_id: str, tag: str, summary: str, responses: dict[str, Any],
        parameters: Iterable[dict[str, Any]] = (), body: dict[str, Any] | None = None,
        auth: bool = False, errors: tuple[str, ...] = ("400",)) -> dict[str, Any]:
    op: dict[str, Any] = {"operationId": operation_id, "tags": [tag], "summary": summary,
                          "responses": {**responses, **_errors(*errors)}}
    if parameters:
        op["parameters"] = list(parameters)
    if body is not None:
        op["requestBody"] = {"required": True, **_json(body)}
    if auth:
        op["security"] = BASIC_AUTH
        op["responses"].update(_errors("403", "429"))
    return op


CAMERA = _path("camera_id", CAMERA_ID)
CONFIG = _path("config_id", UUID)
FILE = _path("file_id", UUID)
STATUS = _ok("The camera status", obj({"status": ref("CameraStatus")}, ("status",)))
USERS = _ok("Every user", obj({"users": {"type": "array", "items": ref("User")}}, ("users",)))
CAMERAS = _ok("The user's cameras", obj({"user_id": text(), "cameras": {
    "type": "array", "items": CAMERA_ID}}, ("user_id", "cameras")))
CONFIG_RESPONSE = _ok("The configuration (without its password)",
                      obj({"config": ref("ExportConfiguration")}, ("config",)))
OKAY = _ok("Done", ref("Message"))
SEARCH_NOTE = ("The search's dict as compact JSON, URL-encoded twice (the 2015 client's "
               "quote_plus(quote_plus(json))); once-encoded is accepted too. It may also hold "
               "the 'cursor' of a previous page of the same search, for the page after it.")
CURSOR = {"type": "string", "pattern": r"^-?\d+\.\d+$",
          "description": "Present on a full page: send it as the search's 'cursor' for the next page"}
SEARCH_NOT_MODIFIED = {"description": "Not modified: If-None-Match matched the ETag, and nothing "
                       "was written to the database since"}
CONTENT = {
    "200": {"description": "The whole content", "content": {"*/*": {"schema": {
        "type": "string", "format": "binary"}}}},
    "206": {"description": "One byte range of the content (Content-Range says which)",
            "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}}},
    "304": {"description": "Not modified (If-None-Match matched the ETag, the content's MD5)"},
}


def _search_param(schema_name: str) -> dict[str, Any]:
    # Declared as a plain string: tools cannot generate path parameters from ``content``.
    return {"name": "search", "in": "path", "required": True, "schema": {"type": "string"},
            "description": f"{SEARCH_NOTE} Its schema: #/components/schemas/{schema_name}.",
            "x-json-schema": ref(schema_name)}


QUERY_PATHS: dict[str, Any] = {
    "/cameras": {"get": _op("getCameras", "query", "Ids of every camera with a status block", {
        "200": _ok("Camera ids", obj({"cameras": {"type": "array", "items": CAMERA_ID}},
                                     ("cameras",)))}, errors=())},
    "/cameras/{camera_id}/status": {
        "get": _op("getCameraStatus", "query", "The camera's current status",
                   {"200": STATUS}, [CAMERA], errors=("400", "404")),
        "post": _op("updateCameraStatus", "admin",
                    "Start a new status block copying the current one with these fields changed",
                    {"200": STATUS}, [CAMERA],
                    body=obj({"inst_name": text(min_length=0), "inst_url": text(min_length=0),
                              "regions": {"type": "array", "items": ref("Region")}}),
                    auth=True, errors=("400", "404", "413")),
    },
    "/cameras/{camera_id}/status/{time}": {"get": _op(
        "getCameraStatusAt", "query", "The camera's status in force at a time",
        {"200": STATUS}, [CAMERA, _path("time", {"type": "integer"}, "milliseconds since the epoch")],
        errors=("400", "404"))},
    "/events/{search}": {"get": _op("searchEvents", "query", "Search events, newest first", {
        "200": _ok("A page of events and the size of the whole result",
                   obj({"events": {"type": "array", "items": ref("Event")},
                        "count": {"type": "integer", "minimum": 0}, "cursor": CURSOR}, ("events", "count"))),
        "304": SEARCH_NOT_MODIFIED},
        [_search_param("EventSearch")])},
    "/files/{search}": {"get": _op("searchFiles", "query", "Search files, newest first", {
        "200": _ok("A page of files and the size of the whole result",
                   obj({"files": {"type": "array", "items": ref("FileRecord")},
                        "count": {"type": "integer", "minimum": 0}, "cursor": CURSOR}, ("files", "count"))),
        "304": SEARCH_NOT_MODIFIED},
        [_search_param("FileRecordSearch")])},
    "/files/content/{file_id}": {"get": _op(
        "getFileContent", "query", "A file's content (single byte ranges, ETag, conditional GET)",
        CONTENT, [FILE], errors=("400", "404", "410", "416"))},
    "/files/content/{file_id}/{file_name}": {"get": _op(
        "getFileContentNamed", "query", "As /files/content/{file_id}; the name is for browsers",
        CONTENT, [FILE, _path("file_name", text())], errors=("400", "404", "410", "416"))},
}

ADMIN_PATHS: dict[str, Any] = {
    "/login": {"get": _op("login", "admin", "Check credentials; the authenticated user", {
        "200": _ok("The user", obj({"user": ref("User")}, ("user",)))}, auth=True, errors=())},
    "/users": {
        "get": _op("getUsers", "admin", "Every user", {"200": USERS}, auth=True, errors=()),
        "post": _op("createOrUpdateUser", "admin",
                    "Create a user (roles default to [user]) or change a password",
                    {"200": USERS}, body=obj({"user_id": text(), "password": text(1024),
                                              "roles": {"type": "array", "items": {"type": "string"}}},
                                             ("user_id", "password")),
                    auth=True, errors=("400", "413")),
    },
    "/users/roles": {"put": _op("updateRoles", "admin", "Replace the roles of existing users",
                                {"200": USERS}, body=obj({"new_roles": {"type": "array", "items": obj(
                                    {"user_id": text(), "roles": {"type": "array",
                                                                  "items": {"type": "string"}}},
                                    ("user_id", "roles"))}}, ("new_roles",)),
                                auth=True, errors=("400", "413"))},
    "/users/{user_id}": {"delete": _op("deleteUser", "admin", "Delete a user", {"200": USERS},
                                       [_path("user_id", text())], auth=True,
                                       errors=("400", "404"))},
    "/users/{user_id}/cameras": {"get": _op(
        "getUserCameras", "admin", "The cameras a user may write for (import)", {"200": CAMERAS},
        [_path("user_id", text())], auth=True, errors=("400", "404"))},
    "/users/{user_id}/cameras/{camera_id}": {
        "put": _op("grantUserCamera", "admin", "Let a user write for a camera (which may be new)",
                   {"200": CAMERAS}, [_path("user_id", text()), CAMERA], auth=True,
                   errors=("400", "404")),
        "delete": _op("revokeUserCamera", "admin", "Stop a user writing for a camera",
                      {"200": CAMERAS}, [_path("user_id", text()), CAMERA], auth=True,
                      errors=("400", "404")),
    },
    "/export": {
        "get": _op("getExportConfigurations", "admin", "Every export configuration", {
            "200": _ok("Configurations (without passwords)", obj(
                {"configs": {"type": "array", "items": ref("ExportConfiguration")}},
                ("configs",)))}, auth=True, errors=()),
        "post": _op("createExportConfiguration", "admin",
                    "Create a disabled configuration with an empty search", {"200": CONFIG_RESPONSE},
                    body=obj({"type": {"type": "string", "enum": ["event", "file"]},
                              "target_url": text(pattern="^https?://"), "user_id": text(),
                              "password": text(min_length=0), "name": text(),
                              "description": text(min_length=0)},
                             ("type", "target_url", "user_id", "password", "name")),
                    auth=True, errors=("400", "413")),
    },
    "/export/{config_id}": {
        "get": _op("getExportConfiguration", "admin", "One configuration",
                   {"200": CONFIG_RESPONSE}, [CONFIG], auth=True, errors=("400", "404")),
        "put": _op("updateExportConfiguration", "admin",
                   "Replace a configuration; without password the stored one is kept",
                   {"200": OKAY}, [CONFIG], body=ref("ExportConfiguration"), auth=True,
                   errors=("400", "404", "413")),
        "delete": _op("deleteExportConfiguration", "admin", "Delete a configuration",
                      {"200": OKAY}, [CONFIG], auth=True, errors=("400", "404")),
    },
}

SETTINGS_RESPONSE = _ok("The configuration's replication settings",
                        obj({"settings": ref("ExportSettings")}, ("settings",)))
ADMIN_PATHS["/export/{config_id}/settings"] = {
    "get": _op("getExportSettings", "admin", "Replication settings of a configuration",
               {"200": SETTINGS_RESPONSE}, [CONFIG], auth=True, errors=("400", "404")),
    "put": _op("updateExportSettings", "admin",
               "Change replication settings (fields given; null = back to the default)",
               {"200": SETTINGS_RESPONSE}, [CONFIG], body=ref("ExportSettings"), auth=True,
               errors=("400", "404", "413")),
}

# The admin pages' routes (camera_admin_api, account_api, export_queue_api).
ROLLBACK = obj({"camera_id": CAMERA_ID, "mark": MILLIS, "time": MILLIS,
                **{name: {"type": "integer", "minimum": 0} for name in ("events", "files", "statuses")}},
               ("camera_id", "mark", "time", "events", "files", "statuses"),
               description="What moving the mark back to 'time' deletes")
_MARK = _ok("The camera's high water mark (absent when it has none)",
            obj({"camera_id": CAMERA_ID, "high_water_mark": MILLIS, "rollback": ROLLBACK}, ("camera_id",)))
QUEUE = obj({"config_id": UUID, "enabled": {"type": "boolean"},
             "failure_count": {"type": "integer", "minimum": 0},
             **{name: {"type": "integer", "minimum": 0}
                for name in ("pending", "due", "deferred", "completed")},
             "next_export_time": MILLIS},
            ("config_id", "enabled", "failure_count", "pending", "due", "deferred", "completed"))


def _partial(name: str) -> dict[str, Any]:
    """A component schema whose properties are all optional (merged over the current values)."""
    return {key: value for key, value in SCHEMAS[name].items() if key != "required"}


QUERY_PATHS["/cameras/{camera_id}/status"]["patch"] = _op(
    "changeCameraStatus", "admin",
    "Start a new status block: the current one with any fields changed (location and "
    "orientation key by key), valid from valid_from (default now)", {"200": STATUS}, [CAMERA],
    body=obj({"lens": text(min_length=0), "sensor": text(min_length=0),
              "inst_name": text(min_length=0), "inst_url": text(min_length=0),
              "software_version": {"type": "integer", "minimum": 0},
              "regions": {"type": "array", "items": ref("Region")},
              "location": _partial("Location"), "orientation": _partial("Orientation"),
              "valid_from": MILLIS, "confirm_rollback": {"type": "boolean"}}),
    auth=True, errors=("400", "409", "413"))
ADMIN_PATHS["/cameras/{camera_id}/hwm"] = {
    "get": _op("getHighWaterMark", "admin", "A camera's high water mark; with time, what moving "
               "it back there would delete", {"200": _MARK},
               [CAMERA, {"name": "time", "in": "query", "required": False, "schema": MILLIS,
                         "description": "a new mark to preview (rollback is present if it deletes data)"}],
               auth=True, errors=("400",)),
    "put": _op("setHighWaterMark", "admin",
               "Move a camera's high water mark; moving it back deletes later data (confirm it)",
               {"200": _MARK}, [CAMERA],
               body=obj({"time": MILLIS, "allow_rollback": {"type": "boolean"},
                         "confirm_rollback": {"type": "boolean"}}, ("time",)),
               auth=True, errors=("400", "409", "413")),
}
ADMIN_PATHS["/login/password"] = {"put": _op(
    "changeOwnPassword", "admin", "Change the authenticated user's own password (any role)",
    {"200": OKAY}, body=obj({"current_password": text(1024), "new_password": text(1024)},
                            ("current_password", "new_password")),
    auth=True, errors=("400", "413"))}
QUEUE_RESPONSE = _ok("The configuration's export queue", obj({"queue": QUEUE}, ("queue",)))
ADMIN_PATHS["/export/{config_id}/queue"] = {"get": _op(
    "getExportQueue", "admin", "Due, deferred (after a failure) and completed tasks of a configuration",
    {"200": QUEUE_RESPONSE}, [CONFIG], auth=True, errors=("400", "404"))}
ADMIN_PATHS["/export/{config_id}/queue/rerun"] = {"post": _op(
    "rerunExportQueue", "admin", "Make every pending task due now and reset the failure count",
    {"200": _ok("How many tasks were moved, and the queue", obj(
        {"rerun": {"type": "integer", "minimum": 0}, "queue": QUEUE}, ("rerun", "queue")))},
    [CONFIG], auth=True, errors=("400", "404"))}

_V2_ANSWER = {"type": "object", "additionalProperties": True}
IMPORT_V2_PATHS: dict[str, Any] = {
    "/import/capabilities": {"get": _op(
        "importCapabilities", "import", "Replication protocols this target speaks (2015 targets: 404)",
        {"200": _ok("Protocols and v2 limits", obj({"protocols": {"type": "array", "items": {"type": "string"}},
                                                  "v2": {"type": "object"}}, ("protocols",), additional=True))},
        auth=True, errors=())},
    "/import/v2/manifest": {"post": _op(
        "importManifest", "import", "Which of a batch's entities, status blocks and content the target lacks",
        {"200": _ok("Held entities, lacking status blocks and content", obj({
            "entities_held": {"type": "array", "items": {"type": "string"}},
            "statuses_lacking": {"type": "array", "items": {"type": "string"}},
            "content_lacking": {"type": "array", "items": {"type": "string"}}},
            ("entities_held", "statuses_lacking", "content_lacking")))},
        body=obj({"entities": {"type": "array", "items": obj({"type": {"type": "string", "enum": ["event", "file"]},
                                                              "id": UUID}, ("type", "id"))},
                  "statuses": {"type": "array", "items": UUID},
                  "files": {"type": "array", "items": obj({"id": UUID, "md5": {"type": "string", "pattern": "^[0-9a-fA-F]{32}$"},
                                                           "size": {"type": "integer", "minimum": 0}},
                                                          ("id", "md5", "size"))}}),
        auth=True, errors=("400", "413"))},
    "/import/v2/batch": {"post": {
        **_op("importBatch", "import", "A streamed batch (MPI-BATCH/2 frames), imported in one transaction",
              {"200": _ok("One result per entity", obj({"results": {"type": "array", "items": _V2_ANSWER},
                                                        "content_bytes": {"type": "integer"}}, ("results",)))},
              auth=True, errors=("400", "413")),
        # Exporters send it as application/x-meteorpi-batch; the body's own magic line is what
        # counts, so any content type is accepted.
        "requestBody": {"required": True, "description": "MPI-BATCH/2 frames (docs/replication.md)",
                        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}},
    }},
    "/import/v2/digest": {"post": _op(
        "importDigest", "import", "Which per-night digests of entity ids differ from the target's",
        {"200": _ok("The differing nights", obj({"differing": {"type": "array", "items": obj(
            {"camera_id": {"type": "string"}, "night": {"type": "string"}}, ("camera_id", "night"))}},
            ("differing",)))},
        body=obj({"type": {"type": "string", "enum": ["event", "file"]},
                  "nights": {"type": "array", "items": obj({"camera_id": CAMERA_ID, "night": {"type": "string", "format": "date"},
                                                            "digest": {"type": "string"}},
                                                           ("camera_id", "night", "digest"))}}, ("type", "nights")),
        auth=True, errors=("400", "413"))},
}

IMPORT_PATHS: dict[str, Any] = {
    "/import": {"post": _op("importEntity", "import",
                            "Receive an event, file record or camera status (replication)",
                            {"200": _ok("What the exporter should do next", ref("ImportState"))},
                            body=ref("ImportMessage"), auth=True, errors=("400", "413"))},
    "/import/data/{file_id}/{md5}": {"post": {
        **_op("importFileData", "import", "Receive a file's content (multipart field 'file')",
              {"200": _ok("What the exporter should do next", ref("ImportState"))},
              [FILE, _path("md5", {"type": "string", "pattern": "^[0-9a-fA-F]{32}$"})],
              auth=True, errors=("400", "413")),
        "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": obj(
            {"file": {"type": "string", "format": "binary"}}, ("file",))}}},
    }},
}

SERVICE_PATHS: dict[str, Any] = {
    "/health": {"get": _op("health", "service", "Whether the server and its database answer", {
        "200": _ok("Healthy; storage: disk usage by semantic type and by night, and the time "
                   "until the disk is full (as 'meteorpi db info'), refreshed every minute",
                   obj({"status": {"type": "string", "enum": ["ok"]},
                        "storage": {"type": "object", "nullable": True}}, ("status",))),
        "503": _ok("The database does not answer", obj(
            {"status": {"type": "string"}, "message": {"type": "string"}}, ("status",)))},
        errors=())},
    "/openapi.json": {"get": _op("openapi", "service", "This document", {
        "200": _ok("The OpenAPI document", {"type": "object"})}, errors=())},
}

COINCIDENCE_PATHS: dict[str, Any] = {
    "/coincidences/{search}": {"get": _op(
        "searchCoincidences", "coincidences",
        "Search multi-station meteors (groups of events and their trajectories), newest first", {
            "200": _ok("A page of coincidences and the size of the whole result",
                       obj({"coincidences": {"type": "array", "items": ref("Coincidence")},
                            "count": {"type": "integer", "minimum": 0}},
                           ("coincidences", "count")))},
        [_search_param("CoincidenceSearch")])},
}

HTML_PAGE = {"200": {"description": "A page of the website: HTML whose scripts read the API",
                     "content": {"text/html": {"schema": {"type": "string"}}}},
             "304": {"description": "Not modified (If-None-Match matched the ETag)"}}
TO_GALLERY = {"302": {"description": "Redirect to the website's gallery (web/), query kept"}}
ASSET = {"200": {"description": "A script, the style sheet or an icon of the website",
                 "content": {"*/*": {"schema": {"type": "string"}}}},
         "304": {"description": "Not modified (If-None-Match matched the ETag)"}}


BROWSE_PATHS: dict[str, Any] = {
    "/": {"get": _op("browse", "browse", "Redirect to the website's gallery", TO_GALLERY, errors=())},
    "/browse": {"get": _op("browseNamed", "browse", "The same as /", TO_GALLERY, errors=())},
    "/web/": {"get": _op("webGallery", "browse", "The website's gallery: cameras, events, "
                         "sky images", HTML_PAGE, errors=())},
    "/web/{page}": {"get": _op("webPage", "browse", "A page of the website (search, camera, "
                               "health, login, ...)", HTML_PAGE, errors=("404",),
                               parameters=[_path("page", text(), "The page's name")])},
    "/web/static/{asset}": {"get": _op("webAsset", "browse", "A script, the style sheet or an "
                                       "icon of the website", ASSET, errors=("404",),
                                       parameters=[_path("asset", text(), "The file's name")])},
}

from meteorpi_server.openapi_website import website_paths  # noqa: E402 (uses the helpers above)

WEBSITE_PATHS = website_paths(_op, _ok, _search_param, _path)

DOCUMENT: dict[str, Any] = {
    "openapi": "3.0.3",
    "info": {"title": "MeteorPi", "version": "2.0.0",
             "description": "Search, download, administer and replicate meteor camera data. "
                            "Every error is answered with JSON {\"message\": ...}."},
    "paths": {**QUERY_PATHS, **ADMIN_PATHS, **IMPORT_PATHS, **IMPORT_V2_PATHS, **BROWSE_PATHS, **COINCIDENCE_PATHS,
              **SERVICE_PATHS, **WEBSITE_PATHS},
    "components": {
        "schemas": SCHEMAS,
        "securitySchemes": {"basicAuth": {"type": "http", "scheme": "basic"}},
        "responses": {name: {"description": description, **_json(ref("Error"))} for name, description in (
            ("BadRequest", "Bad input; the message says what was wrong"),
            ("Forbidden", "Missing or wrong credentials, a missing role, or (import) a "
                          "camera the importing user does not hold"),
            ("NotFound", "No such entity"),
            ("Conflict", "The change would roll back the camera's high water mark over data; "
                         "'rollback' says what it would delete (send confirm_rollback: true)"),
            ("Gone", "The file's content was pruned by the node's retention policy; its record "
                     "remains (pruned_time: when, in epoch milliseconds)"),
            ("PayloadTooLarge", "Request body above the configured maximum"),
            ("RangeNotSatisfiable", "The Range lies outside the content"),
            ("TooManyRequests", "Too many failed logins or password checks, or the upload "
                                "quota is full; see Retry-After"))},
    },
}


def _shape(rule: str) -> str:
    """A route with its parameter names blanked: '/a/{x}' and '/a/<path:x>' both give '/a/<>'."""
    return re.sub(r"<[^>]*>|\{[^}]*\}", "<>", rule)


def document_for(served: Iterable[tuple[str, Iterable[str]]]) -> dict[str, Any]:
    """:data:`DOCUMENT` with only the operations in ``served`` (``(rule, methods)`` pairs)."""
    methods_by_shape: dict[str, set[str]] = {}
    for rule, methods in served:
        methods_by_shape.setdefault(_shape(rule), set()).update(m.lower() for m in methods)
    document = copy.deepcopy(DOCUMENT)
    paths = {}
    for path, operations in document["paths"].items():
        served_methods = methods_by_shape.get(_shape(path), set())
        kept = {method: op for method, op in operations.items() if method in served_methods}
        if kept:
            paths[path] = kept
    document["paths"] = paths
    return document
