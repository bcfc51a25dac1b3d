"""``MeteorApp``: the Flask WSGI app shared by every route set, without any routes of its own.

Routes come from ``query_api.add_routes``, ``admin_api.add_routes``, ``importer_api.add_routes``
and ``service_api.add_routes``, so each deployment assembles only the APIs it needs.
"""

from __future__ import annotations

import functools
import json
import uuid
from typing import Any, Callable, Mapping

from flask import Flask, Response, current_app, g, jsonify, request
from flask_cors import CORS

from meteorpi_model import User
from meteorpi_server.auth import CredentialCache
from meteorpi_server.login_guard import LoginGuard, hash_slots
from meteorpi_server.errors import BadRequest, error_response, register_error_handlers
from meteorpi_server.settings import resolve

#: Request headers a cross-origin GET may carry.
CORS_HEADERS = ["authorization", "content-type"]


class MeteorApp:
    """Common functionality for MeteorPi WSGI apps; no routes until an ``add_routes`` adds them.

    :param db: the ``meteorpi_fdb.MeteorDatabase`` behind every route
    :param settings: overrides of the ``MPI_*`` settings (see ``meteorpi_server.settings``);
        the environment is not read here (``meteorpi_server.wsgi.create_app`` does that)
    :ivar app: the WSGI application (a ``flask.Flask``)
    :ivar db: the database
    :ivar credential_cache: verified Basic-auth credentials (see ``meteorpi_server.auth``)
    :ivar login_guard: concurrent password checks and failed-login throttling
        (see ``meteorpi_server.login_guard``)
    """

    def __init__(self, db: Any, settings: Mapping[str, Any] | None = None) -> None:
        self.db = db
        self.settings = resolve(settings)
        self.app = Flask("meteorpi_server", static_folder=None)  # website.py serves the pages
        self.app.config.update(self.settings)
        self.app.config["MAX_CONTENT_LENGTH"] = self.settings["MPI_MAX_UPLOAD_BYTES"]
        self.app.json.sort_keys = False
        self.app.extensions["meteorpi"] = self
        self.credential_cache = CredentialCache(self.settings["MPI_AUTH_CACHE_SECONDS"],
                                                stamp=getattr(db, "credential_stamp", None),
                                                recheck_seconds=self.settings["MPI_AUTH_RECHECK_SECONDS"])
        self.login_guard = _login_guard(self.settings)
        register_error_handlers(self.app)
        CORS(self.app, methods=["GET"], allow_headers=CORS_HEADERS, send_wildcard=True)

    @staticmethod
    def success(message: str = "Okay") -> Response:
        """200 with ``{"message": message}``."""
        return jsonify({"message": message})

    @staticmethod
    def not_found(entity_id: Any = None, message: str = "Entity not found") -> Response:
        """404 with ``{"message", "entity_id"}`` (``entity_id`` left out when None)."""
        if isinstance(entity_id, uuid.UUID):
            entity_id = entity_id.hex
        return error_response(404, message, entity_id=None if entity_id is None else str(entity_id))

    @staticmethod
    def authentication_failure(message: str = "Authorization required") -> Response:
        """403 with ``{"message": message}``."""
        return error_response(403, message)

    @staticmethod
    def current_user() -> User | None:
        """The user authenticated by :meth:`requires_auth` for the current request."""
        return g.get("user")

    def requires_auth(self, roles: list[str] | None = None) -> Callable:
        """Decorate a view so that it runs only for a Basic-auth user holding every role in ``roles``.

        Otherwise the answer is :meth:`authentication_failure` (403), or 429 with
        ``Retry-After`` when logins for this user id or from this address are throttled. The user is available to
        the view as ``flask.g.user`` / :meth:`current_user`.
        """
        required = list(roles or [])
        User.role_mask_from_roles(required)  # unknown role names are a programming error

        def decorator(view: Callable) -> Callable:
            @functools.wraps(view)
            def wrapped(*args: Any, **kwargs: Any) -> Any:
                credentials = request.authorization
                if credentials is None or credentials.type != "basic" or not credentials.username:
                    return self.authentication_failure()
                user = self._authenticate(credentials.username, credentials.password or "")
                if user is None:
                    return self.authentication_failure("Invalid user id or password")
                missing = [role for role in required if not user.has_role(role)]
                if missing:
                    return self.authentication_failure(f"Role required: {', '.join(missing)}")
                g.user = user
                return view(*args, **kwargs)

            return wrapped

        return decorator

    def _authenticate(self, user_id: str, password: str) -> User | None:
        """The user for these credentials, or None; ``TooManyRequests`` (429) when this user
        id or client address failed too often, or too many password checks are running."""
        user = self.credential_cache.cached(user_id, password)
        if user is not None:
            return user
        address = request.remote_addr or "unknown"
        self.login_guard.check(user_id, address)
        try:
            with self.login_guard.hashing(user_id, address):
                # Again: failures counted while this request waited for a slot count too.
                self.login_guard.check(user_id, address)
                user = self.credential_cache.verify(user_id, password, self.db.get_user)
        except ValueError:
            self.login_guard.failed(user_id, address)
            return None
        self.login_guard.succeeded(user_id)
        return user

    def users_changed(self) -> None:
        """Forget cached credentials: call after any change to users in this process."""
        self.credential_cache.clear()


def _login_guard(settings: Mapping[str, Any]) -> LoginGuard:
    """The login guard for these settings, its hash slots sized for the current argon2 cost."""
    from meteorpi_fdb._users import password_hasher

    slots = hash_slots(settings["MPI_AUTH_HASH_MEMORY_MB"] << 20, password_hasher().memory_cost)
    return LoginGuard(slots, settings["MPI_AUTH_HASH_WAIT_SECONDS"],
                      settings["MPI_LOGIN_FAILURES_PER_USER"],
                      settings["MPI_LOGIN_FAILURES_PER_ADDRESS"],
                      settings["MPI_LOGIN_FAILURE_WINDOW_SECONDS"])


def json_object() -> dict[str, Any]:
    """The request body as a JSON object; 400 if it is not one, 413 above MPI_MAX_JSON_BYTES."""
    limit = current_app.config["MPI_MAX_JSON_BYTES"]
    if request.max_content_length is None or request.max_content_length > limit:
        request.max_content_length = limit
    raw = request.get_data(cache=True)
    return parse_json_object(raw, "request body")


def parse_json_object(raw: str | bytes, what: str) -> dict[str, Any]:
    """Parse ``raw`` as a JSON object; ``BadRequest`` naming ``what`` otherwise."""
    if not raw:
        raise BadRequest(f"{what} is empty; expected a JSON object")
    try:
        value = json.loads(raw)
    except (ValueError, RecursionError) as e:
        raise BadRequest(f"{what} is not valid JSON: {e}") from None
    if not isinstance(value, dict):
        raise BadRequest(f"{what} must be a JSON object")
    return value
