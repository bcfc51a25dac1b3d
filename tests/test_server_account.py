"""PUT /login/password: any authenticated user changes its own password, current one required."""

from __future__ import annotations

import pytest

from tests.server_helpers import (ADMIN, IMPORTER, USER, Client, add_users,  # noqa: F401
                                  cheap_password_hashing, client, make_server, server)

PATH = "/login/password"


@pytest.fixture
def users(server, client: Client) -> Client:
    add_users(server.db)
    return client


@pytest.mark.parametrize("account", [USER, IMPORTER, ADMIN])
def test_each_role_changes_its_own_password(users: Client, server, account) -> None:
    user_id, old = account
    response = users.put(PATH, auth=account, json={"current_password": old, "new_password": "brand-new-pw"})
    assert response.json() == {"message": "Password changed"}, response.text
    assert server.db.get_user(user_id, "brand-new-pw").user_id == user_id
    with pytest.raises(ValueError):
        server.db.get_user(user_id, old)
    # The old password stops working at once in this process; the roles are kept.
    assert users.put(PATH, auth=account, json={"current_password": old,
                                               "new_password": "another-pw"}).status_code == 403
    if account != IMPORTER:
        assert users.get("/login", auth=(user_id, "brand-new-pw")).json()["user"]["user_id"] == user_id
    assert server.db.get_user_by_id(user_id).role_mask == server.db.get_user(user_id, "brand-new-pw").role_mask


@pytest.mark.parametrize("body, fragment", [
    ({"current_password": "wrong-password", "new_password": "brand-new-pw"}, "current_password"),
    ({"current_password": USER[1], "new_password": "short"}, "new_password"),
    ({"current_password": USER[1], "new_password": 12345678}, "new_password"),
    ({"current_password": USER[1]}, "new_password"),
    ({"new_password": "brand-new-pw"}, "current_password"),
    ({"current_password": USER[1], "new_password": "brand-new-pw", "user_id": "admin"}, "user_id"),
])
def test_bad_changes_are_400_and_keep_the_password(users: Client, server, body: dict, fragment: str) -> None:
    response = users.put(PATH, auth=USER, json=body)
    assert response.status_code == 400
    assert fragment in response.json()["message"]
    assert server.db.get_user(*USER).user_id == USER[0]


def test_no_credentials_no_change(users: Client, server) -> None:
    body = {"current_password": USER[1], "new_password": "brand-new-pw"}
    assert users.put(PATH, json=body).status_code == 403
    assert users.put(PATH, auth=(USER[0], "wrong-password"), json=body).status_code == 403
    assert server.db.get_user(*USER).user_id == USER[0]
