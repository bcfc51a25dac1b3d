"""Admin routes for a camera's whole status and its high water mark (the admin pages' needs).

- ``PATCH /cameras/<camera_id>/status``: a new status block from the current one with any
  status fields changed (``lens``, ``sensor``, ``inst_name``, ``inst_url``, ``software_version``,
  ``regions``, and ``location`` / ``orientation`` key by key), valid from ``valid_from``
  (default now) - validated as ``meteorpi camera set`` validates it
  (:func:`meteorpi_model.status_with_changes`). The 2015 ``POST`` route is left as it was.
- ``GET`` / ``PUT /cameras/<camera_id>/hwm``: read or move the high water mark; ``GET`` with
  ``?time=<ms>`` also says what moving it there would delete (``rollback``), to warn first.

A change that would move the mark back over data (events, files or status blocks later than
the new time) is refused with 409 and what it would delete, unless the body says
``"confirm_rollback": true`` - the ``--yes`` of ``meteorpi hwm set``. All need ``camera_admin``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Response, jsonify, request

import meteorpi_model as model
from meteorpi_server.app import MeteorApp, json_object
from meteorpi_server.errors import BadRequest, Conflict
from meteorpi_server.routing import blueprint, camera_id_param, fields, int_param

#: Status fields a PATCH may change.
STATUS_FIELDS = ("lens", "sensor", "inst_name", "inst_url", "software_version", "regions",
                 "location", "orientation")


def _ms(moment: datetime | None) -> int | None:
    return None if moment is None else model.utc_datetime_to_milliseconds(moment)


def _flag(body: dict[str, Any], name: str, default: bool) -> bool:
    value = body.get(name, default)
    if not isinstance(value, bool):
        raise BadRequest(f"{name} must be a boolean")
    return value


def _time(body: dict[str, Any], name: str) -> datetime | None:
    value = body.get(name)
    return None if value is None else model.milliseconds_to_utc_datetime(value, name)


def _rollback(db: Any, camera_id: str, time: datetime) -> dict[str, Any] | None:
    """What moving the mark back to ``time`` would delete (times in ms), or None."""
    preview = db.rollback_preview(camera_id, time)
    if preview is None:
        return None
    return {**preview, "mark": _ms(preview["mark"]), "time": _ms(preview["time"])}


def check_rollback(db: Any, camera_id: str, time: datetime, confirmed: bool) -> None:
    """409 with ``rollback`` (what would be deleted) when moving ``camera_id``'s mark back to
    ``time`` would delete data and the caller has not confirmed it."""
    rollback = None if confirmed else _rollback(db, camera_id, time)
    if rollback is None:
        return
    raise Conflict(f"Moving the high water mark of {camera_id} back deletes {rollback['events']} "
                   f"events, {rollback['files']} files and {rollback['statuses']} status blocks; "
                   "send confirm_rollback: true to do it", rollback=rollback)


def _mark(db: Any, camera_id: str, time: datetime | None = None) -> Response:
    """The mark; with ``time``, also the ``rollback`` that moving it there would be (if any)."""
    body: dict[str, Any] = {"camera_id": camera_id}
    mark = _ms(db.get_high_water_mark(camera_id))
    if mark is not None:
        body["high_water_mark"] = mark
    rollback = None if time is None else _rollback(db, camera_id, time)
    if rollback is not None:
        body["rollback"] = rollback
    return jsonify(body)


def add_routes(meteor_app: MeteorApp, url_path: str = "") -> None:
    """Add the camera status and high water mark routes to ``meteor_app`` under ``url_path``."""
    db = meteor_app.db
    bp = blueprint("camera_admin", url_path)
    requires_admin = meteor_app.requires_auth(roles=["camera_admin"])

    @bp.patch("/cameras/<camera_id>/status")
    @requires_admin
    def change_camera_status(camera_id: str) -> Response:
        camera_id = camera_id_param(camera_id)
        body = fields(json_object(), "request body",
                      optional=(*STATUS_FIELDS, "valid_from", "confirm_rollback"))
        confirmed = _flag(body, "confirm_rollback", False)
        when = _time(body, "valid_from") or model.now()
        changes = {key: body[key] for key in STATUS_FIELDS if key in body}
        status = model.status_with_changes(db.get_camera_status(when, camera_id), camera_id, changes)
        check_rollback(db, camera_id, when, confirmed)
        stored = db.update_camera_status(status, time=when, camera_id=camera_id)
        return jsonify({"status": stored.as_dict()})

    @bp.get("/cameras/<camera_id>/hwm")
    @requires_admin
    def get_high_water_mark(camera_id: str) -> Response:
        query = fields(request.args.to_dict(), "query", optional=("time",))
        time = None
        if "time" in query:
            time = model.milliseconds_to_utc_datetime(int_param(query["time"], "time"), "time")
        return _mark(db, camera_id_param(camera_id), time)

    @bp.put("/cameras/<camera_id>/hwm")
    @requires_admin
    def set_high_water_mark(camera_id: str) -> Response:
        camera_id = camera_id_param(camera_id)
        body = fields(json_object(), "request body", required=("time",),
                      optional=("allow_rollback", "confirm_rollback"))
        when = _time(body, "time")
        allow_rollback = _flag(body, "allow_rollback", True)
        confirmed = _flag(body, "confirm_rollback", False)
        mark = db.get_high_water_mark(camera_id)
        if not allow_rollback and mark is not None and when < mark:
            raise BadRequest(f"time {_ms(when)} is before the mark {_ms(mark)} and "
                             "allow_rollback is false")
        check_rollback(db, camera_id, when, confirmed)
        db.set_high_water_mark(when, camera_id, allow_rollback=allow_rollback)
        return _mark(db, camera_id)

    meteor_app.app.register_blueprint(bp)
