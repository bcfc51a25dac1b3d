"""Service routes: ``/health`` (for load balancers and monitoring: the database answers, and
how full the storage is) and ``/openapi.json`` (the API description)."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from flask import Response, jsonify
from sqlalchemy import literal, select
from sqlalchemy.exc import SQLAlchemyError

from meteorpi_fdb.housekeeping import HousekeepingPolicy
from meteorpi_server.app import MeteorApp
from meteorpi_server.openapi import document_for
from meteorpi_server.routing import blueprint, optional_routes

logger = logging.getLogger("meteorpi.server")

#: How long /health reuses a storage report.
STORAGE_REPORT_SECONDS = 60


class _StorageReport:
    """The database's storage report (disk usage by semantic type and night, time until full),
    recomputed at most every :data:`STORAGE_REPORT_SECONDS` so that /health stays cheap."""

    def __init__(self, meteor_app: MeteorApp) -> None:
        self.db = meteor_app.db
        self.policy = HousekeepingPolicy.from_settings(meteor_app.settings)
        self.lock = threading.Lock()
        self.report: dict[str, Any] | None = None
        self.expires = 0.0

    def __call__(self) -> dict[str, Any] | None:
        with self.lock:
            if time.monotonic() >= self.expires:
                try:
                    self.report = self.db.storage_report(self.policy)
                except (OSError, SQLAlchemyError) as e:
                    logger.warning("Storage report failed: %s", e)
                    self.report = None
                self.expires = time.monotonic() + STORAGE_REPORT_SECONDS
            return self.report


def shared_storage_report(meteor_app: MeteorApp) -> _StorageReport:
    """The app's one cached storage report (shared by /health and /metrics)."""
    return meteor_app.app.extensions.setdefault("meteorpi_storage_report", _StorageReport(meteor_app))


def add_routes(meteor_app: MeteorApp, url_path: str = "") -> None:
    """Add ``GET /health`` and ``GET /openapi.json`` to ``meteor_app`` under ``url_path``, and
    ``GET /metrics`` (``metrics_api``) where prometheus-client is installed and MPI_METRICS
    is not ``off``."""
    bp = blueprint("service", url_path)
    prefix = url_path.rstrip("/")
    storage = shared_storage_report(meteor_app)

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
        return jsonify({"status": "ok", "storage": storage()})

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
    metrics_api = optional_routes("metrics_api", "prometheus_client")
    if metrics_api is not None and meteor_app.settings["MPI_METRICS"] != "off":
        metrics_api.add_routes(meteor_app, url_path)
