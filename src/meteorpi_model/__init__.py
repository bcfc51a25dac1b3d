"""MeteorPi domain model: pure values with ``as_dict()`` / ``from_dict()`` in the wire format.

Nothing here does I/O except :func:`get_md5_hash`. Bad input is a ``ValueError`` whose message
names the field. See SPEC section 3 for the wire format.
"""

from ._check import MAX_CAMERA_ID_LENGTH, MAX_STRING_LENGTH
from ._coincidence import (Coincidence, CoincidenceMember, CoincidenceSearch,
                           TrajectoryResult)
from ._entities import CameraStatus, Event, FileRecord, User
from ._md5 import get_md5_hash
from ._search import EventSearch, ExportConfiguration, FileRecordSearch
from ._status_changes import status_with_changes
from ._time import (get_day_and_offset, milliseconds_to_utc_datetime, now, to_utc,
                    utc_datetime_to_milliseconds)
from ._values import Location, Meta, MetaConstraint, NSString, Orientation, parse_uuid

__all__ = [
    "CameraStatus",
    "Coincidence",
    "CoincidenceMember",
    "CoincidenceSearch",
    "Event",
    "EventSearch",
    "ExportConfiguration",
    "FileRecord",
    "FileRecordSearch",
    "Location",
    "MAX_CAMERA_ID_LENGTH",
    "MAX_STRING_LENGTH",
    "Meta",
    "MetaConstraint",
    "NSString",
    "Orientation",
    "TrajectoryResult",
    "User",
    "get_day_and_offset",
    "get_md5_hash",
    "milliseconds_to_utc_datetime",
    "now",
    "parse_uuid",
    "status_with_changes",
    "to_utc",
    "utc_datetime_to_milliseconds",
]
