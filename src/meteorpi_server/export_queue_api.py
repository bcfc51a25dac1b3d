"""Admin routes for an export configuration's queue: ``GET /export/<config_id>/queue`` (due,
deferred, completed tasks and the failure count) and ``POST /export/<config_id>/queue/rerun``
(every pending task due now, failure count reset). Enabling and disabling go through
``PUT /export/<config_id>``. Added by ``admin_api.add_routes``; ``camera_admin`` only."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify

import meteorpi_model as model
from meteorpi_server.app import MeteorApp
from meteorpi_server.errors import NotFound
from meteorpi_server.routing import uuid_param


def _queue(db: Any, config_id: str) -> dict[str, Any]:
    state = db.export_queue_state(uuid_param(config_id, "config_id"))
    if state is None:
        raise NotFound("No such export configuration", entity_id=config_id)
    next_time = state.pop("next_export_time")
    if next_time is not None:
        state["next_export_time"] = model.utc_datetime_to_milliseconds(next_time)
    return {**state, "config_id": state["config_id"].hex}


def add_routes(meteor_app: MeteorApp, bp: Any, requires_admin: Any) -> None:
    """Add the queue routes to the admin blueprint ``bp``."""
    db = meteor_app.db

    @bp.get("/export/<config_id>/queue")
    @requires_admin
    def get_export_queue(config_id: str) -> Response:
        return jsonify({"queue": _queue(db, config_id)})

    @bp.post("/export/<config_id>/queue/rerun")
    @requires_admin
    def rerun_export_queue(config_id: str) -> Response:
        _queue(db, config_id)  # 400 / 404 before any write
        moved = db.rerun_export_tasks(uuid_param(config_id, "config_id"))
        return jsonify({"rerun": moved, "queue": _queue(db, config_id)})
