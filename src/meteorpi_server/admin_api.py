"""The admin API: login, users, export configurations, camera status changes (SPEC section 7).

Every route needs Basic auth; all but ``/login`` need the ``camera_admin`` role. Export
configurations leave the server without their target password (``"password_set": true``
instead); an update without ``password`` keeps the stored one.
"""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify

from meteorpi_model import CameraStatus, EventSearch, ExportConfiguration, FileRecordSearch, User
from meteorpi_server import (account_api, admin_export_settings, camera_admin_api, camera_health_api,
                             export_queue_api, grants_api)
from meteorpi_server.app import MeteorApp, json_object
from meteorpi_server.errors import BadRequest
from meteorpi_server.routing import blueprint, camera_id_param, fields, uuid_param

ADMIN = ["camera_admin"]
SEARCH_CLASSES = {"event": EventSearch, "file": FileRecordSearch}


def _config_dict(config: ExportConfiguration) -> dict[str, Any]:
    return config.as_dict(include_password=False)


def _role_changes(body: dict[str, Any], db: Any) -> list[tuple[str, list[str]]]:
    """The ``(user_id, roles)`` pairs of a PUT /users/roles body, all checked before any write."""
    changes = fields(body, "request body", required=("new_roles",))["new_roles"]
    if not isinstance(changes, list):
        raise BadRequest("new_roles must be a list")
    result = []
    for i, item in enumerate(changes):
        if not isinstance(item, dict):
            raise BadRequest(f"new_roles[{i}] must be an object")
        item = fields(item, f"new_roles[{i}]", required=("user_id", "roles"))
        user_id, roles = item["user_id"], item["roles"]
        User.role_mask_from_roles(roles)
        if not isinstance(user_id, str) or db.get_user_by_id(user_id) is None:
            raise BadRequest(f"new_roles[{i}]: no user with user_id {str(user_id)[:64]!r}")
        result.append((user_id, list(roles)))
    return result


def add_routes(meteor_app: MeteorApp, url_path: str = "") -> None:
    """Add the admin routes to ``meteor_app`` under ``url_path``."""
    db = meteor_app.db
    bp = blueprint("admin", url_path)
    requires_admin = meteor_app.requires_auth(roles=ADMIN)

    def users() -> Response:
        return jsonify({"users": [user.as_dict() for user in db.get_users()]})

    @bp.get("/login")
    @meteor_app.requires_auth(roles=["user"])
    def login() -> Response:
        return jsonify({"user": meteor_app.current_user().as_dict()})

    @bp.get("/users")
    @requires_admin
    def list_users() -> Response:
        return users()

    @bp.post("/users")
    @requires_admin
    def create_or_update_user() -> Response:
        body = fields(json_object(), "request body", required=("user_id", "password"),
                      optional=("roles",))
        try:
            db.create_or_update_user(body["user_id"], body["password"], body.get("roles"))
        finally:
            meteor_app.users_changed()
        return users()

    @bp.put("/users/roles")
    @requires_admin
    def update_roles() -> Response:
        changes = _role_changes(json_object(), db)
        try:
            for user_id, roles in changes:
                db.create_or_update_user(user_id, None, roles)
        finally:
            meteor_app.users_changed()
        return users()

    @bp.delete("/users/<user_id>")
    @requires_admin
    def delete_user(user_id: str) -> Response:
        try:
            deleted = db.delete_user(user_id)
        finally:
            meteor_app.users_changed()
        if not deleted:
            return meteor_app.not_found(user_id, "No such user")
        return users()

    @bp.get("/export")
    @requires_admin
    def list_exports() -> Response:
        return jsonify({"configs": [_config_dict(c) for c in db.get_export_configurations()]})

    @bp.post("/export")
    @requires_admin
    def create_export() -> Response:
        body = fields(json_object(), "request body",
                      required=("type", "target_url", "user_id", "password", "name"),
                      optional=("description",))
        if not isinstance(body["type"], str) or body["type"] not in SEARCH_CLASSES:
            raise BadRequest(f"type must be 'event' or 'file', got {str(body['type'])[:20]!r}")
        config = ExportConfiguration(body["target_url"], body["user_id"], body["password"],
                                     SEARCH_CLASSES[body["type"]](), body["name"],
                                     body.get("description", ""), enabled=False)
        return jsonify({"config": _config_dict(db.create_or_update_export_configuration(config))})

    @bp.get("/export/<config_id>")
    @requires_admin
    def get_export(config_id: str) -> Response:
        config = db.get_export_configuration(uuid_param(config_id, "config_id"))
        if config is None:
            return meteor_app.not_found(config_id, "No such export configuration")
        return jsonify({"config": _config_dict(config)})

    @bp.put("/export/<config_id>")
    @requires_admin
    def update_export(config_id: str) -> Response:
        path_id = uuid_param(config_id, "config_id")
        config = ExportConfiguration.from_dict(json_object())
        if config.config_id is not None and config.config_id != path_id:
            raise BadRequest("config_id in the body does not match the URL")
        if db.get_export_configuration(path_id) is None:
            return meteor_app.not_found(config_id, "No such export configuration")
        config.config_id = path_id
        db.create_or_update_export_configuration(config)
        return meteor_app.success()

    @bp.delete("/export/<config_id>")
    @requires_admin
    def delete_export(config_id: str) -> Response:
        if not db.delete_export_configuration(uuid_param(config_id, "config_id")):
            return meteor_app.not_found(config_id, "No such export configuration")
        return meteor_app.success()

    @bp.post("/cameras/<camera_id>/status")
    @requires_admin
    def update_camera_status(camera_id: str) -> Response:
        camera_id = camera_id_param(camera_id)
        changes = fields(json_object(), "request body",
                         optional=("inst_name", "inst_url", "regions"))
        current = db.get_camera_status(camera_id=camera_id)
        if current is None:
            return meteor_app.not_found(camera_id, "No status for this camera")
        status = CameraStatus.from_dict({**current.as_dict(), **changes})
        stored = db.update_camera_status(status, camera_id=camera_id)
        return jsonify({"status": stored.as_dict()})

    admin_export_settings.add_routes(meteor_app, bp, requires_admin)
    export_queue_api.add_routes(meteor_app, bp, requires_admin)
    meteor_app.app.register_blueprint(bp)
    grants_api.add_routes(meteor_app, url_path)
    account_api.add_routes(meteor_app, url_path)
    camera_admin_api.add_routes(meteor_app, url_path)
    camera_health_api.add_routes(meteor_app, url_path)
