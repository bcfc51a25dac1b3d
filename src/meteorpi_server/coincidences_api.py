"""The coincidences route set: ``GET /coincidences/<search>``, multi-station meteors.

The search is a ``CoincidenceSearch`` dict, encoded like event searches (JSON, URL-encoded
twice) and paged the same way (``limit``, ``skip``, ``count`` of the whole result). Computing
coincidences happens elsewhere (``meteorpi coincidences update``, the scheduled updater);
serving them needs no maths libraries.
"""

from __future__ import annotations

from flask import Response, jsonify

from meteorpi_model import CoincidenceSearch
from meteorpi_server.app import MeteorApp
from meteorpi_server.query_api import AnythingConverter, capped, decode_search
from meteorpi_server.routing import blueprint


def add_routes(meteor_app: MeteorApp, url_path: str = "") -> None:
    """Add ``GET /coincidences/<search>`` to ``meteor_app`` under ``url_path``."""
    db = meteor_app.db
    meteor_app.app.url_map.converters["anything"] = AnythingConverter
    bp = blueprint("coincidences", url_path)

    @bp.get("/coincidences/<anything:search>")
    def search_coincidences(search: str) -> Response:
        result = db.search_coincidences(capped(CoincidenceSearch.from_dict(decode_search(search))))
        return jsonify({"coincidences": [c.as_dict() for c in result["coincidences"]],
                        "count": result["count"]})

    meteor_app.app.register_blueprint(bp)


def start_updater(meteor_app: MeteorApp):
    """Start the scheduled coincidence updater if ``MPI_COINCIDENCE_SECONDS`` > 0 (it needs the
    ``trajectory`` extra); return it, or None."""
    settings = meteor_app.settings
    if settings["MPI_COINCIDENCE_SECONDS"] <= 0:
        return None
    from meteorpi_fdb.coincidence_updater import CoincidenceUpdater

    return CoincidenceUpdater(meteor_app.db, settings["MPI_COINCIDENCE_SECONDS"],
                              settings["MPI_COINCIDENCE_WINDOW_MS"] / 1000).start()
