"""Meteors that several demo cameras see: physically consistent paths, one per simulated
meteor, rendered by every camera that would see it (pixels from the gnomonic camera model of
``meteorpi_trajectory``, the same the server inverts to find trajectories).

The UK cameras of the demo are aimed at one patch of sky (:data:`SHARED_SKY`, at 95 km), as a
real network aims its cameras; each night brings a few meteors above it, from about 100 km down
to about 80 km, with a shower's radiant and speed. Each camera's clock is off by up to 0.3 s.
Needs the ``trajectory`` extra (numpy, pymap3d).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any, Callable, Sequence

#: the patch of sky (lat, lon at 95 km) the UK cameras share
SHARED_SKY = (53.6, -2.2)
UK_SITES = frozenset({"cambridge", "greenwich", "jodrell-bank", "armagh", "kielder"})
#: radiants (RA, Dec, degrees) and speeds (km/s) of the showers the demo simulates
RADIANTS = {"PER": (48.0, 58.0, 59.0), "KCG": (286.0, 59.0, 25.0)}
#: the frame above this row always shows sky (the demo's horizon lies between rows 420 and 540)
SKY_ROWS = 415


@dataclass(frozen=True)
class SharedSighting:
    """One camera's view of a simulated meteor."""

    meteor: int
    time: datetime
    shower: str
    start: tuple[int, int]
    end: tuple[int, int]
    duration: float
    magnitude: float


def aim(latitude: float, longitude: float) -> tuple[float, float]:
    """Azimuth and altitude (degrees, rounded) from a site to :data:`SHARED_SKY`."""
    from meteorpi_trajectory.simulate import pointing_at

    az, el = pointing_at(latitude, longitude, *SHARED_SKY)
    return round(az % 360, 1), round(el, 1)


def plan_shared(seed: int, evening: date, cameras: Sequence[Any], expected: float,
                shower_weights: dict[str, float],
                dark: Callable[[Any], tuple[datetime, datetime]]) -> dict[str, list[SharedSighting]]:
    """``{camera_id: [sightings]}`` of one night's shared meteors (``expected`` on average).

    ``cameras`` are ``DemoCamera``s; ``dark(camera)`` is its dark hours that night.
    """
    from meteorpi_trajectory import CameraModel
    from meteorpi_trajectory.simulate import Meteor, Station, sightings

    rng = random.Random(f"{seed}:shared:{evening.isoformat()}")
    windows = {c.camera_id: dark(c) for c in cameras}
    start = max(w[0] for w in windows.values())
    end = min(w[1] for w in windows.values())
    found: dict[str, list[SharedSighting]] = {c.camera_id: [] for c in cameras}
    if end <= start:
        return found
    clock = {c.camera_id: rng.uniform(-0.3, 0.3) for c in cameras}
    count = _poisson(rng, expected)
    for index in range(count):
        when = start + (end - start) * rng.random()
        shower = rng.choices(list(shower_weights), weights=list(shower_weights.values()))[0]
        lat = SHARED_SKY[0] + rng.uniform(-0.7, 0.7)
        lon = SHARED_SKY[1] + rng.uniform(-1.1, 1.1)
        az, el, speed = _radiant(rng, shower, lat, lon, when)
        meteor = Meteor(lat, lon, rng.uniform(98, 103), az, el, speed,
                        end_height_km=rng.uniform(78, 84))
        magnitude = round(max(-6.0, 3.5 - rng.expovariate(0.6)), 1)
        stations = [Station(c.camera_id, s.location.latitude, s.location.longitude,
                            CameraModel.from_status(s))
                    for c in cameras for s in [_status_at(c, when)]
                    if windows[c.camera_id][0] <= when <= windows[c.camera_id][1]]
        for seen in sightings(meteor, stations, visible=lambda x, y: y <= SKY_ROWS):
            camera_id = seen.station.camera_id
            at = when + timedelta(seconds=seen.t_begin + clock[camera_id])
            at = at.replace(microsecond=at.microsecond // 1000 * 1000)
            found[camera_id].append(SharedSighting(index, at, shower, seen.start, seen.end,
                                                   round(seen.duration, 3),
                                                   round(magnitude + rng.uniform(-0.5, 0.5), 1)))
    return found


def _radiant(rng: random.Random, shower: str, lat: float, lon: float,
             when: datetime) -> tuple[float, float, float]:
    """Azimuth, elevation and speed of a meteor of ``shower`` (sporadic when its radiant is
    too low)."""
    import pymap3d

    if shower in RADIANTS:
        ra, dec, speed = RADIANTS[shower]
        az, el = pymap3d.radec2azel(ra, dec, lat, lon, when.astimezone(timezone.utc).replace(tzinfo=None),
                                    force_non_astropy=True)
        if el >= 15:
            return float(az), float(el), speed
    return rng.uniform(0, 360), rng.uniform(20, 70), rng.uniform(15, 70)


def _status_at(camera: Any, when: datetime) -> Any:
    in_force = [s for s in camera.statuses if s.valid_from <= when]
    return in_force[-1] if in_force else camera.statuses[0]


def _poisson(rng: random.Random, mean: float) -> int:
    limit, k, p = math.exp(-mean), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k
