"""Production entry point: an app factory for any WSGI server.

    gunicorn --workers 4 --bind 0.0.0.0:8080 'meteorpi_server.wsgi:create_app()'

Settings (``MPI_DB``, ``MPI_FILE_STORE``, ``MPI_ROUTES``, ...) come from the environment, a
settings file or a dict; see :mod:`meteorpi_server.settings` and docs/http-api.md. Each worker
process builds its own app (do not use gunicorn's ``--preload``: database connections must not
cross a fork; if the app is created before a fork anyway, the child drops the inherited pool).
"""

from __future__ import annotations

import logging
import os
import weakref
from typing import Any, Mapping

from flask import Flask

from meteorpi_server import admin_api, coincidences_api, query_api, service_api, website
from meteorpi_server.app import MeteorApp
from meteorpi_server.routing import optional_importer_api
from meteorpi_server.settings import SETTINGS, Setting, load_settings, route_sets
from meteorpi_server.startup import freeze_startup_objects

__all__ = ["SETTINGS", "Setting", "create_app", "create_meteor_app"]

logger = logging.getLogger("meteorpi.server")


def _configure_logging(level_name: str) -> None:
    level = logging.getLevelName(level_name.upper())
    if not isinstance(level, int):
        raise ValueError(f"MPI_LOG_LEVEL must be a logging level name, got {level_name!r}")
    package_logger = logging.getLogger("meteorpi")
    package_logger.setLevel(level)
    if not logging.getLogger().handlers and not package_logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        package_logger.addHandler(handler)


def _drop_pool_after_fork(db: Any) -> None:
    reference = weakref.ref(db)

    def after_fork() -> None:
        instance = reference()
        if instance is not None:
            instance.engine.dispose(close=False)

    os.register_at_fork(after_in_child=after_fork)


def create_meteor_app(config: Mapping[str, Any] | str | os.PathLike | None = None) -> MeteorApp:
    """A :class:`MeteorApp` with the route sets named by ``MPI_ROUTES`` plus /health and
    /openapi.json. ``config`` is a dict of settings or the path of a settings file."""
    from meteorpi_fdb import MeteorDatabase

    settings = load_settings(config)
    _configure_logging(settings["MPI_LOG_LEVEL"])
    db = MeteorDatabase(settings["MPI_DB"], settings["MPI_FILE_STORE"],
                        db_user=settings["MPI_DB_USER"], db_password=settings["MPI_DB_PASSWORD"],
                        installation_id=settings["MPI_INSTALLATION_ID"] or None)
    _drop_pool_after_fork(db)
    meteor_app = MeteorApp(db, {k: v for k, v in settings.items() if k != "MPI_CONFIG"})
    routes = route_sets(settings)
    if "query" in routes:
        query_api.add_routes(meteor_app)
    if "admin" in routes:
        admin_api.add_routes(meteor_app)
    if "import" in routes:
        importer = optional_importer_api()
        if importer is None:
            logger.warning("MPI_ROUTES names 'import' but meteorpi_server.importer_api is missing")
        else:
            importer.add_routes(meteor_app)
    if "browse" in routes:
        website.add_routes(meteor_app)
    if "coincidences" in routes:
        coincidences_api.add_routes(meteor_app)
    service_api.add_routes(meteor_app)
    meteor_app.coincidence_updater = coincidences_api.start_updater(meteor_app)
    return meteor_app


def create_app(config: Mapping[str, Any] | str | os.PathLike | None = None) -> Flask:
    """The WSGI application (a Flask app); its MeteorApp is ``app.extensions["meteorpi"]``.

    Called in each gunicorn worker (no ``--preload``), so the start-up objects it leaves are
    frozen out of garbage collection there (see ``startup``)."""
    app = create_meteor_app(config).app
    freeze_startup_objects()
    return app


_app: Flask | None = None


def __getattr__(name: str) -> Any:
    """``meteorpi_server.wsgi:app``, built from the environment on first use."""
    global _app
    if name == "app":
        if _app is None:
            _app = create_app()
        return _app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
