"""Admin routes for an export configuration's replication settings (``t_exportSettings``):
``GET`` and ``PUT /export/<config_id>/settings``. A separate route, so that the 2015
ExportConfiguration wire form is unchanged."""

from __future__ import annotations

from flask import Response, jsonify

from meteorpi_server.app import MeteorApp, json_object
from meteorpi_server.errors import NotFound
from meteorpi_server.routing import uuid_param


def add_routes(meteor_app: MeteorApp, bp, requires_admin) -> None:
    """Add the settings routes to the admin blueprint ``bp``."""
    db = meteor_app.db

    def settings_of(config_id: str):
        path_id = uuid_param(config_id, "config_id")
        if db.get_export_configuration(path_id) is None:
            raise NotFound("No such export configuration", entity_id=path_id.hex)
        return path_id, db.get_export_settings(path_id)

    @bp.get("/export/<config_id>/settings")
    @requires_admin
    def get_export_settings(config_id: str) -> Response:
        _config_id, current = settings_of(config_id)
        return jsonify({"settings": current.as_dict()})

    @bp.put("/export/<config_id>/settings")
    @requires_admin
    def update_export_settings(config_id: str) -> Response:
        path_id, current = settings_of(config_id)
        changed = current.updated(json_object())
        return jsonify({"settings": db.set_export_settings(path_id, changed).as_dict()})
