"""Strings no backend can store (NUL, lone surrogates) and malformed export requests are refused
with ValueError / HTTP 400 naming the problem, never stored and never a 500."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone

import pytest

import meteorpi_model as model
from tests.helpers import make_event, make_status, utc
from tests.server_helpers import (ADMIN, Client, add_users, cheap_password_hashing, client,  # noqa: F401
                                  encode_search, make_server, server)

T0 = datetime(2015, 3, 1, tzinfo=timezone.utc)
ID = uuid.uuid4()
STATUS = dict(lens="l", sensor="s", inst_url="http://x", inst_name="n",
              orientation=model.Orientation(1, 2, 0, 0, 30), location=model.Location(50, 1),
              camera_id="aabbccddeeff")
FILE = dict(camera_id="aabbccddeeff", mime_type="image/png", semantic_type="meteorpi:raw",
            status_id=ID, file_time=T0)
SEARCH = model.EventSearch()


@pytest.mark.parametrize("bad", ["a\x00b", "x\ud800y", "\udfff"])
@pytest.mark.parametrize("field, build", [
    ("meta value", lambda bad: model.Meta("meteorpi:note", bad)),
    ("meta key", lambda bad: model.Meta(f"meteorpi:{bad}", 1)),
    ("meta constraint", lambda bad: model.MetaConstraint("string_equals", "meteorpi:note", bad)),
    ("NSString", lambda bad: model.NSString(bad)),
    ("file_name", lambda bad: model.FileRecord(**FILE, file_name=bad)),
    ("mime_type", lambda bad: model.FileRecord(**{**FILE, "mime_type": bad})),
    ("camera_id", lambda bad: model.FileRecordSearch(camera_ids=[bad])),
    ("lens", lambda bad: model.CameraStatus(**{**STATUS, "lens": bad})),
    ("inst_url", lambda bad: model.CameraStatus(**{**STATUS, "inst_url": bad})),
    ("user_id", lambda bad: model.User(bad, 1)),
    ("password", lambda bad: model.ExportConfiguration("http://t/import", "u", bad, SEARCH, "n", "d")),
    ("config_description", lambda bad: model.ExportConfiguration("http://t/import", "u", "p", SEARCH,
                                                                 "n", bad)),
])
def test_the_model_refuses_unstorable_characters(field, build, bad):
    with pytest.raises(ValueError) as refused:
        build(bad)
    message = str(refused.value)
    assert "NUL" in message or "surrogate" in message or "control" in message
    assert field.split()[0] in message or field == "NSString" and "NSString" in message


def test_the_model_keeps_ordinary_unicode_and_newlines():
    text = "two\nlines, tab\t, ✓ and 😀"
    assert model.Meta("meteorpi:note", text).value == text
    assert model.Meta.from_dict(model.Meta("meteorpi:note", text).as_dict()).value == text


def test_a_meta_from_the_wire_with_nul_is_refused():
    with pytest.raises(ValueError, match="meteorpi:note must not contain a NUL"):
        model.Meta.from_dict({"type": "string", "key": "meteorpi:note", "value": "x\u0000y"})


def test_registering_an_event_with_nul_meta_writes_nothing(db):
    make_status(db, None, T0)
    with pytest.raises(ValueError, match="NUL"):
        db.register_event(db.installation_id, utc(2015, 3, 2), "meteorpi:meteor", [],
                          [model.Meta("meteorpi:note", "a\x00")])
    assert db.search_events(model.EventSearch())["count"] == 0


@pytest.mark.parametrize("path, search", [
    ("/events/", {"meta": [{"type": "string_equals", "key": "meteorpi:note", "value": "a\u0000b"}]}),
    ("/files/", {"meta": [{"type": "string_equals", "key": "meteorpi:note", "value": "\u0000"}]}),
    ("/events/", {"event_type": "meteorpi:me\u0000teor"}),
    ("/files/", {"mime_type": "image/\u0000png"}),
    ("/events/", {"camera_ids": ["aabb\u0000"]}),
])
def test_a_search_with_nul_is_a_400(server, client: Client, path, search):
    make_status(server.db, None, T0)
    make_event(server.db, utc(2015, 3, 2), meta=[model.Meta("meteorpi:note", "ab")])
    response = client.get(path + encode_search(search))
    assert response.status_code == 400, response.text
    message = response.json()["message"]
    assert "NUL" in message or "control characters" in message


@pytest.mark.parametrize("body, fragment", [
    ({"type": ["event"], "target_url": "http://t/import", "user_id": "u", "password": "p", "name": "n"},
     "type must be 'event' or 'file'"),
    ({"type": {"event": 1}, "target_url": "http://t/import", "user_id": "u", "password": "p", "name": "n"},
     "type must be 'event' or 'file'"),
    ({}, "missing required field"),
    ([], "JSON object"),
    ({"type": "event", "target_url": "http://t/import", "user_id": "u", "password": "p\u0000",
      "name": "n"}, "password"),
])
def test_post_export_with_a_bad_body_is_a_400(server, client: Client, body, fragment):
    add_users(server.db)
    response = client.post("/export", json=body, auth=ADMIN)
    assert response.status_code == 400, response.text
    assert fragment in response.json()["message"]
    assert server.db.get_export_configurations() == []
