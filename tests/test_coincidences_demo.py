"""The demo network has multi-station meteors to find, and the server finds exactly them."""

from __future__ import annotations

from collections import defaultdict

import numpy as np

import meteorpi_model as model
from meteorpi_cli.demo import fill_node
from meteorpi_cli.demo_meteors import SHARED_SKY
from meteorpi_cli.demo_network import plan_network
from meteorpi_trajectory import CameraModel


def _meta(event, key):
    return next(m.value for m in event.meta if str(m.key) == key)


def test_shared_meteors_are_drawn_where_the_projection_puts_them() -> None:
    network = plan_network(seed=1, cameras=4, nights=1)
    shared = [(c, e) for c in network.cameras for e in c.events if e.shared is not None]
    assert len({e.shared for _c, e in shared}) >= 2
    for camera, event in shared:
        status = [s for s in camera.statuses if s.valid_from <= event.time][-1]
        model_ = CameraModel.from_status(status)
        x = [_meta(event, "meteorpi:start_x"), _meta(event, "meteorpi:end_x")]
        y = [_meta(event, "meteorpi:start_y"), _meta(event, "meteorpi:end_y")]
        az, el = model_.pixel_to_azel(np.array(x, float), np.array(y, float))
        assert (el > 5).all() and model_.in_image(np.array(x), np.array(y)).all()
        assert _meta(event, "meteorpi:duration") > 0
    # The single-station events are still there.
    assert any(e.shared is None for c in network.cameras for e in c.events)
    assert SHARED_SKY


def test_the_server_finds_the_demo_meteors_and_their_heights(db) -> None:
    network = plan_network(seed=1, cameras=4, nights=1)
    summary = fill_node(db, network, "admin", "password-1")
    truth = defaultdict(set)  # meteor -> {(camera, time)}
    for camera in network.cameras:
        for event in camera.events:
            if event.shared is not None:
                truth[event.shared].add((camera.camera_id, event.time))
    seen_by_several = {k: v for k, v in truth.items() if len(v) >= 2}
    groups = db.search_coincidences(model.CoincidenceSearch(limit=0))["coincidences"]
    assert summary["coincidences"] == len(groups) == len(seen_by_several)
    found = {frozenset((m.camera_id, m.event_time) for m in g.members) for g in groups}
    assert found == {frozenset(v) for v in seen_by_several.values()}
    for group in groups:
        t = group.trajectory
        assert t.ok, t.reason
        assert 75 <= t.end["height_km"] < t.begin["height_km"] <= 106
        assert t.speed_km_s is not None and 10 < t.speed_km_s < 75
