"""``GET /cameras/health``: per camera, when it was last heard of, its export queue on this node
and whether it has gone quiet (see ``meteorpi_fdb._camera_health``). Any logged-in user."""

from __future__ import annotations

from flask import Response, jsonify

from meteorpi_server.app import MeteorApp
from meteorpi_server.routing import blueprint


def add_routes(meteor_app: MeteorApp, url_path: str = "") -> None:
    """Add ``GET /cameras/health`` (Basic auth, any role) to ``meteor_app`` under ``url_path``."""
    bp = blueprint("camera_health", url_path)

    @bp.get("/cameras/health")
    @meteor_app.requires_auth()
    def camera_health() -> Response:
        return jsonify(meteor_app.db.camera_health())

    meteor_app.app.register_blueprint(bp)
