"""The MeteorPi HTTP server: a modular Flask app (:class:`MeteorApp`) whose routes come from
``query_api``, ``admin_api``, ``importer_api`` and ``service_api``, a Tornado development server
(:class:`MeteorServer`), and a production app factory (``meteorpi_server.wsgi:create_app``)."""

from meteorpi_server.app import MeteorApp
from meteorpi_server.server import MeteorServer

__all__ = ["MeteorApp", "MeteorServer"]
