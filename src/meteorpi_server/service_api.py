"""Service routes: ``/health`` (for load balancers) and ``/openapi.json`` (the API description)."""

from __future__ import annotations

import logging

from flask import Response, jsonify
from sqlalchemy import literal, select
from sqlalchemy.exc import SQLAlchemyError

from meteorpi_server.app import MeteorApp
from meteorpi_server.openapi import document_for
from meteorpi_server.routing import blueprint

logger = logging.getLogger("meteorpi.server")


def add_routes(meteor_app: MeteorApp, url_path: str = "") -> None:
    """Add ``GET /health`` and ``GET /openapi.json`` to ``meteor_app`` under ``url_path``."""
    bp = blueprint("service", url_path)
    prefix = url_path.rstrip("/")

    @bp.get("/health")
    def health() -> Response:
        try:
            with meteor_app.db.connection() as connection:
                connection.execute(select(literal(1))).scalar_one()
        except SQLAlchemyError as e:
            logger.warning("Health check failed: %s", e.__class__.__name__)
            response = jsonify({"status": "unavailable", "message": "database does not answer"})
            response.status_code = 503
            return response
        return jsonify({"status": "ok"})

    @bp.get("/openapi.json")
    def openapi() -> Response:
        rules = meteor_app.app.url_map.iter_rules()
        served = [(rule.rule[len(prefix):], rule.methods or ()) for rule in rules
                  if rule.rule.startswith(prefix)]
        document = document_for(served)
        if prefix:
            document["servers"] = [{"url": prefix}]
        return jsonify(document)

    meteor_app.app.register_blueprint(bp)
