"""One error shape for every failure, CORS, and body size limits, on a real server."""

from __future__ import annotations

import logging

import pytest
import requests

from tests.server_helpers import (ADMIN, Client, add_users, cheap_password_hashing, client,  # noqa: F401
                                  make_server, server)


def _error_keys(response: requests.Response) -> set[str]:
    assert response.headers["Content-Type"] == "application/json"
    body = response.json()
    assert isinstance(body["message"], str) and body["message"]
    return set(body)


@pytest.mark.parametrize("method, path, status", [
    ("GET", "/no/such/route", 404),
    ("DELETE", "/cameras", 405),
    ("GET", "/cameras/x/status/not-a-time", 400),
    ("GET", "/events/%257Bnot%2520json", 400),
    ("GET", "/files/content/not-a-uuid", 400),
    ("GET", "/files/content/" + "0" * 32, 404),
    ("GET", "/users", 403),
    ("POST", "/export", 403),
])
def test_every_error_has_the_same_json_shape(client: Client, method: str, path: str,
                                             status: int) -> None:
    response = client.request(method, path)
    assert response.status_code == status
    assert _error_keys(response) <= {"message", "entity_id"}


def test_method_not_allowed_keeps_the_allow_header(client: Client) -> None:
    response = client.delete("/cameras")
    assert response.status_code == 405
    assert set(response.headers["Allow"].replace(" ", "").split(",")) >= {"GET", "HEAD"}


def test_not_found_names_the_entity(client: Client) -> None:
    response = client.get("/files/content/" + "ab" * 16)
    assert response.status_code == 404
    assert response.json() == {"message": "No such file", "entity_id": "ab" * 16}


def test_value_error_is_400_and_unexpected_error_is_500_without_traceback(
        make_server, caplog: pytest.LogCaptureFixture) -> None:
    def routes(meteor_app) -> None:
        @meteor_app.app.get("/value-error")
        def value_error():
            raise ValueError("lat_min must be a number")

        @meteor_app.app.get("/bug")
        def bug():
            raise RuntimeError("secret internal detail")

        @meteor_app.app.get("/okay")
        def okay():
            return meteor_app.success()

        @meteor_app.app.get("/missing")
        def missing():
            return meteor_app.not_found()

        @meteor_app.app.get("/denied")
        def denied():
            return meteor_app.authentication_failure("Go away")

    http = Client(make_server(add_routes=False, extra_routes=routes).base_url())
    response = http.get("/value-error")
    assert (response.status_code, response.json()) == (400, {"message": "lat_min must be a number"})
    with caplog.at_level(logging.ERROR, logger="meteorpi.server"):
        response = http.get("/bug")
    assert (response.status_code, response.json()) == (500, {"message": "Internal server error"})
    assert "secret" not in response.text and "Traceback" not in response.text
    assert any("secret internal detail" in r.getMessage() or (r.exc_info and "secret" in str(r.exc_info[1]))
               for r in caplog.records)
    assert (http.get("/okay").status_code, http.get("/okay").json()) == (200, {"message": "Okay"})
    assert (http.get("/missing").status_code, http.get("/missing").json()) == (
        404, {"message": "Entity not found"})
    assert (http.get("/denied").status_code, http.get("/denied").json()) == (403, {"message": "Go away"})


def test_an_app_without_route_sets_has_no_routes(make_server) -> None:
    http = Client(make_server(add_routes=False).base_url())
    for path in ("/cameras", "/users", "/health", "/openapi.json"):
        assert http.get(path).status_code == 404


def test_json_body_above_the_cap_is_413(make_server) -> None:
    meteor_server = make_server(settings={"MPI_MAX_JSON_BYTES": 1000})
    add_users(meteor_server.db)
    http = Client(meteor_server.base_url())
    big = {"user_id": "someone", "password": "x" * 2000}
    response = http.post("/users", json=big, auth=ADMIN)
    assert response.status_code == 413
    assert _error_keys(response) == {"message"}
    assert "someone" not in [u.user_id for u in meteor_server.db.get_users()]


def test_request_body_above_the_upload_cap_is_413(make_server) -> None:
    meteor_server = make_server(settings={"MPI_MAX_UPLOAD_BYTES": 10_000})
    add_users(meteor_server.db)
    http = Client(meteor_server.base_url())
    response = http.post("/users", data=b"{" + b" " * 20_000 + b"}", auth=ADMIN,
                         headers={"Content-Type": "application/json"})
    assert response.status_code == 413
    assert _error_keys(response) == {"message"}


def test_cors_is_open_for_get(client: Client) -> None:
    response = client.get("/cameras", headers={"Origin": "https://example.org"})
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    preflight = client.request("OPTIONS", "/users", headers={
        "Origin": "https://example.org", "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "authorization, content-type"})
    assert preflight.status_code == 200
    assert preflight.headers["Access-Control-Allow-Origin"] == "*"
    allowed = {h.strip().lower() for h in preflight.headers["Access-Control-Allow-Headers"].split(",")}
    assert allowed == {"authorization", "content-type"}
    assert preflight.headers["Access-Control-Allow-Methods"] == "GET"
    # Errors carry the CORS header too, so browser clients can read the message.
    assert client.get("/nowhere", headers={"Origin": "https://x.org"}).headers[
        "Access-Control-Allow-Origin"] == "*"


def test_cors_does_not_open_writes(client: Client) -> None:
    preflight = client.request("OPTIONS", "/users", headers={
        "Origin": "https://example.org", "Access-Control-Request-Method": "POST"})
    assert "POST" not in preflight.headers.get("Access-Control-Allow-Methods", "")
