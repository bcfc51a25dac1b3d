"""Which events from different cameras saw the same meteor: times within a window, and fields
of view that share sky at meteor heights.

Grouping is greedy over candidate pairs: pairs whose sight lines agree on a path at meteor
heights first, then pairs that cannot be checked (no pixels, or nearly parallel planes), each
closest in time first; pairs whose sight lines contradict each other are never joined. Two
groups merge only when they hold no camera in common and the merged group still spans no more
than the window. So a group never holds two events of one camera, and every consistent pair
inside the window from cameras that share sky ends up grouped unless one of them joined a better
partner from the other's camera.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Hashable, Sequence

from meteorpi_trajectory._deps import libraries
from meteorpi_trajectory.projection import (CameraModel, azel_from_enu, ecef_to_enu_vectors,
                                            enu_to_ecef_vectors, site_ecef)

#: meteor heights (km) at which fields of view are compared
METEOR_HEIGHTS_KM = (70.0, 95.0, 120.0)
#: two cameras further apart than this (km) cannot both see a meteor above 5 degrees
MAX_BASELINE_KM = 2400.0
DEFAULT_WINDOW_SECONDS = 2.0


@dataclass(frozen=True)
class Candidate:
    """An event as grouping sees it; ``view`` is a key for :class:`FieldOverlap`."""

    key: Hashable
    camera_id: str
    time_ms: int
    view: Hashable


@dataclass(frozen=True)
class View:
    """A camera's site and pointing (one status block); ``model`` None means unknown pointing."""

    latitude: float
    longitude: float
    model: CameraModel | None


class FieldOverlap:
    """Whether two views share sky at meteor heights, computed once per pair of views.

    A grid of sight lines across each camera's sensor is carried out to each of
    :data:`METEOR_HEIGHTS_KM` (on a sphere through the site: plenty for this test); the views
    overlap when any such point of one lies on the other's sensor above its horizon. A view
    without a usable pointing (no width of field) overlaps nothing.
    """

    def __init__(self, views: dict[Hashable, View], grid: int = 9) -> None:
        self.views = views
        self.grid = grid
        self._cache: dict[tuple[Hashable, Hashable], bool] = {}
        self._points: dict[Hashable, Any] = {}

    def __call__(self, a: Hashable, b: Hashable) -> bool:
        key = (a, b) if repr(a) <= repr(b) else (b, a)
        if key not in self._cache:
            self._cache[key] = self._compute(*key)
        return self._cache[key]

    def _compute(self, a: Hashable, b: Hashable) -> bool:
        va, vb = self.views.get(a), self.views.get(b)
        if va is None or vb is None or va.model is None or vb.model is None:
            return False
        if _ground_km(va, vb) > MAX_BASELINE_KM:
            return False
        return self._sees(vb, self._sky_points(a, va)) or self._sees(va, self._sky_points(b, vb))

    def _sky_points(self, key: Hashable, view: View) -> Any:
        if key not in self._points:
            np, _ = libraries()
            site = site_ecef(view.latitude, view.longitude)
            rays = enu_to_ecef_vectors(view.model.grid(self.grid), view.latitude, view.longitude)
            radius = np.linalg.norm(site)
            b = rays @ site
            chunks = []
            for height in METEOR_HEIGHTS_KM:
                r = radius + height * 1000
                s = -b + np.sqrt(b * b - radius * radius + r * r)
                chunks.append(site + s[:, None] * rays)
            self._points[key] = np.vstack(chunks)
        return self._points[key]

    @staticmethod
    def _sees(view: View, points: Any) -> bool:
        np, _ = libraries()
        site = site_ecef(view.latitude, view.longitude)
        rays = points - site
        enu = ecef_to_enu_vectors(rays / np.linalg.norm(rays, axis=1, keepdims=True),
                                  view.latitude, view.longitude)
        _az, el = azel_from_enu(enu)
        x, y, front = view.model.enu_to_pixel(enu)
        return bool(np.any(front & view.model.in_image(x, y) & (el > 0)))


def _ground_km(a: View, b: View) -> float:
    """Great-circle distance between two sites (haversine on a 6371 km sphere)."""
    p1, p2 = math.radians(a.latitude), math.radians(b.latitude)
    dp, dl = p2 - p1, math.radians(b.longitude - a.longitude)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6371.0 * math.asin(min(1.0, math.sqrt(h)))


def find_groups(candidates: Sequence[Candidate], window_seconds: float,
                overlaps: Callable[[Hashable, Hashable], bool],
                consistent: Callable[[Candidate, Candidate], bool | None] | None = None,
                ) -> list[list[Candidate]]:
    """Groups of two or more candidates from different cameras (each sorted by time, the
    groups by their first time). ``consistent(a, b)`` says whether two sightings agree on a
    meteor (None: cannot tell)."""
    if window_seconds < 0:
        raise ValueError(f"window must not be negative, got {window_seconds}")
    window_ms = int(round(window_seconds * 1000))
    ordered = sorted(candidates, key=lambda c: (c.time_ms, c.camera_id, repr(c.key)))
    pairs = []
    for i, a in enumerate(ordered):
        for j in range(i + 1, len(ordered)):
            b = ordered[j]
            gap = b.time_ms - a.time_ms
            if gap > window_ms:
                break
            if a.camera_id != b.camera_id and overlaps(a.view, b.view):
                agree = None if consistent is None else consistent(a, b)
                if agree is not False:
                    pairs.append((0 if agree else 1, gap, i, j))
    pairs.sort()
    parent = list(range(len(ordered)))
    cameras = [{c.camera_id} for c in ordered]
    span = [(c.time_ms, c.time_ms) for c in ordered]

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for _rank, _gap, i, j in pairs:
        ri, rj = root(i), root(j)
        if ri == rj or cameras[ri] & cameras[rj]:
            continue
        low, high = min(span[ri][0], span[rj][0]), max(span[ri][1], span[rj][1])
        if high - low > window_ms:
            continue
        parent[rj] = ri
        cameras[ri] |= cameras[rj]
        span[ri] = (low, high)
    groups: dict[int, list[Candidate]] = {}
    for index, candidate in enumerate(ordered):
        groups.setdefault(root(index), []).append(candidate)
    return sorted((g for g in groups.values() if len(g) >= 2), key=lambda g: g[0].time_ms)
