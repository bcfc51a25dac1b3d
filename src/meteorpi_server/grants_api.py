"""Admin routes binding users to the cameras they may write for (issue 11).

``GET /users/<user_id>/cameras``, ``PUT`` and ``DELETE /users/<user_id>/cameras/<camera_id>``,
all for ``camera_admin``; each answers ``{"user_id": ..., "cameras": [...]}``. A grant may
name a camera the server has never seen (that is how a new camera joins); revoking one camera
leaves the user's other cameras, and every other user, untouched. Added by
``admin_api.add_routes``.
"""

from __future__ import annotations

from flask import Response, jsonify

from meteorpi_server.routing import blueprint, camera_id_param


def add_routes(meteor_app, url_path: str = "") -> None:
    """Add the camera-grant routes to ``meteor_app`` under ``url_path``."""
    db = meteor_app.db
    bp = blueprint("grants", url_path)
    requires_admin = meteor_app.requires_auth(roles=["camera_admin"])

    def cameras_of(user_id: str) -> Response:
        return jsonify({"user_id": user_id, "cameras": db.cameras_for_user(user_id)})

    def known(user_id: str) -> bool:
        return db.get_user_by_id(user_id) is not None

    @bp.get("/users/<user_id>/cameras")
    @requires_admin
    def list_cameras(user_id: str) -> Response:
        if not known(user_id):
            return meteor_app.not_found(user_id, "No such user")
        return cameras_of(user_id)

    @bp.put("/users/<user_id>/cameras/<camera_id>")
    @requires_admin
    def grant(user_id: str, camera_id: str) -> Response:
        camera_id = camera_id_param(camera_id)
        if not known(user_id):
            return meteor_app.not_found(user_id, "No such user")
        db.grant_camera(user_id, camera_id)
        return cameras_of(user_id)

    @bp.delete("/users/<user_id>/cameras/<camera_id>")
    @requires_admin
    def revoke(user_id: str, camera_id: str) -> Response:
        camera_id = camera_id_param(camera_id)
        if not known(user_id):
            return meteor_app.not_found(user_id, "No such user")
        if not db.revoke_camera(user_id, camera_id):
            return meteor_app.not_found(camera_id, f"User {user_id!r} does not hold this camera")
        return cameras_of(user_id)

    meteor_app.app.register_blueprint(bp)
