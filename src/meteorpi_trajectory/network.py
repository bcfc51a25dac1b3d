"""From stored events to groups and trajectories: the glue between the data layer's rows and
the maths. An event here is any object with the attributes the data layer reads: ``internalid``,
``eventid``, ``cameraid``, ``eventtime`` (ms), ``status`` (its status block's key), ``sensor``,
``locationlatitude``, ``locationlongitude``, ``orientationaltitude``, ``orientationazimuth``,
``orientationrotation`` and ``widthoffield``.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Mapping, Sequence

from meteorpi_trajectory.grouping import Candidate, FieldOverlap, View, find_groups
from meteorpi_trajectory.projection import CameraModel, sensor_size
from meteorpi_trajectory.solver import Observation, refused, solve

PIXELS = ("meteorpi:start_x", "meteorpi:start_y", "meteorpi:end_x", "meteorpi:end_y")


def camera_model(event: Any, numbers: Mapping[str, float] | None = None) -> CameraModel | None:
    """The event's camera model, or None when its status has no usable width of field."""
    numbers = numbers or {}
    if not 0 < event.widthoffield < 180:
        return None
    width, height = sensor_size(event.sensor, numbers.get("meteorpi:width"),
                                numbers.get("meteorpi:height"))
    return CameraModel(event.orientationaltitude, event.orientationazimuth,
                       event.orientationrotation, event.widthoffield, width, height)


def group_events(events: Sequence[Any], window_seconds: float) -> list[list[Any]]:
    """Events grouped as :func:`find_groups` does, each group sorted by time."""
    views = {e.status: View(e.locationlatitude, e.locationlongitude, camera_model(e))
             for e in events}
    by_key = {e.internalid: e for e in events}
    candidates = [Candidate(e.internalid, e.cameraid, e.eventtime, e.status) for e in events]
    groups = find_groups(candidates, window_seconds, FieldOverlap(views))
    return [[by_key[c.key] for c in group] for group in groups]


def solve_group(group: Sequence[Any], numbers: Mapping[int, Mapping[str, float]]) -> dict[str, Any]:
    """The trajectory of a group as a wire dict (``ok`` False with a reason when refused)."""
    observations, problems = [], []
    for event in group:
        values = numbers.get(event.internalid, {})
        model = camera_model(event, values)
        if model is None:
            problems.append(f"camera {event.cameraid} has no width of field")
            continue
        if any(key not in values for key in PIXELS):
            problems.append(f"event {event.eventid} has no start and end pixels")
            continue
        az, el = model.pixel_to_azel([values["meteorpi:start_x"], values["meteorpi:end_x"]],
                                     [values["meteorpi:start_y"], values["meteorpi:end_y"]])
        duration = values.get("meteorpi:duration")
        observations.append(Observation(event.cameraid, event.locationlatitude,
                                        event.locationlongitude, float(az[0]), float(el[0]),
                                        float(az[1]), float(el[1]), duration=duration))
    if len(observations) < 2:
        reason = "fewer than two stations can be used" + (f": {'; '.join(problems)}" if problems else "")
        return refused(reason[:255], len(observations)).as_dict()
    when = datetime.fromtimestamp(group[0].eventtime / 1000, timezone.utc)
    return solve(observations, when).as_dict()
