"""Small helpers shared by the route modules: blueprints per URL prefix and path parsing."""

from __future__ import annotations

import uuid
from typing import Any

from flask import Blueprint

from meteorpi_model import MAX_CAMERA_ID_LENGTH, parse_uuid
from meteorpi_server.errors import BadRequest


def blueprint(area: str, url_path: str) -> Blueprint:
    """A new Blueprint for ``area`` mounted at ``url_path`` ('' for the root).

    Each call gets its own name, so one app may mount the same area at several prefixes.
    """
    prefix = url_path.rstrip("/")
    if prefix and not prefix.startswith("/"):
        raise ValueError(f"url_path must be empty or start with '/', got {url_path!r}")
    name = f"{area}{prefix}".replace("/", "_").replace(".", "_")
    return Blueprint(name, __name__, url_prefix=prefix or None)


def uuid_param(value: str, field: str) -> uuid.UUID:
    """A path parameter as a UUID (32 hex digits or the dashed form); 400 otherwise."""
    try:
        return parse_uuid(value, field)
    except ValueError as e:
        raise BadRequest(str(e)) from None


def camera_id_param(value: str) -> str:
    """A camera id path parameter; 400 if it could not be a camera id."""
    if not value or len(value) > MAX_CAMERA_ID_LENGTH or any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise BadRequest(f"camera_id must be 1 to {MAX_CAMERA_ID_LENGTH} printable characters")
    return value


def int_param(value: str, field: str) -> int:
    """A path parameter as a (possibly negative) integer; 400 otherwise."""
    text = value.strip()
    digits = text[1:] if text[:1] in "+-" else text
    if not digits.isascii() or not digits.isdigit() or len(digits) > 18:
        raise BadRequest(f"{field} must be an integer number of milliseconds, got {value[:40]!r}")
    return int(text)


def drop_none(d: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in d.items() if value is not None}


def fields(body: dict[str, Any], what: str, required: tuple[str, ...] = (),
           optional: tuple[str, ...] = ()) -> dict[str, Any]:
    """``body`` without null values, after checking it holds every ``required`` field and no
    unknown one (400 otherwise). Null counts as absent, as everywhere on the wire."""
    unknown = sorted(set(body) - set(required) - set(optional))
    if unknown:
        raise BadRequest(f"{what}: unknown field '{unknown[0]}'")
    present = drop_none(body)
    for name in required:
        if name not in present:
            raise BadRequest(f"{what}: missing required field '{name}'")
    return present


def optional_importer_api() -> Any:
    """The ``meteorpi_server.importer_api`` module when it is installed, else None."""
    try:
        from meteorpi_server import importer_api
    except ModuleNotFoundError as e:
        if e.name != "meteorpi_server.importer_api":
            raise
        return None
    return importer_api


def optional_routes(module: str, needs: str) -> Any:
    """The route module ``meteorpi_server.<module>``, or None when the package ``needs`` (an
    extra's, e.g. Pillow's ``PIL``) is not installed: its routes are then simply absent."""
    import importlib

    try:
        return importlib.import_module(f"meteorpi_server.{module}")
    except ModuleNotFoundError as e:
        if e.name != needs and not (e.name or "").startswith(f"{needs}."):
            raise
        return None
