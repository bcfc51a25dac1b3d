"""The trajectory maths against simulated meteors with known truth (no database).

Run as ``python -m tests.test_trajectory`` to print the accuracy table of docs/coincidences.md.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timezone

import numpy as np
import pymap3d as pm
import pytest

from meteorpi_trajectory import CameraModel, Observation, solve
from meteorpi_trajectory.projection import azel_from_enu, enu_from_azel, sensor_size
from meteorpi_trajectory.simulate import Meteor, Sighting, sightings
from tests.coincidence_helpers import SITES, stations

WHEN = datetime(2024, 8, 12, 1, 30, tzinfo=timezone.utc)


@dataclass(frozen=True)
class Case:
    name: str
    meteor: Meteor
    camera_ids: tuple[str, ...] = tuple(SITES)
    width_of_field: float = 60.0
    target: tuple[float, float] = (52.8, -1.5)


CASES = [
    Case("steep, 4 stations", Meteor(52.9, -1.4, 100, 60, 40, 40)),
    Case("shallow, fast (Perseid-like)", Meteor(52.6, -1.8, 100, 30, 25, 59)),
    Case("slow, 2 stations", Meteor(52.8, -1.2, 100, 200, 45, 15),
         ("c0ffee000001", "c0ffee000002")),
    Case("near vertical, 3 stations", Meteor(52.8, -1.5, 100, 10, 75, 30),
         ("c0ffee000001", "c0ffee000003", "c0ffee000004")),
    Case("wide lenses (90 deg)", Meteor(53.0, -1.0, 100, 300, 35, 50), width_of_field=90.0),
    Case("north-bound, 2 stations far apart", Meteor(52.5, -1.6, 100, 180, 30, 25),
         ("c0ffee000003", "c0ffee000004")),
]


def observations(seen: list[Sighting]) -> list[Observation]:
    result = []
    for s in seen:
        az, el = s.station.model.pixel_to_azel([s.start[0], s.end[0]], [s.start[1], s.end[1]])
        result.append(Observation(s.station.camera_id, s.station.latitude, s.station.longitude,
                                  float(az[0]), float(el[0]), float(az[1]), float(el[1]),
                                  duration=round(s.duration, 3)))
    return result


def angle_between(az1: float, el1: float, az2: float, el2: float) -> float:
    a, b = enu_from_azel(az1, el1), enu_from_azel(az2, el2)
    return math.degrees(math.acos(min(1.0, float(a @ b))))


def errors(case: Case) -> dict[str, float]:
    """Solve a case and compare with the truth: what the stations saw, first to last."""
    seen = sightings(case.meteor, stations(case.camera_ids, width_of_field=case.width_of_field,
                                           target=case.target))
    assert len(seen) == len(case.camera_ids), "every station of the case sees the meteor"
    result = solve(observations(seen), WHEN)
    assert result.ok, result.reason
    first = min(seen, key=lambda s: s.t_begin)
    last = max(seen, key=lambda s: s.t_end)
    true_begin = pm.ecef2geodetic(*first.begin_ecef)[2] / 1000
    true_end = pm.ecef2geodetic(*last.end_ecef)[2] / 1000
    # The true radiant as seen from the solved begin point (a direction: same from anywhere).
    _begin, direction, _length = case.meteor.path()
    lat, lon = result.begin["lat"], result.begin["lon"]
    e, n, u = pm.uvw2enu(*(-direction), lat, lon)
    true_az, true_el = (float(v) for v in azel_from_enu(np.array([e, n, u])))
    true_ra, true_dec = pm.azel2radec(true_az, true_el, lat, lon, WHEN.replace(tzinfo=None),
                                      force_non_astropy=True)
    return {
        "stations": len(seen), "convergence": result.convergence_deg,
        "begin_km": result.begin["height_km"] - true_begin,
        "end_km": result.end["height_km"] - true_end,
        "radiant_deg": angle_between(result.radiant["az"], result.radiant["el"], true_az, true_el),
        "radec_deg": _sky_angle(result.radiant["ra"], result.radiant["dec"], true_ra, true_dec),
        "speed_pct": 100 * (result.speed_km_s - case.meteor.speed_km_s) / case.meteor.speed_km_s,
        "true_begin_km": true_begin, "true_end_km": true_end,
    }


def _sky_angle(ra1: float, dec1: float, ra2: float, dec2: float) -> float:
    r1, d1, r2, d2 = map(math.radians, (ra1, dec1, ra2, dec2))
    cos = math.sin(d1) * math.sin(d2) + math.cos(d1) * math.cos(d2) * math.cos(r1 - r2)
    return math.degrees(math.acos(min(1.0, cos)))


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_solution_matches_the_truth(case: Case) -> None:
    found = errors(case)
    assert abs(found["begin_km"]) < 1.0
    assert abs(found["end_km"]) < 1.0
    assert found["radiant_deg"] < 1.0
    assert found["radec_deg"] < 1.0
    assert abs(found["speed_pct"]) < 5.0
    assert 95 < found["true_begin_km"] <= 100.5 and 79.5 <= found["true_end_km"] < 90


def near_parallel_sightings() -> list[Sighting]:
    """A meteor flying along the Cambridge-Jodrell Bank baseline, right above it: both stations'
    planes hold the baseline, so they (nearly) coincide."""
    a, b = SITES["c0ffee000001"], SITES["c0ffee000002"]
    middle = ((a[0] + b[0]) / 2, (a[1] + b[1]) / 2)
    bearing, _el, _r = pm.geodetic2aer(b[0], b[1], 0, a[0], a[1], 0)
    meteor = Meteor(middle[0], middle[1], 100, float(bearing) + 180, 35, 40)
    return sightings(meteor, stations(("c0ffee000001", "c0ffee000002"), target=middle))


def test_nearly_parallel_planes_are_refused_with_a_reason() -> None:
    seen = near_parallel_sightings()
    assert len(seen) == 2
    result = solve(observations(seen), WHEN)
    assert not result.ok
    assert "nearly parallel" in result.reason and result.convergence_deg < 3
    assert result.begin is None and result.radiant is None


def test_refusals_for_too_few_stations_and_degenerate_sight_lines() -> None:
    one = Observation("a", 52.0, 0.0, 10, 40, 20, 30)
    assert "two or more" in solve([one], WHEN).reason
    point = Observation("b", 53.0, -2.0, 100, 40, 100, 40)
    assert "plane is undefined" in solve([one, point], WHEN).reason


def test_speed_is_absent_without_frame_timing() -> None:
    seen = sightings(CASES[0].meteor, stations())
    untimed = [Observation(**{**o.__dict__, "duration": None}) for o in observations(seen)]
    result = solve(untimed, WHEN)
    assert result.ok and result.speed_km_s is None and "speed_km_s" not in result.as_dict()


@pytest.mark.parametrize("alt, az, rot", [(45, 0, 0), (60, 123.4, 5), (89.99, 200, -30), (90, 0, 0)])
def test_projection_round_trips_and_centre(alt: float, az: float, rot: float) -> None:
    model = CameraModel(alt, az, rot, 70, 720, 576)
    cx, cy = model.pixel_to_azel(360, 288)
    assert angle_between(float(cx), float(cy), az, alt) < 1e-6
    xs, ys = np.array([0, 100, 719, 360]), np.array([0, 500, 575, 10])
    x, y, front = model.enu_to_pixel(model.pixel_to_enu(xs, ys))
    assert front.all() and np.allclose(x, xs) and np.allclose(y, ys)
    # The left and right edges of the sensor are the width of field apart (through the centre).
    left, right = model.pixel_to_enu(np.array([0, 720]), np.array([288, 288]))
    assert math.degrees(math.acos(float(left @ right))) == pytest.approx(70)


def test_image_up_is_towards_the_zenith_and_rotation_turns_it() -> None:
    level = CameraModel(30, 90, 0, 60)
    _az, el_top = level.pixel_to_azel(360, 0)
    _az, el_bottom = level.pixel_to_azel(360, 576)
    assert el_top > 30 > el_bottom
    az_right, _el = level.pixel_to_azel(720, 288)
    assert az_right > 90  # looking east, the right of the image is towards the south
    turned = CameraModel(30, 90, 90, 60)
    _az, el_right = turned.pixel_to_azel(720, 288)
    assert el_right > 30  # rotated by 90 degrees, "up" lies at the image's right


def test_camera_model_rejects_unusable_fields_and_reads_sensor_sizes() -> None:
    with pytest.raises(ValueError, match="width of field"):
        CameraModel(45, 0, 0, 0)
    with pytest.raises(ValueError, match="width of field"):
        CameraModel(45, 0, 0, 180)
    assert sensor_size("Sony IMX291 1920x1080") == (1920, 1080)
    assert sensor_size("Watec 902H2", 640, 480) == (640, 480)
    assert sensor_size("Watec 902H2") == (720, 576)


def accuracy_table() -> str:
    """The Markdown accuracy table of docs/coincidences.md."""
    lines = ["| geometry | stations | Q (deg) | begin height error (km) | end height error (km) "
             "| radiant error (deg) | speed error (%) |", "|---|---|---|---|---|---|---|"]
    for case in CASES:
        e = errors(case)
        lines.append(f"| {case.name} | {e['stations']} | {e['convergence']:.1f} | "
                     f"{e['begin_km']:+.3f} | {e['end_km']:+.3f} | {e['radiant_deg']:.3f} | "
                     f"{e['speed_pct']:+.2f} |")
    seen = near_parallel_sightings()
    refused = solve(observations(seen), WHEN)
    lines.append(f"| near-parallel planes | {len(seen)} | {refused.convergence_deg:.1f} | "
                 f"refused: {refused.reason} | | | |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(accuracy_table())
