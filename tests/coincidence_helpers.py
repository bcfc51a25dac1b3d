"""Simulated multi-station meteors with known truth, stored as real events in a database."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import meteorpi_model as model
from meteorpi_trajectory import CameraModel
from meteorpi_trajectory.simulate import (Meteor, Sighting, Station, pixel_meta, pointing_at,
                                          sightings)
from tests.helpers import utc

#: UK sites looking at the sky over the Midlands (52.8 N, 1.5 W) at 95 km
TARGET = (52.8, -1.5)
SITES = {
    "c0ffee000001": (52.2130, 0.0944),    # Cambridge
    "c0ffee000002": (53.2369, -2.3075),   # Jodrell Bank
    "c0ffee000003": (51.4769, -0.0005),   # Greenwich
    "c0ffee000004": (53.9576, -1.0827),   # York
}
WIDTH_OF_FIELD = 60.0
STATUS_FROM = utc(2024, 8, 1)


def station(camera_id: str, width_of_field: float = WIDTH_OF_FIELD,
            target: tuple[float, float] = TARGET) -> Station:
    lat, lon = SITES[camera_id]
    az, el = pointing_at(lat, lon, *target)
    return Station(camera_id, lat, lon, CameraModel(round(el, 3), round(az, 3), 0.0,
                                                    width_of_field))


def stations(camera_ids=None, **kwargs) -> list[Station]:
    return [station(c, **kwargs) for c in (camera_ids or SITES)]


def store_stations(db, network: list[Station], valid_from: datetime = STATUS_FROM) -> None:
    for s in network:
        status = model.CameraStatus(
            lens="test lens", sensor="test sensor 720x576", inst_url="", inst_name=s.camera_id,
            orientation=model.Orientation(s.model.altitude, s.model.azimuth, 0.1,
                                          s.model.rotation, s.model.width_of_field),
            location=model.Location(s.latitude, s.longitude, True, 5.0), camera_id=s.camera_id)
        db.update_camera_status(status, time=valid_from, camera_id=s.camera_id)


@dataclass
class Stored:
    meteor: Meteor
    time: datetime
    sightings: list[Sighting]
    events: list[model.Event]


def store_meteor(db, meteor: Meteor, network: list[Station], time: datetime,
                 clock_errors: dict[str, float] | None = None) -> Stored:
    """Register one event per station that sees ``meteor`` (at its first visible moment plus
    that camera's clock error)."""
    seen = sightings(meteor, network)
    events = []
    for sighting in seen:
        error = (clock_errors or {}).get(sighting.station.camera_id, 0.0)
        when = time + timedelta(seconds=sighting.t_begin + error)
        meta = [model.Meta(k, v) for k, v in pixel_meta(sighting).items()]
        events.append(db.register_event(sighting.station.camera_id, when, "meteorpi:meteor",
                                        [], meta))
    return Stored(meteor, time, seen, events)
