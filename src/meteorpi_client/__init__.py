"""A Python client for the HTTP API of a MeteorPi node.

>>> from meteorpi_client import MeteorClient
>>> client = MeteorClient("http://127.0.0.1:8080")
>>> client.search_events(EventSearch(camera_ids=["b827eb0a1b2c"], limit=10))["count"]

Errors are :class:`MeteorClientError` subclasses (see ``meteorpi_client._exceptions``).
"""

from meteorpi_client._client import (DEFAULT_RETRIES, DEFAULT_TIMEOUT, MeteorClient,
                                     build_session, encode_search)
from meteorpi_client._exceptions import (BadRequest, ChecksumError, Forbidden, HTTPError,
                                         MeteorClientError, NotFound, ResponseError,
                                         TransportError)

__all__ = [
    "BadRequest",
    "ChecksumError",
    "DEFAULT_RETRIES",
    "DEFAULT_TIMEOUT",
    "Forbidden",
    "HTTPError",
    "MeteorClient",
    "MeteorClientError",
    "NotFound",
    "ResponseError",
    "TransportError",
    "build_session",
    "encode_search",
]
