"""The logged-in user's own account: ``PUT /login/password`` changes its own password.

Any authenticated user may call it, whatever its roles (a node's ``import`` account too); the
body must repeat the current password, so a credential left in a browser cannot be turned
into a new one. Added by ``admin_api.add_routes``.
"""

from __future__ import annotations

from flask import Response

from meteorpi_server.app import MeteorApp, json_object
from meteorpi_server.errors import BadRequest
from meteorpi_server.routing import blueprint, fields


def add_routes(meteor_app: MeteorApp, url_path: str = "") -> None:
    """Add the account routes to ``meteor_app`` under ``url_path``."""
    db = meteor_app.db
    bp = blueprint("account", url_path)

    @bp.put("/login/password")
    @meteor_app.requires_auth()
    def change_own_password() -> Response:
        body = fields(json_object(), "request body", required=("current_password", "new_password"))
        current, new = body["current_password"], body["new_password"]
        if not isinstance(current, str) or not isinstance(new, str):
            raise BadRequest("current_password and new_password must be strings")
        user_id = meteor_app.current_user().user_id
        try:
            db.get_user(user_id, current)
        except ValueError:
            raise BadRequest("current_password is not this user's password") from None
        try:
            db.create_or_update_user(user_id, new, None)
        except ValueError as e:
            raise BadRequest(f"new_password: {e}") from None
        finally:
            meteor_app.users_changed()
        return meteor_app.success("Password changed")

    meteor_app.app.register_blueprint(bp)
