"""The activity API: counts of events and files per camera and time bin, over real HTTP."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

import meteorpi_model as model
from tests.conftest import INSTALLATION_ID
from tests.helpers import make_event, make_file, make_status, utc
from tests.server_helpers import (Client, cheap_password_hashing, client,  # noqa: F401
                                  encode_search, make_server, server)

CAMERA_2 = "cam-two"
HOUR, DAY = 3_600_000, 86_400_000
#: Event times: two either side of noon on 3 March, one just before midnight, one at noon
#: exactly (which starts a night), and two on the second camera.
EVENT_TIMES = [(INSTALLATION_ID, utc(2015, 3, 3, 11, 59)), (INSTALLATION_ID, utc(2015, 3, 3, 12, 0)),
               (INSTALLATION_ID, utc(2015, 3, 3, 23, 30)), (INSTALLATION_ID, utc(2015, 3, 4, 2, 15)),
               (INSTALLATION_ID, utc(2015, 3, 4, 2, 45)), (CAMERA_2, utc(2015, 3, 3, 23, 10)),
               (CAMERA_2, utc(2015, 3, 5, 1, 0))]


def ms(when) -> int:
    return model.utc_datetime_to_milliseconds(when)


def expected_bins(times, size: int, offset: int) -> list[dict]:
    counts = Counter((camera, (ms(when) - offset) // size * size + offset) for camera, when in times)
    return [{"camera_id": camera, "start": start, "count": count, "mean": None}
            for (camera, start), count in sorted(counts.items(), key=lambda item: (item[0][1], item[0][0]))]


@pytest.fixture
def data(server, tmp_path: Path) -> dict:
    db = server.db
    make_status(db, INSTALLATION_ID, utc(2015, 1, 1))
    make_status(db, CAMERA_2, utc(2015, 1, 1))
    events = [make_event(db, when, camera) for camera, when in EVENT_TIMES]
    clarity = [make_file(db, tmp_path, utc(2015, 3, 3, hour), camera_id=INSTALLATION_ID,
                         semantic_type="meteorpi:sky_clarity_file",
                         meta=[model.Meta("meteorpi:sky_clarity", float(value))])
               for hour, value in ((20, 10), (22, 30), (23, 50))]
    plain = make_file(db, tmp_path, utc(2015, 3, 4, 1), camera_id=INSTALLATION_ID)
    return {"events": events, "clarity": clarity, "plain": plain}


@pytest.mark.parametrize("bin_name, size, offset", [
    ("night", DAY, DAY // 2), ("day", DAY, 0), ("hour", HOUR, 0)])
def test_event_counts_per_bin(client: Client, data, bin_name: str, size: int, offset: int) -> None:
    answer = client.get(f"/activity/events/{encode_search({})}", params={"bin": bin_name})
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"kind": "events", "bin": bin_name, "bins": expected_bins(EVENT_TIMES, size, offset),
                             "total": len(EVENT_TIMES)}


def test_night_is_the_default_and_starts_at_the_previous_noon(client: Client, data) -> None:
    bins = client.get(f"/activity/events/{encode_search({'camera_ids': [INSTALLATION_ID]})}").json()["bins"]
    assert [(b["start"], b["count"]) for b in bins] == [(ms(utc(2015, 3, 2, 12)), 1), (ms(utc(2015, 3, 3, 12)), 4)]
    assert model.get_day_and_offset(utc(2015, 3, 4, 2, 15))["previous_noon"] == utc(2015, 3, 3, 12)


def test_search_constraints_apply_and_paging_is_ignored(client: Client, data) -> None:
    search = {"camera_ids": [CAMERA_2], "after": ms(utc(2015, 3, 1)), "before": ms(utc(2015, 3, 10)),
              "limit": 1, "skip": 5, "cursor": "1.2"}
    answer = client.get(f"/activity/events/{encode_search(search, times=1)}", params={"bin": "day"}).json()
    assert answer["bins"] == expected_bins([t for t in EVENT_TIMES if t[0] == CAMERA_2], DAY, 0)
    assert answer["total"] == 2


def test_mean_of_a_metadata_field_per_bin(client: Client, data) -> None:
    search = encode_search({"semantic_type": "meteorpi:sky_clarity_file"})
    answer = client.get(f"/activity/files/{search}", params={"bin": "hour", "mean": "meteorpi:sky_clarity"})
    assert answer.json()["bins"] == [
        {"camera_id": INSTALLATION_ID, "start": ms(utc(2015, 3, 3, hour)), "count": 1, "mean": value}
        for hour, value in ((20, 10.0), (22, 30.0), (23, 50.0))]
    nights = client.get(f"/activity/files/{encode_search({})}",
                        params={"mean": "meteorpi:sky_clarity"}).json()
    # The plain file has no sky clarity: it counts, but not in the mean.
    assert nights["bins"] == [{"camera_id": INSTALLATION_ID, "start": ms(utc(2015, 3, 3, 12)), "count": 4,
                               "mean": 30.0}]
    assert nights["kind"] == "files" and nights["total"] == 4


def test_no_match_gives_no_bins(client: Client, data) -> None:
    answer = client.get(f"/activity/events/{encode_search({'camera_ids': ['nobody']})}").json()
    assert answer == {"kind": "events", "bin": "night", "bins": [], "total": 0}


def test_too_many_bins_is_refused(client: Client, data, server) -> None:
    make_event(server.db, utc(2015, 9, 1), INSTALLATION_ID)  # six months after the others
    hours = client.get(f"/activity/events/{encode_search({})}", params={"bin": "hour"})
    assert hours.status_code == 400 and "2000" in hours.json()["message"]
    wide = encode_search({"after": ms(utc(2000, 1, 1)), "before": ms(utc(2015, 3, 4))})
    nights = client.get(f"/activity/events/{wide}")
    assert nights.status_code == 400 and "2000" in nights.json()["message"]
    narrow = encode_search({"after": ms(utc(2015, 3, 1)), "before": ms(utc(2015, 3, 20))})
    assert client.get(f"/activity/events/{narrow}", params={"bin": "hour"}).json()["total"] == len(EVENT_TIMES)
    assert client.get(f"/activity/events/{encode_search({})}").json()["total"] == len(EVENT_TIMES) + 1


@pytest.mark.parametrize("path, params", [
    ("/activity/events/not-json", {}),
    (f"/activity/events/{encode_search({})}", {"bin": "week"}),
    (f"/activity/files/{encode_search({})}", {"mean": "x" * 300}),
    (f"/activity/events/{encode_search({'limit': -1})}", {}),
    (f"/activity/files/{encode_search({'no_such_field': 1})}", {}),
])
def test_bad_requests_are_400(client: Client, data, path: str, params: dict) -> None:
    answer = client.get(path, params=params)
    assert answer.status_code == 400 and answer.json()["message"]


def test_conditional_get_until_the_data_changes(client: Client, data, server) -> None:
    path = f"/activity/events/{encode_search({})}"
    first = client.get(path, params={"bin": "day"})
    tag = first.headers["ETag"]
    assert client.get(path, params={"bin": "day"}, headers={"If-None-Match": tag}).status_code == 304
    other_bin = client.get(path, params={"bin": "hour"}, headers={"If-None-Match": tag})
    assert other_bin.status_code == 200 and other_bin.json()["bin"] == "hour"
    make_event(server.db, utc(2015, 3, 4, 3), INSTALLATION_ID)
    changed = client.get(path, params={"bin": "day"}, headers={"If-None-Match": tag})
    assert changed.status_code == 200 and changed.json()["total"] == len(EVENT_TIMES) + 1
