"""Straight-line meteor trajectories by the method of intersecting planes (Ceplecha 1987).

Each station's begin and end sight lines span a plane through the station that contains the
meteor's path. Two planes meet in the path; with more stations the path is the line that best
fits every plane (least squares: its direction is the unit vector most nearly perpendicular to
every plane normal, its position the point nearest every plane). The convergence angle Q is
the largest angle between two stations' planes: near 0 the planes are nearly parallel, the line
is ill-determined and the solution is refused (:data:`MIN_CONVERGENCE_DEG`).

Begin and end points are where the stations' first and last sight lines pass closest to the
path; the earliest begin and the latest end along the direction of flight are reported. The
radiant is the direction the meteor comes from. The average speed needs each station's
duration (``meteorpi:duration``): the length that station saw, over the time it saw it.

All positions are WGS84 via pymap3d; the maths is in ECEF metres.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Sequence

from meteorpi_trajectory._deps import libraries
from meteorpi_trajectory.projection import (azel_from_enu, ecef_to_enu_vectors, enu_from_azel,
                                            enu_to_ecef_vectors, site_ecef)

#: planes meeting at less than this angle (degrees) give no trajectory
MIN_CONVERGENCE_DEG = 3.0
#: solutions with points outside these heights (metres) are refused as unphysical
HEIGHT_LIMITS_M = (10_000.0, 300_000.0)


@dataclass(frozen=True)
class Observation:
    """One station's sight of a meteor: where it stood and the directions of the first and last
    points it saw (degrees; azimuth from north through east), and for how long (seconds)."""

    camera_id: str
    latitude: float
    longitude: float
    begin_az: float
    begin_el: float
    end_az: float
    end_el: float
    height_m: float = 0.0
    duration: float | None = None


@dataclass
class Trajectory:
    """A solved trajectory, or a refusal (``ok`` False and a ``reason``)."""

    ok: bool
    reason: str | None = None
    stations: int = 0
    convergence_deg: float | None = None
    begin: dict[str, float] | None = None  # lat, lon (degrees), height (km)
    end: dict[str, float] | None = None
    radiant: dict[str, float] | None = None  # ra, dec, az, el (degrees)
    speed_km_s: float | None = None
    residual_m: float | None = None
    quality: float | None = None
    length_km: float | None = None

    def as_dict(self) -> dict[str, Any]:
        """The wire form (``meteorpi_model.TrajectoryResult`` takes the same dict)."""
        d = {"ok": self.ok, "reason": self.reason, "stations": self.stations,
             "convergence_deg": self.convergence_deg, "begin": self.begin, "end": self.end,
             "radiant": self.radiant, "speed_km_s": self.speed_km_s,
             "residual_m": self.residual_m, "quality": self.quality, "length_km": self.length_km}
        return {k: v for k, v in d.items() if v is not None}


def refused(reason: str, stations: int = 0, convergence: float | None = None) -> Trajectory:
    """A refusal: no trajectory, and why."""
    return Trajectory(False, reason, stations, None if convergence is None else round(convergence, 3))


def solve(observations: Sequence[Observation], when: datetime,
          min_convergence_deg: float = MIN_CONVERGENCE_DEG) -> Trajectory:
    """The trajectory seen by ``observations`` (two or more distinct stations) at ``when``
    (UTC, for the radiant's RA/Dec), or a refusal saying why."""
    np, pm = libraries()
    n = len(observations)
    if n < 2:
        return refused("a trajectory needs two or more stations", n)
    sites, begins, ends, normals = [], [], [], []
    for obs in observations:
        site = site_ecef(obs.latitude, obs.longitude, obs.height_m)
        b, e = enu_to_ecef_vectors(enu_from_azel([obs.begin_az, obs.end_az],
                                                 [obs.begin_el, obs.end_el]),
                                   obs.latitude, obs.longitude)
        normal = np.cross(b, e)
        norm = np.linalg.norm(normal)
        if norm < 1e-6:
            return refused(f"camera {obs.camera_id}: begin and end directions coincide, "
                           f"so its plane is undefined", n)
        sites.append(site), begins.append(b), ends.append(e), normals.append(normal / norm)
    sites, begins, ends, normals = map(np.array, (sites, begins, ends, normals))
    convergence = _max_convergence(normals)
    if convergence < min_convergence_deg:
        return refused(f"the stations' planes are nearly parallel (convergence angle "
                       f"{convergence:.2f} degrees, below {min_convergence_deg:g})", n, convergence)
    # Direction: the eigenvector of sum(n n^T) with the smallest eigenvalue.
    _values, vectors = np.linalg.eigh(normals.T @ normals)
    direction = vectors[:, 0]
    # Position: least squares on n_i . X = n_i . S_i, pinned along the line near the stations.
    rows = np.vstack([normals, direction])
    rhs = np.concatenate([np.einsum("ij,ij->i", normals, sites), [direction @ sites.mean(axis=0)]])
    point = np.linalg.lstsq(rows, rhs, rcond=None)[0]
    begin_s = np.array([_along(point, direction, s, b) for s, b in zip(sites, begins)])
    end_s = np.array([_along(point, direction, s, e) for s, e in zip(sites, ends)])
    if np.any(np.isnan(begin_s)) or np.any(np.isnan(end_s)):
        return refused("a sight line is parallel to the solved path", n, convergence)
    if np.sum(end_s - begin_s) < 0:  # fly from the begin points to the end points
        direction, begin_s, end_s = -direction, -begin_s, -end_s
    first, last = point + begin_s.min() * direction, point + end_s.max() * direction
    for label, p in (("begin", first), ("end", last)):
        for s, b in zip(sites, begins):
            if (p - s) @ b <= 0:
                return refused(f"the solved {label} point lies behind a camera", n, convergence)
    begin_geo = pm.ecef2geodetic(*first)
    end_geo = pm.ecef2geodetic(*last)
    low, high = HEIGHT_LIMITS_M
    if not (low <= begin_geo[2] <= high and low <= end_geo[2] <= high):
        return refused(f"solved heights {begin_geo[2] / 1000:.1f} and {end_geo[2] / 1000:.1f} km "
                       f"are not those of a meteor", n, convergence)
    residual = _residual(np, point, direction, sites, np.vstack([begins, ends]))
    radiant_enu = ecef_to_enu_vectors(-direction, begin_geo[0], begin_geo[1])
    az, el = azel_from_enu(radiant_enu)
    ra, dec = pm.azel2radec(float(az), float(el), float(begin_geo[0]), float(begin_geo[1]),
                            when.replace(tzinfo=None), force_non_astropy=True)
    speed = _speed(observations, end_s - begin_s)
    quality = math.sin(math.radians(convergence)) / (1.0 + residual / 1000.0)
    return Trajectory(
        ok=True, stations=n, convergence_deg=round(convergence, 3),
        begin=_geo(begin_geo), end=_geo(end_geo),
        radiant={"ra": round(float(ra) % 360, 4), "dec": round(float(dec), 4),
                 "az": round(float(az), 4), "el": round(float(el), 4)},
        speed_km_s=None if speed is None else round(speed, 3),
        residual_m=round(residual, 1), quality=round(quality, 4),
        length_km=round(float(np.linalg.norm(last - first)) / 1000, 3))


def _max_convergence(normals: Any) -> float:
    best = 0.0
    for i in range(len(normals)):
        for j in range(i + 1, len(normals)):
            cos = min(1.0, abs(float(normals[i] @ normals[j])))
            best = max(best, math.degrees(math.acos(cos)))
    return best


def _along(point: Any, direction: Any, site: Any, ray: Any) -> float:
    """Distance along the path (from ``point``) of its closest approach to a sight line."""
    w = point - site
    b = float(direction @ ray)
    denominator = 1.0 - b * b
    if denominator < 1e-12:
        return float("nan")
    return (b * float(ray @ w) - float(direction @ w)) / denominator


def _residual(np: Any, point: Any, direction: Any, sites: Any, rays: Any) -> float:
    """RMS distance (m) between the path and each sight line where they pass closest."""
    sites = np.vstack([sites, sites])
    misses = []
    for s, r in zip(sites, rays):
        cross = np.cross(direction, r)
        norm = np.linalg.norm(cross)
        misses.append(abs(float((s - point) @ cross)) / norm if norm > 1e-12 else 0.0)
    return float(np.sqrt(np.mean(np.square(misses))))


def _speed(observations: Sequence[Observation], lengths: Any) -> float | None:
    """Mean over stations with a duration of (length seen / duration), in km/s."""
    speeds = [float(length) / 1000.0 / obs.duration for obs, length in zip(observations, lengths)
              if obs.duration is not None and obs.duration > 0 and length > 0]
    return sum(speeds) / len(speeds) if speeds else None


def _geo(geodetic: Any) -> dict[str, float]:
    lat, lon, height = (float(v) for v in geodetic)
    return {"lat": round(lat, 5), "lon": round(lon, 5), "height_km": round(height / 1000, 3)}
