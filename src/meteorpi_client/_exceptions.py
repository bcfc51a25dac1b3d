"""Exceptions raised by :class:`meteorpi_client.MeteorClient`.

The tree separates "could not talk to the server" from "the server said no"::

    MeteorClientError                 anything the client raises on purpose
    ├── TransportError                network trouble: refused, reset, DNS, timeout
    ├── ResponseError                 the server answered something that is not the API
    ├── ChecksumError                 downloaded content does not match its record's MD5
    └── HTTPError                     the server refused: .status, .message (its JSON message)
        ├── BadRequest                400 (and 413): the request was malformed
        ├── Forbidden                 401 / 403: wrong credentials or missing role
        └── NotFound                  404: no such entity

Every message is one line that can be shown to a user as it is.
"""

from __future__ import annotations

__all__ = [
    "BadRequest",
    "ChecksumError",
    "Forbidden",
    "HTTPError",
    "MeteorClientError",
    "NotFound",
    "ResponseError",
    "TransportError",
]


class MeteorClientError(Exception):
    """Base class of every error the client raises."""


class TransportError(MeteorClientError):
    """The request did not get an HTTP answer (connection refused, reset, timed out...)."""


class ResponseError(MeteorClientError):
    """The server answered, but not in the API's format (e.g. a 200 that is not JSON)."""


class ChecksumError(MeteorClientError):
    """Downloaded content whose size or MD5 does not match the file record."""


class HTTPError(MeteorClientError):
    """The server answered with an error status.

    :ivar status: the HTTP status code
    :ivar message: the server's ``message`` field, or the reason phrase when there is none
    :ivar url: the URL that was requested
    :ivar body: the decoded JSON answer, or None when it was not JSON
    """

    def __init__(self, status: int, message: str, url: str = "", body: dict | None = None) -> None:
        super().__init__(f"HTTP {status}: {message}")
        self.status = status
        self.message = message
        self.url = url
        self.body = body


class BadRequest(HTTPError):
    """HTTP 400 or 413: the server rejected the request's content."""


class Forbidden(HTTPError):
    """HTTP 401 or 403: authentication failed or the user lacks a role."""


class NotFound(HTTPError):
    """HTTP 404: the entity (or route) does not exist."""


def error_for_status(status: int, message: str, url: str = "", body: dict | None = None) -> HTTPError:
    """The most specific :class:`HTTPError` subclass for ``status``."""
    if status in (400, 413):
        cls: type[HTTPError] = BadRequest
    elif status in (401, 403):
        cls = Forbidden
    elif status == 404:
        cls = NotFound
    else:
        cls = HTTPError
    return cls(status, message, url, body)
