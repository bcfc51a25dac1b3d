"""Simulated meteors with known truth: a straight path at constant speed, seen by cameras.

Used by the tests (truth to compare solutions with), the demo network (events that several
cameras record) and the benchmark. A camera sees the part of the path that lies on its sensor
and above its horizon; its pixels come from the same gnomonic model the solver inverts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

from meteorpi_trajectory._deps import libraries
from meteorpi_trajectory.projection import (CameraModel, azel_from_enu, ecef_to_enu_vectors,
                                            enu_from_azel, enu_to_ecef_vectors, site_ecef)

SAMPLES = 400  # points along the path when finding what each camera sees
MIN_PIXELS = 15.0  # shorter streaks are not detected


@dataclass(frozen=True)
class Station:
    """A camera at a site."""

    camera_id: str
    latitude: float
    longitude: float
    model: CameraModel
    height_m: float = 0.0


@dataclass(frozen=True)
class Meteor:
    """A straight-line meteor: begin point, radiant (az/el at the begin point), speed (km/s),
    and the height where it ends."""

    latitude: float
    longitude: float
    begin_height_km: float
    radiant_az: float
    radiant_el: float
    speed_km_s: float
    end_height_km: float = 80.0

    def path(self) -> tuple[Any, Any, float]:
        """``(begin ECEF m, unit direction of flight ECEF, length m)``."""
        np, pm = libraries()
        begin = site_ecef(self.latitude, self.longitude, self.begin_height_km * 1000)
        towards = enu_to_ecef_vectors(enu_from_azel(self.radiant_az, self.radiant_el),
                                      self.latitude, self.longitude)
        direction = -towards / np.linalg.norm(towards)
        target = self.end_height_km * 1000
        low, high = 0.0, 1_500_000.0
        for _ in range(3):  # bracket the end height on ever finer grids (vectorised)
            s = np.linspace(low, high, 1001)
            heights = np.asarray(pm.ecef2geodetic(*(begin + s[:, None] * direction).T)[2])
            below = np.flatnonzero(heights <= target)
            if below.size == 0:
                raise ValueError("the meteor never reaches its end height (radiant too low?)")
            k = max(int(below[0]), 1)
            low, high = float(s[k - 1]), float(s[k])
        h0, h1 = heights[k - 1], heights[k]
        return begin, direction, low + (high - low) * float((h0 - target) / (h0 - h1))


@dataclass(frozen=True)
class Sighting:
    """What one station saw: pixels (rounded as cameras report them), when it saw the first
    and last point (seconds after the meteor began), and the true ECEF points."""

    station: Station
    start: tuple[int, int]
    end: tuple[int, int]
    t_begin: float
    t_end: float
    begin_ecef: Any
    end_ecef: Any

    @property
    def duration(self) -> float:
        return self.t_end - self.t_begin


def sightings(meteor: Meteor, stations: Sequence[Station], min_elevation: float = 5.0,
              min_pixels: float = MIN_PIXELS,
              visible: Callable[[Any, Any], Any] | None = None) -> list[Sighting]:
    """Every station that sees a long enough part of ``meteor`` on its sensor (and, with
    ``visible(x, y)``, in the part of the frame that shows open sky)."""
    np, _ = libraries()
    begin, direction, length = meteor.path()
    s = np.linspace(0.0, length, SAMPLES)
    points = begin + s[:, None] * direction
    seen = []
    for station in stations:
        site = site_ecef(station.latitude, station.longitude, station.height_m)
        rays = points - site
        enu = ecef_to_enu_vectors(rays / np.linalg.norm(rays, axis=1, keepdims=True),
                                  station.latitude, station.longitude)
        _az, el = azel_from_enu(enu)
        x, y, front = station.model.enu_to_pixel(enu)
        seen_here = front & station.model.in_image(x, y, margin=1.0) & (el >= min_elevation)
        if visible is not None:
            seen_here &= visible(x, y)
        index = np.flatnonzero(seen_here)
        if index.size < 2:
            continue
        first, last = index[0], index[-1]
        start = (int(round(float(x[first]))), int(round(float(y[first]))))
        end = (int(round(float(x[last]))), int(round(float(y[last]))))
        if np.hypot(end[0] - start[0], end[1] - start[1]) < min_pixels:
            continue
        speed = meteor.speed_km_s * 1000
        seen.append(Sighting(station, start, end, float(s[first]) / speed, float(s[last]) / speed,
                             points[first], points[last]))
    return seen


def pointing_at(latitude: float, longitude: float, target_lat: float, target_lon: float,
                target_height_km: float = 95.0) -> tuple[float, float]:
    """Azimuth and elevation (degrees) from a site to a point in the sky (to aim a camera)."""
    _, pm = libraries()
    az, el, _range = pm.geodetic2aer(target_lat, target_lon, target_height_km * 1000,
                                     latitude, longitude, 0.0)
    return float(az), float(el)


def pixel_meta(sighting: Sighting) -> dict[str, float]:
    """The event metadata a camera writes for a sighting (as the demo does)."""
    return {"meteorpi:start_x": sighting.start[0], "meteorpi:start_y": sighting.start[1],
            "meteorpi:end_x": sighting.end[0], "meteorpi:end_y": sighting.end[1],
            "meteorpi:duration": round(sighting.duration, 3)}
