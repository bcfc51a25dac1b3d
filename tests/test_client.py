"""MeteorClient against a real MeteorServer on loopback, on every database backend."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from urllib.parse import quote_plus

import pytest
from flask import Response

import meteorpi_client
import meteorpi_model as model
from meteorpi_client import (BadRequest, ChecksumError, Forbidden, HTTPError, MeteorClient,
                             MeteorClientError, NotFound, ResponseError, TransportError,
                             encode_search)
from tests.helpers import make_event, make_file, make_status, utc
from tests.server_helpers import (ADMIN, USER, add_users, cheap_password_hashing,  # noqa: F401
                                  free_port, make_server, server)

CAM_A, CAM_B = "aaaaaaaaaaaa", "bbbbbbbbbbbb"
CONTENT = bytes(range(256)) * 400  # 100 KiB, so a download can be split in two


@pytest.fixture
def network(server, tmp_path: Path) -> dict:
    """Two cameras (CAM_A with two status blocks), five events with files, three lone files."""
    db = server.db
    incoming = tmp_path / "incoming"
    make_status(db, CAM_A, utc(2024, 8, 1), latitude=52.2, inst_name="Cambridge")
    make_status(db, CAM_B, utc(2024, 8, 1), latitude=48.0, inst_name="Munich")
    events, files = [], []
    for hour in range(5):
        camera = CAM_A if hour % 2 == 0 else CAM_B
        image = make_file(db, incoming, utc(2024, 8, 11, 19 + hour), camera_id=camera,
                          mime_type="image/png", semantic_type="meteorpi:meteor_image",
                          file_name=f"meteor {hour}.png")
        events.append(make_event(db, utc(2024, 8, 11, 19 + hour), camera_id=camera, files=[image],
                                 event_type="meteorpi:meteor",
                                 meta=[model.Meta("meteorpi:duration", 0.5 + hour),
                                       model.Meta("meteorpi:shower", "PER" if hour < 3 else "SPO")]))
    for minute in range(3):
        files.append(make_file(db, incoming, utc(2024, 8, 12, 1, minute), camera_id=CAM_A,
                               semantic_type="meteorpi:sky_clarity", mime_type="image/png",
                               content=CONTENT if minute == 0 else None, file_name="sky.png",
                               meta=[model.Meta("meteorpi:sky_clarity", 50.0 + minute)]))
    make_status(db, CAM_A, utc(2024, 8, 13), latitude=52.2, inst_name="Cambridge (realigned)")
    add_users(db)
    return {"events": events, "files": files, "big": files[0]}


@pytest.fixture
def client(server) -> MeteorClient:
    with MeteorClient(server.base_url(), retries=1) as meteor_client:
        yield meteor_client


@pytest.fixture
def admin(server) -> MeteorClient:
    with MeteorClient(server.base_url(), *ADMIN, retries=1) as meteor_client:
        yield meteor_client


def _dicts(items) -> list[dict]:
    return [item.as_dict() for item in items]


# -- model-only: request building --------------------------------------------------------

def test_public_names_are_exported() -> None:
    for name in meteorpi_client.__all__:
        assert getattr(meteorpi_client, name) is not None
    classes = {name for name in dir(meteorpi_client) if name[0].isupper() and not name.startswith("DEFAULT")}
    assert classes <= set(meteorpi_client.__all__)


def test_search_is_compact_json_url_encoded_twice_as_in_2015() -> None:
    search = model.EventSearch(camera_ids=["cam 1"], meta_constraints=[
        model.MetaConstraint("greater", "meteorpi:duration", 1.5)], limit=5)
    text = json.dumps(search.as_dict(), separators=(",", ":"))
    assert encode_search(search) == quote_plus(quote_plus(text))
    assert "%25" in encode_search(search) and " " not in encode_search(search)


def test_exception_tree() -> None:
    for cls in (TransportError, ResponseError, ChecksumError, HTTPError):
        assert issubclass(cls, MeteorClientError)
    for cls in (BadRequest, Forbidden, NotFound):
        assert issubclass(cls, HTTPError)
    error = NotFound(404, "No such user", "http://x/users/bob")
    assert (error.status, error.message, str(error)) == (404, "No such user", "HTTP 404: No such user")


@pytest.mark.parametrize("url", ["", "ftp://host", "localhost:8080", "http://"])
def test_base_url_must_be_http(url: str) -> None:
    with pytest.raises(ValueError, match="base_url"):
        MeteorClient(url)


def test_only_idempotent_methods_are_retried_after_sending() -> None:
    retry = meteorpi_client.build_session(3).get_adapter("http://x").max_retries
    assert retry.total == 3
    assert set(retry.allowed_methods) == {"GET", "HEAD", "PUT", "DELETE"}
    assert 503 in retry.status_forcelist


def test_file_url_carries_the_quoted_file_name() -> None:
    client = MeteorClient("http://node:8080/")
    record = model.FileRecord("cam", "image/png", "meteorpi:x", "0" * 32, file_id="1" * 32,
                              file_name="meteor 1.png")
    assert client.file_url(record) == f"http://node:8080/files/content/{'1' * 32}/meteor%201.png"
    record.file_name = None
    assert client.file_url(record) == f"http://node:8080/files/content/{'1' * 32}"


# -- query API ---------------------------------------------------------------------------

def test_list_cameras(client: MeteorClient, network) -> None:
    assert client.list_cameras() == [CAM_A, CAM_B]


def test_camera_status_now_and_at_a_time(client: MeteorClient, server, network) -> None:
    now = client.get_camera_status(CAM_A)
    assert now == server.db.get_camera_status(camera_id=CAM_A)
    assert now.inst_name == "Cambridge (realigned)"
    earlier = client.get_camera_status(CAM_A, utc(2024, 8, 11, 22))
    assert earlier.inst_name == "Cambridge" and earlier.valid_to == utc(2024, 8, 13)
    assert client.get_camera_status(CAM_A, utc(2020, 1, 1)) is None
    assert client.get_camera_status("cccccccccccc") is None


def test_search_events_matches_the_database(client: MeteorClient, server, network) -> None:
    search = model.EventSearch(camera_ids=[CAM_A], limit=2)
    result = client.search_events(search)
    expected = server.db.search_events(search)
    assert result["count"] == expected["count"] == 3
    assert _dicts(result["events"]) == _dicts(expected["events"])
    assert all(isinstance(e, model.Event) for e in result["events"])
    assert client.search_events()["count"] == 5


def test_search_with_meta_constraints_and_types(client: MeteorClient, network) -> None:
    long_ones = client.search_events(model.EventSearch(meta_constraints=[
        model.MetaConstraint("greater", "meteorpi:duration", 2.5)]))
    assert {e.event_id for e in long_ones["events"]} == {e.event_id for e in network["events"][2:]}
    perseids = client.search_events(model.EventSearch(meta_constraints=[
        model.MetaConstraint("string_equals", "meteorpi:shower", "PER")]))
    assert perseids["count"] == 3
    sky = client.search_files(model.FileRecordSearch(semantic_type="meteorpi:sky_clarity"))
    assert sky["count"] == 3 and all(isinstance(f, model.FileRecord) for f in sky["files"])
    alone = client.search_files(model.FileRecordSearch(exclude_events=True))
    assert {f.file_id for f in alone["files"]} == {f.file_id for f in network["files"]}


def test_iterators_page_through_the_whole_search(client: MeteorClient, server, network) -> None:
    everything = server.db.search_events(model.EventSearch(limit=0))["events"]
    assert _dicts(client.iter_events(model.EventSearch(limit=2))) == _dicts(everything)
    assert _dicts(client.iter_events(model.EventSearch(skip=3), page_size=1)) == _dicts(everything[3:])
    files = server.db.search_files(model.FileRecordSearch(limit=0))["files"]
    assert _dicts(client.iter_files(model.FileRecordSearch(limit=0))) == _dicts(files)
    assert list(client.iter_events(model.EventSearch(camera_ids=["nobody"]))) == []
    with pytest.raises(ValueError, match="page_size"):
        list(client.iter_events(page_size=-1))


def test_iterator_copes_with_the_servers_page_cap(make_server, network, tmp_path: Path) -> None:
    capped = make_server(settings={"MPI_MAX_PAGE_SIZE": 2})
    with MeteorClient(capped.base_url()) as meteor_client:
        assert len(meteor_client.search_events(model.EventSearch(limit=10))["events"]) == 2
        assert len(list(meteor_client.iter_events(model.EventSearch(limit=10)))) == 5


# -- downloads ---------------------------------------------------------------------------

def _requests_seen(client: MeteorClient) -> list[tuple[str | None, int]]:
    """(Range header, status) of every response the client receives from now on."""
    seen: list[tuple[str | None, int]] = []
    client.session.hooks["response"].append(
        lambda response, *args, **kwargs: seen.append((response.request.headers.get("Range"),
                                                       response.status_code)))
    return seen


def test_download_to_a_file_and_to_a_directory(client: MeteorClient, network, tmp_path: Path) -> None:
    record = network["big"]
    target = client.download_to(record, tmp_path / "sky-copy.png")
    assert Path(target).read_bytes() == CONTENT
    assert not os.path.exists(target + ".part")
    image = network["events"][0].file_records[0]
    into_dir = client.download_to(image, tmp_path)
    assert Path(into_dir).name == "meteor_0.png"
    assert hashlib.md5(Path(into_dir).read_bytes()).hexdigest() == image.md5


def test_download_resumes_a_partial_file_with_a_range_request(client: MeteorClient, network,
                                                              tmp_path: Path) -> None:
    record = network["big"]
    target = tmp_path / "sky.png"
    Path(str(target) + ".part").write_bytes(CONTENT[:40_000])
    seen = _requests_seen(client)
    assert client.download_to(record, target) == str(target)
    assert target.read_bytes() == CONTENT
    assert seen == [("bytes=40000-", 206)]
    assert not Path(str(target) + ".part").exists()


def test_a_resumed_download_is_verified(client: MeteorClient, network, tmp_path: Path) -> None:
    record = network["big"]
    target = tmp_path / "sky.png"
    part = Path(str(target) + ".part")
    part.write_bytes(b"\0" * 40_000)  # the wrong first part: only the MD5 check can tell
    with pytest.raises(ChecksumError, match=record.file_id.hex):
        client.download_to(record, target)
    assert not part.exists() and not target.exists()
    client.download_to(record, target)
    assert target.read_bytes() == CONTENT


def test_an_oversized_part_file_is_discarded(client: MeteorClient, network, tmp_path: Path) -> None:
    target = tmp_path / "sky.png"
    Path(str(target) + ".part").write_bytes(CONTENT + b"extra")
    seen = _requests_seen(client)
    client.download_to(network["big"], target)
    assert target.read_bytes() == CONTENT and seen == [(None, 200)]


def test_an_existing_complete_file_is_not_fetched_again(client: MeteorClient, network,
                                                        tmp_path: Path) -> None:
    target = tmp_path / "sky.png"
    target.write_bytes(CONTENT)
    seen = _requests_seen(client)
    client.download_to(network["big"], target)
    assert seen == []


def test_a_record_that_does_not_match_the_content_is_a_checksum_error(
        client: MeteorClient, network, tmp_path: Path) -> None:
    record = network["big"]
    record.md5 = "0" * 32
    with pytest.raises(ChecksumError):
        client.download_to(record, tmp_path / "x")
    assert not (tmp_path / "x").exists() and not (tmp_path / "x.part").exists()


def test_download_of_unknown_file_is_not_found(client: MeteorClient, network, tmp_path: Path) -> None:
    record = model.FileRecord(CAM_A, "image/png", "meteorpi:x", "0" * 32, file_id="1" * 32,
                              md5="0" * 32, file_size=10)
    with pytest.raises(NotFound):
        client.download_to(record, tmp_path / "nothing")
    assert not (tmp_path / "nothing").exists()


# -- admin API ---------------------------------------------------------------------------

def test_login_and_user_administration(admin: MeteorClient, server, network) -> None:
    me = admin.login()
    assert me.user_id == ADMIN[0] and me.has_role("camera_admin")
    assert [u.user_id for u in admin.get_users()] == sorted([ADMIN[0], USER[0], "importer"])
    users = admin.create_or_update_user("carol", "carol-password-1")
    assert model.User("carol", 1) in users
    with MeteorClient(server.base_url(), "carol", "carol-password-1") as carol:
        assert carol.login().get_roles() == ["user"]
    users = admin.set_roles({"carol": ["user", "import"], USER[0]: []})
    assert {u.user_id: u.get_roles() for u in users}["carol"] == ["user", "import"]
    assert {u.user_id: u.get_roles() for u in users}[USER[0]] == []
    users = admin.create_or_update_user("dave", "dave-password-1", roles=["camera_admin"])
    assert model.User("dave", 2) in users
    assert "carol" not in [u.user_id for u in admin.delete_user("carol")]


def test_export_configuration_crud(admin: MeteorClient, network) -> None:
    search = model.EventSearch(camera_ids=[CAM_A], event_type="meteorpi:meteor")
    created = admin.create_export_configuration("event", "http://central:8080/import", "importer",
                                                "secret", "to central", "all of camera A",
                                                search=search, enabled=True)
    assert created.config_id is not None and created.password is None
    fetched = admin.get_export_configuration(created.config_id)
    assert fetched.search == search and fetched.enabled and fetched.name == "to central"
    assert [c.config_id for c in admin.get_export_configurations()] == [created.config_id]
    fetched.name, fetched.enabled = "renamed", False
    admin.update_export_configuration(fetched)
    again = admin.get_export_configuration(created.config_id.hex)
    assert (again.name, again.enabled) == ("renamed", False)
    plain = admin.create_export_configuration("file", "https://central/import", "importer", "pw",
                                              "files")
    assert isinstance(plain.search, model.FileRecordSearch) and not plain.enabled
    admin.delete_export_configuration(created.config_id)
    assert admin.get_export_configuration(created.config_id) is None
    with pytest.raises(NotFound):
        admin.delete_export_configuration(created.config_id)
    with pytest.raises(ValueError, match="config_id"):
        admin.update_export_configuration(model.ExportConfiguration(
            "http://x/import", "u", None, model.EventSearch(), "n", ""))


def test_set_camera_status_starts_a_new_block(admin: MeteorClient, server, network) -> None:
    before = server.db.get_camera_status(camera_id=CAM_B)
    regions = [[{"x": 0, "y": 0}, {"x": 100, "y": 0}, {"x": 100, "y": 80}]]
    status = admin.set_camera_status(CAM_B, inst_name="Munich roof", regions=regions)
    assert status.inst_name == "Munich roof" and status.regions == regions
    assert (status.lens, status.inst_url, status.location) == (before.lens, before.inst_url, before.location)
    assert status.status_id != before.status_id
    assert len(server.db.get_camera_status_history(CAM_B)) == 2


# -- errors ------------------------------------------------------------------------------

def test_http_errors_carry_the_servers_message(server, admin: MeteorClient, network) -> None:
    with MeteorClient(server.base_url(), ADMIN[0], "wrong password") as wrong:
        with pytest.raises(Forbidden) as forbidden:
            wrong.login()
    assert forbidden.value.status == 403 and forbidden.value.message
    with MeteorClient(server.base_url(), *USER) as viewer:
        with pytest.raises(Forbidden):
            viewer.get_users()
    with MeteorClient(server.base_url()) as anonymous:
        with pytest.raises(Forbidden):
            anonymous.get_users()
    with pytest.raises(NotFound) as not_found:
        admin.delete_user("nobody")
    assert not_found.value.message == "No such user" and not_found.value.body["entity_id"] == "nobody"
    with pytest.raises(BadRequest) as bad:
        admin.set_roles({"nobody": ["user"]})
    assert bad.value.status == 400 and "nobody" in bad.value.message
    with pytest.raises(BadRequest, match="password"):
        admin.create_or_update_user("erin", "")
    with pytest.raises(BadRequest, match="role"):
        admin.create_or_update_user("erin", "pw-erin-1", roles=["pilot"])


def test_network_failures_are_transport_errors() -> None:
    with MeteorClient(f"http://127.0.0.1:{free_port()}", retries=0, timeout=2) as unreachable:
        with pytest.raises(TransportError) as error:
            unreachable.list_cameras()
    message = str(error.value)
    assert "refused" in message.lower() and "\n" not in message


def _flaky_routes(failures: dict[str, int]):
    """Routes that answer 503 ``failures[name]`` times before succeeding."""

    def routes(meteor_app) -> None:
        def flaky(name: str, body: dict) -> Response:
            if failures[name] > 0:
                failures[name] -= 1
                return Response('{"message": "busy"}', 503, mimetype="application/json")
            return Response(json.dumps(body), 200, mimetype="application/json")

        meteor_app.app.add_url_rule("/cameras", "cameras", lambda: flaky("get", {"cameras": ["x"]}))
        meteor_app.app.add_url_rule("/users", "users", lambda: flaky("post", {"users": []}),
                                    methods=["POST"])
        meteor_app.app.add_url_rule("/login", "login", lambda: Response("not json", 200))

    return routes


def test_gets_are_retried_posts_are_not_and_non_json_is_a_response_error(make_server) -> None:
    failures = {"get": 2, "post": 1}
    flaky = make_server(add_routes=False, extra_routes=_flaky_routes(failures))
    with MeteorClient(flaky.base_url(), "u", "p", retries=3) as meteor_client:
        assert meteor_client.list_cameras() == ["x"]
        assert failures["get"] == 0
        with pytest.raises(HTTPError) as error:
            meteor_client.create_or_update_user("u", "p")
        assert error.value.status == 503 and error.value.message == "busy"
        assert meteor_client.create_or_update_user("u", "p") == []
        with pytest.raises(ResponseError, match="not JSON"):
            meteor_client.login()


def _interrupting_content_route(content: bytes, cut_at: int, calls: list[str | None]):
    """A content route whose first answer breaks off after ``cut_at`` bytes; Range honoured."""

    def routes(meteor_app) -> None:
        def content_route(file_id: str, file_name: str) -> Response:
            from flask import request

            calls.append(request.headers.get("Range"))
            if len(calls) == 1:
                def broken():
                    yield content[:cut_at]
                    raise RuntimeError("connection lost")

                return Response(broken(), 200, headers={"Content-Length": str(len(content))})
            start = int(request.headers["Range"].removeprefix("bytes=").rstrip("-"))
            return Response(content[start:], 206, headers={
                "Content-Range": f"bytes {start}-{len(content) - 1}/{len(content)}"})

        meteor_app.app.add_url_rule("/files/content/<file_id>/<file_name>", "content", content_route)

    return routes


def test_a_download_broken_off_midway_resumes_where_it_stopped(make_server, tmp_path: Path) -> None:
    content = os.urandom(1_500_000)
    calls: list[str | None] = []
    broken = make_server(add_routes=False, extra_routes=_interrupting_content_route(content, 1_000_000, calls))
    record = model.FileRecord(CAM_A, "video/mp4", "meteorpi:clip", "0" * 32, file_id="2" * 32,
                              md5=hashlib.md5(content).hexdigest(), file_size=len(content),
                              file_name="clip.mp4")
    with MeteorClient(broken.base_url(), retries=2) as meteor_client:
        target = meteor_client.download_to(record, tmp_path / "clip.mp4")
    assert Path(target).read_bytes() == content
    assert calls[0] is None and len(calls) == 2
    resumed_from = int(calls[1].removeprefix("bytes=").rstrip("-"))
    assert 0 < resumed_from <= 1_000_000
