"""Coincidences in the data layer, on every backend: grouping rules against simulated meteors
with known truth, idempotent and incremental runs, stored trajectories and search."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest

import meteorpi_model as model
from meteorpi_trajectory.simulate import Meteor
from tests.coincidence_helpers import (SITES, stations, store_meteor, store_stations)
from tests.helpers import utc

NIGHT = utc(2024, 8, 12, 0)
CAMERAS = list(SITES)


def all_groups(db) -> list[model.Coincidence]:
    return db.search_coincidences(model.CoincidenceSearch(limit=0))["coincidences"]


def member_sets(db) -> set[frozenset[str]]:
    return {frozenset(m.event_id.hex for m in g.members) for g in all_groups(db)}


def truth_sets(stored) -> set[frozenset[str]]:
    return {frozenset(e.event_id.hex for e in s.events) for s in stored if len(s.events) >= 2}


@pytest.fixture
def network(db):
    net = stations()
    store_stations(db, net)
    return net


def simulated_night(db, network, meteors: int = 12, noise: int = 20, seed: int = 7):
    """True multi-station meteors (clock errors up to 0.8 s) among single-camera noise events
    at random times; returns what was stored."""
    rng = random.Random(seed)
    stored = []
    for i in range(meteors):
        meteor = Meteor(rng.uniform(52.4, 53.2), rng.uniform(-2.0, -0.8), rng.uniform(98, 102),
                        rng.uniform(0, 360), rng.uniform(25, 70), rng.uniform(15, 65))
        errors = {c: rng.uniform(-0.4, 0.4) for c in CAMERAS}
        stored.append(store_meteor(db, meteor, network, NIGHT + timedelta(minutes=10 * i + 1),
                                   clock_errors=errors))
    for _ in range(noise):
        when = NIGHT + timedelta(seconds=rng.uniform(0, 7200))
        db.register_event(rng.choice(CAMERAS), when, "meteorpi:meteor", [],
                          [model.Meta("meteorpi:start_x", 100), model.Meta("meteorpi:start_y", 100),
                           model.Meta("meteorpi:end_x", 200), model.Meta("meteorpi:end_y", 150)])
    return stored


def test_groups_are_exactly_the_true_meteors_and_solved(db, network) -> None:
    stored = simulated_night(db, network)
    counts = db.update_coincidences()
    assert counts["created"] == len(truth_sets(stored)) == counts["groups"]
    assert member_sets(db) == truth_sets(stored)  # no true pair missed, no noise joined
    for group in all_groups(db):
        cameras = [m.camera_id for m in group.members]
        assert len(cameras) == len(set(cameras))  # never two events of one camera
        assert group.trajectory is not None and group.trajectory.ok
        assert 95 <= group.trajectory.begin["height_km"] <= 103
        assert 79 <= group.trajectory.end["height_km"] <= 90


def test_a_rerun_creates_no_duplicates_and_keeps_group_ids(db, network) -> None:
    simulated_night(db, network, meteors=4, noise=5)
    db.update_coincidences()
    before = {g.group_id: g for g in all_groups(db)}
    again = db.update_coincidences(everything=True)
    assert again["created"] == again["removed"] == 0 and again["kept"] == len(before)
    assert {g.group_id: g for g in all_groups(db)} == before
    assert db.update_coincidences()["spans"] == 0  # nothing new since the last run


def test_incremental_runs_pick_up_new_events_only_around_them(db, network) -> None:
    first = store_meteor(db, Meteor(52.9, -1.4, 100, 60, 40, 40), network, NIGHT)
    db.update_coincidences()
    # A late camera's event for the first meteor, and a second meteor an hour later.
    late = [e for e in first.events if e.camera_id == CAMERAS[0]]
    assert late
    second = store_meteor(db, Meteor(52.7, -1.6, 100, 250, 50, 30), network,
                          NIGHT + timedelta(hours=3))
    counts = db.update_coincidences()
    assert counts["created"] == 1 and counts["removed"] == 0 and counts["kept"] == 0
    assert member_sets(db) == truth_sets([first, second])


def test_same_camera_events_within_the_window_are_never_joined(db, network) -> None:
    a, b = CAMERAS[:2]
    for camera, seconds in ((a, 0.0), (a, 0.5), (b, 0.3)):
        db.register_event(camera, NIGHT + timedelta(seconds=seconds), "meteorpi:meteor", [], [])
    db.update_coincidences()
    groups = all_groups(db)
    assert len(groups) == 1
    assert sorted(m.camera_id for m in groups[0].members) == [a, b]
    # Without pixels the group is kept, and its trajectory is refused with a reason.
    assert not groups[0].trajectory.ok and "start and end pixels" in groups[0].trajectory.reason


def test_events_outside_the_window_or_without_shared_sky_stay_apart(db, network) -> None:
    a, b = CAMERAS[:2]
    db.register_event(a, NIGHT, "meteorpi:meteor", [], [])
    db.register_event(b, NIGHT + timedelta(seconds=2.5), "meteorpi:meteor", [], [])
    assert db.update_coincidences()["groups"] == 0
    assert db.update_coincidences(window_seconds=3, everything=True)["groups"] == 1
    # A camera pointing away from the others' sky (north, low) shares none of it.
    away = model.CameraStatus("l", "s", "", "away", model.Orientation(20, 0, 0, 0, 40),
                              model.Location(50.0, 10.0), camera_id="c0ffee0000aa")
    db.update_camera_status(away, time=utc(2024, 8, 1), camera_id="c0ffee0000aa")
    db.register_event("c0ffee0000aa", NIGHT + timedelta(hours=1), "meteorpi:meteor", [], [])
    db.register_event(a, NIGHT + timedelta(hours=1, seconds=0.2), "meteorpi:meteor", [], [])
    assert len(all_groups(db)) == 1
    db.update_coincidences()
    assert len(all_groups(db)) == 1


def test_a_range_run_replaces_stale_groups(db, network) -> None:
    simulated_night(db, network, meteors=3, noise=0)
    db.update_coincidences()
    assert len(all_groups(db)) == 3
    narrow = db.update_coincidences(window_seconds=0, after=NIGHT, before=NIGHT + timedelta(hours=2))
    assert narrow["removed"] >= 1  # clock errors put members more than 0 s apart
    wide = db.update_coincidences(after=NIGHT, before=NIGHT + timedelta(hours=2))
    assert wide["created"] >= 1 and len(all_groups(db)) == 3


def test_search_filters_and_paging(db, network) -> None:
    stored = simulated_night(db, network, meteors=6, noise=0)
    db.update_coincidences()
    everything = db.search_coincidences(model.CoincidenceSearch(limit=0))
    assert everything["count"] == 6
    times = [g.time for g in everything["coincidences"]]
    assert times == sorted(times, reverse=True)
    page = db.search_coincidences(model.CoincidenceSearch(limit=2, skip=2))
    assert page["count"] == 6 and page["coincidences"] == everything["coincidences"][2:4]
    late = db.search_coincidences(model.CoincidenceSearch(after=NIGHT + timedelta(minutes=25)))
    assert late["count"] == 3
    event = stored[1].events[0]
    one = db.search_coincidences(model.CoincidenceSearch(event_ids=[event.event_id]))
    assert one["count"] == 1 and event.event_id in {m.event_id for m in one["coincidences"][0].members}
    assert db.get_coincidence_for_event(event.event_id) == one["coincidences"][0]
    four = db.search_coincidences(model.CoincidenceSearch(min_stations=4, limit=0))
    assert all(len(g.members) >= 4 for g in four["coincidences"])
    assert db.search_coincidences(model.CoincidenceSearch(solved=True))["count"] == 6
    assert db.search_coincidences(model.CoincidenceSearch(solved=False))["count"] == 0
    assert db.search_coincidences(model.CoincidenceSearch(camera_ids=["nobody"]))["count"] == 0


@pytest.mark.parametrize("bad, message", [
    ({"window_seconds": -1}, "window"), ({"window_seconds": "2"}, "window"),
    ({"after": utc(2024, 8, 2), "before": utc(2024, 8, 1)}, "before"),
])
def test_bad_arguments_are_value_errors_and_write_nothing(db, network, bad, message) -> None:
    db.register_event(CAMERAS[0], NIGHT, "meteorpi:meteor", [], [])
    db.register_event(CAMERAS[1], NIGHT, "meteorpi:meteor", [], [])
    with pytest.raises(ValueError, match=message):
        db.update_coincidences(**bad)
    assert all_groups(db) == []
    with pytest.raises(ValueError, match="CoincidenceSearch"):
        db.search_coincidences(model.EventSearch())


def test_deleting_events_with_a_rolled_back_status_leaves_no_broken_group(db, network) -> None:
    store_meteor(db, Meteor(52.9, -1.4, 100, 60, 40, 40), network, NIGHT)
    db.update_coincidences()
    assert len(all_groups(db)) == 1
    # Rolling one camera's high water mark back deletes its events of the night.
    db.set_high_water_mark(NIGHT + timedelta(days=1), CAMERAS[0])
    db.set_high_water_mark(NIGHT - timedelta(hours=1), CAMERAS[0], allow_rollback=True)
    assert [len(g.members) for g in all_groups(db)] == [3]  # members cascade away
    counts = db.update_coincidences(everything=True)
    assert counts["removed"] == 1 and counts["created"] == 1
    (group,) = all_groups(db)
    assert sorted(m.camera_id for m in group.members) == CAMERAS[1:] and group.trajectory.ok


def test_concurrent_runs_over_the_same_events_create_each_group_once(db, network, make_db) -> None:
    import threading

    simulated_night(db, network, meteors=5, noise=5)
    others = [make_db() for _ in range(3)]
    start = threading.Barrier(len(others))
    errors: list[BaseException] = []

    def run(each) -> None:
        start.wait()
        try:
            each.update_coincidences(everything=True)
        except BaseException as error:  # reported below, in the test's thread
            errors.append(error)

    threads = [threading.Thread(target=run, args=(each,)) for each in others]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert errors == []
    groups = all_groups(db)
    assert len(groups) == 5 and len({g.group_id for g in groups}) == 5
    assert db.update_coincidences(everything=True)["created"] == 0
