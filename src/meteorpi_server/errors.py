"""One error shape for the whole HTTP API: ``{"message": ...}`` with the right status.

Exception tree (each carries its HTTP status)::

    ApiError (500)
    ├── BadRequest (400)        malformed JSON, bad UUID, wrong type, unknown field, ...
    ├── Forbidden (403)         missing or wrong credentials, missing role
    ├── NotFound (404)          the entity does not exist (``entity_id`` is echoed back)
    ├── Conflict (409)          a change that needs a confirmation (a rollback) was not confirmed
    ├── PayloadTooLarge (413)   request body above the configured cap
    └── TooManyRequests (429)   login throttling, upload quota (with ``Retry-After``)

Besides these, :func:`register_error_handlers` maps every Werkzeug ``HTTPException`` (routing
404s, 405s, Flask's own 400 and 413, 416 from range requests) and every ``ValueError`` (the
model's and the data layer's way of saying "bad input") to the same shape. Anything else is a
bug: it is logged with its traceback and answered 500 without one.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, jsonify
from werkzeug.exceptions import HTTPException

logger = logging.getLogger("meteorpi.server")

#: Headers of a Werkzeug exception's own response that we keep on the JSON one
#: (``Allow`` on 405, ``Content-Range`` on 416, ``Retry-After``, ...).
_DROPPED_HEADERS = {"content-type", "content-length"}


class ApiError(Exception):
    """An error with an HTTP status and a message safe to show to the client."""

    status = 500

    def __init__(self, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        self.extra = {key: value for key, value in extra.items() if value is not None}


class BadRequest(ApiError):
    status = 400


class Forbidden(ApiError):
    status = 403


class NotFound(ApiError):
    status = 404


class Conflict(ApiError):
    status = 409


class PayloadTooLarge(ApiError):
    status = 413


class TooManyRequests(ApiError):
    """429 with a ``Retry-After`` header of ``retry_after`` whole seconds (at least 1)."""

    status = 429

    def __init__(self, message: str, retry_after: float, **extra: Any) -> None:
        super().__init__(message, **extra)
        self.retry_after = max(1, int(retry_after + 0.999))


def error_response(status: int, message: str, **extra: Any) -> Response:
    """The JSON error document ``{"message": ..., **extra}`` (None values left out)."""
    body = {"message": message}
    body.update({key: value for key, value in extra.items() if value is not None})
    response = jsonify(body)
    response.status_code = status
    return response


def _handle_api_error(error: ApiError) -> Response:
    response = error_response(error.status, error.message, **error.extra)
    retry_after = getattr(error, "retry_after", None)
    if retry_after is not None:
        response.headers["Retry-After"] = str(retry_after)
    return response


def _handle_http_exception(error: HTTPException) -> Response:
    response = error_response(error.code or 500, error.description or error.name)
    for name, value in error.get_headers():
        if name.lower() not in _DROPPED_HEADERS:
            response.headers.add(name, value)
    return response


def _handle_value_error(error: ValueError) -> Response:
    return error_response(400, str(error) or "Bad request")


def _handle_unexpected(error: Exception) -> Response:
    logger.exception("Unexpected error while handling a request")
    return error_response(500, "Internal server error")


def register_error_handlers(app: Flask) -> None:
    """Answer every error raised by a view (or by routing) with the JSON error shape."""
    app.register_error_handler(ApiError, _handle_api_error)
    app.register_error_handler(HTTPException, _handle_http_exception)
    app.register_error_handler(ValueError, _handle_value_error)
    app.register_error_handler(Exception, _handle_unexpected)
