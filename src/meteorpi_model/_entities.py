"""The stored entities: FileRecord, Event, CameraStatus and User."""

import re
import uuid
from datetime import datetime
from typing import Any

from ._check import (ValueModel, check_camera_id, check_dict, check_int, check_list,
                     check_optional_str, check_str, items_from_dicts, show, type_name)
from ._time import (milliseconds_to_utc_datetime, optional_ms_to_datetime, to_optional_utc,
                    to_utc, utc_datetime_to_milliseconds)
from ._values import (Location, Meta, NSString, Orientation, parse_optional_uuid, parse_uuid,
                      uuid_hex)

_MD5_HEX = re.compile(r"[0-9a-fA-F]{32}")
_MAX_INT32 = 2 ** 31 - 1  # pixel coordinates and versions are 32-bit columns


def _ms(dt: datetime | None) -> int | None:
    return None if dt is None else utc_datetime_to_milliseconds(dt)


def _without_none(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None}


def _check_md5(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not _MD5_HEX.fullmatch(value):
        raise ValueError("md5 must be 32 hex digits")
    return value.lower()


class FileRecord(ValueModel):
    """A file registered with the database: metadata about stored binary content."""

    def __init__(self, camera_id: str, mime_type: str, semantic_type: NSString | str,
                 status_id: uuid.UUID | str, md5: str | None = None,
                 file_id: uuid.UUID | str | None = None, file_time: datetime | None = None,
                 file_size: int = 0, file_name: str | None = None,
                 meta: list[Meta] | None = None):
        self.camera_id = check_camera_id(camera_id)
        self.mime_type = check_str(mime_type, "mime_type")
        self.semantic_type = NSString.coerce(semantic_type, "semantic_type")
        self.status_id = parse_uuid(status_id, "status_id")
        self.md5 = _check_md5(md5)
        self.file_id = parse_optional_uuid(file_id, "file_id")
        self.file_time = to_optional_utc(file_time, "file_time")
        self.file_size = check_int(file_size, "file_size", minimum=0)
        self.file_name = check_optional_str(file_name, "file_name")
        self.meta = check_list(meta, "meta", Meta)

    def as_dict(self) -> dict[str, Any]:
        return _without_none({
            "file_id": uuid_hex(self.file_id), "camera_id": self.camera_id,
            "mime_type": self.mime_type, "file_name": self.file_name,
            "semantic_type": str(self.semantic_type), "file_time": _ms(self.file_time),
            "file_size": self.file_size, "status_id": uuid_hex(self.status_id),
            "md5": self.md5, "meta": [m.as_dict() for m in self.meta]})

    @classmethod
    def from_dict(cls, d: dict) -> "FileRecord":
        check_dict(d, "file record", required=("camera_id", "mime_type", "semantic_type",
                                               "status_id"),
                   optional=("file_id", "file_name", "file_time", "file_size", "md5", "meta"))
        file_size = d.get("file_size")
        return cls(camera_id=d["camera_id"], mime_type=d["mime_type"],
                   semantic_type=d["semantic_type"], status_id=d["status_id"], md5=d.get("md5"),
                   file_id=d.get("file_id"),
                   file_time=optional_ms_to_datetime(d.get("file_time"), "file_time"),
                   file_size=0 if file_size is None else file_size,
                   file_name=d.get("file_name"),
                   meta=items_from_dicts(d.get("meta"), "meta", Meta.from_dict))


class Event(ValueModel):
    """An interpretation ("this looks like a meteor") backed by zero or more files."""

    def __init__(self, camera_id: str, event_time: datetime, event_id: uuid.UUID | str,
                 event_type: NSString | str, status_id: uuid.UUID | str,
                 file_records: list[FileRecord] | None = None, meta: list[Meta] | None = None):
        self.camera_id = check_camera_id(camera_id)
        self.event_time = to_utc(event_time, "event_time")
        self.event_id = parse_uuid(event_id, "event_id")
        self.event_type = NSString.coerce(event_type, "event_type")
        self.status_id = parse_uuid(status_id, "status_id")
        self.file_records = check_list(file_records, "file_records", FileRecord)
        self.meta = check_list(meta, "meta", Meta)

    def as_dict(self) -> dict[str, Any]:
        return {"event_id": self.event_id.hex, "camera_id": self.camera_id,
                "event_time": _ms(self.event_time), "event_type": str(self.event_type),
                "status_id": self.status_id.hex,
                "files": [f.as_dict() for f in self.file_records],
                "meta": [m.as_dict() for m in self.meta]}

    @classmethod
    def from_dict(cls, d: dict) -> "Event":
        check_dict(d, "event", required=("event_id", "camera_id", "event_time", "event_type",
                                         "status_id"),
                   optional=("files", "meta"))
        event_time = milliseconds_to_utc_datetime(d["event_time"], "event_time")
        return cls(camera_id=d["camera_id"], event_time=event_time, event_id=d["event_id"],
                   event_type=d["event_type"], status_id=d["status_id"],
                   file_records=items_from_dicts(d.get("files"), "files", FileRecord.from_dict),
                   meta=items_from_dicts(d.get("meta"), "meta", Meta.from_dict))


def _check_point(point: Any, field: str) -> dict[str, int]:
    if isinstance(point, dict):
        check_dict(point, field, required=("x", "y"))
        x, y = point["x"], point["y"]
    elif isinstance(point, (list, tuple)) and len(point) == 2:
        x, y = point
    else:
        raise ValueError(f"{field} must be an object {{\"x\": int, \"y\": int}}, "
                         f"not {type_name(point)}")
    return {"x": check_int(x, f"{field}.x", minimum=0, maximum=_MAX_INT32),
            "y": check_int(y, f"{field}.y", minimum=0, maximum=_MAX_INT32)}


def _check_regions(regions: Any) -> list[list[dict[str, int]]]:
    result = []
    for i, polygon in enumerate(check_list(regions, "regions")):
        points = check_list(polygon, f"regions[{i}]")
        if len(points) < 3:
            raise ValueError(f"regions[{i}] must have at least 3 points, has {len(points)}")
        result.append([_check_point(p, f"regions[{i}][{j}]") for j, p in enumerate(points)])
    return result


class CameraStatus(ValueModel):
    """A camera's configuration, in force from ``valid_from`` until ``valid_to`` (or now)."""

    def __init__(self, lens: str, sensor: str, inst_url: str, inst_name: str,
                 orientation: Orientation, location: Location, camera_id: str,
                 status_id: uuid.UUID | str | None = None, software_version: int = 1,
                 valid_from: datetime | None = None, valid_to: datetime | None = None,
                 regions: list | None = None):
        self.lens = check_str(lens, "lens", allow_empty=True)
        self.sensor = check_str(sensor, "sensor", allow_empty=True)
        self.inst_url = check_str(inst_url, "inst_url", allow_empty=True)
        self.inst_name = check_str(inst_name, "inst_name", allow_empty=True)
        if not isinstance(orientation, Orientation):
            raise ValueError(f"orientation must be an Orientation, not {type_name(orientation)}")
        if not isinstance(location, Location):
            raise ValueError(f"location must be a Location, not {type_name(location)}")
        self.orientation = orientation
        self.location = location
        self.camera_id = check_camera_id(camera_id)
        self.status_id = parse_optional_uuid(status_id, "status_id")
        self.software_version = check_int(software_version, "software_version", minimum=0,
                                          maximum=_MAX_INT32)
        self.valid_from = to_optional_utc(valid_from, "valid_from")
        self.valid_to = to_optional_utc(valid_to, "valid_to")
        if self.valid_from and self.valid_to and self.valid_to < self.valid_from:
            raise ValueError("valid_to must not be earlier than valid_from")
        self.regions = _check_regions(regions)

    def as_dict(self) -> dict[str, Any]:
        return _without_none({
            "lens": self.lens, "sensor": self.sensor, "inst_url": self.inst_url,
            "inst_name": self.inst_name, "valid_from": _ms(self.valid_from),
            "valid_to": _ms(self.valid_to), "software_version": self.software_version,
            "location": self.location.as_dict(), "orientation": self.orientation.as_dict(),
            "regions": [[dict(p) for p in polygon] for polygon in self.regions],
            "camera_id": self.camera_id, "status_id": uuid_hex(self.status_id)})

    @classmethod
    def from_dict(cls, d: dict) -> "CameraStatus":
        check_dict(d, "camera status",
                   required=("lens", "sensor", "inst_url", "inst_name", "orientation",
                             "location", "camera_id"),
                   optional=("status_id", "software_version", "valid_from", "valid_to",
                             "regions"))
        version = d.get("software_version")
        return cls(d["lens"], d["sensor"], d["inst_url"], d["inst_name"],
                   Orientation.from_dict(d["orientation"]), Location.from_dict(d["location"]),
                   d["camera_id"], d.get("status_id"),
                   software_version=1 if version is None else version,
                   valid_from=optional_ms_to_datetime(d.get("valid_from"), "valid_from"),
                   valid_to=optional_ms_to_datetime(d.get("valid_to"), "valid_to"),
                   regions=d.get("regions"))


class User(ValueModel):
    """A user of the HTTP API and the roles it holds, as a bit mask over ``ROLES``."""

    ROLES = ["user", "camera_admin", "import"]

    def __init__(self, user_id: str, role_mask: int):
        self.user_id = check_str(user_id, "user_id")
        self.role_mask = check_int(role_mask, "role_mask", minimum=0,
                                   maximum=(1 << len(self.ROLES)) - 1)

    def has_role(self, role: str) -> bool:
        """Whether the user holds ``role``; an unknown role name is a ``ValueError``."""
        return bool(self.role_mask & self.role_mask_from_roles([role]))

    def get_roles(self) -> list[str]:
        """The user's role names, in bit order."""
        return self.roles_from_role_mask(self.role_mask)

    @classmethod
    def role_mask_from_roles(cls, roles: list[str]) -> int:
        """The bit mask of a list of role names; unknown names are a ``ValueError``."""
        mask = 0
        for role in check_list(roles, "roles"):
            if role not in cls.ROLES:
                raise ValueError(f"unknown role {show(role)}, "
                                 f"expected one of {', '.join(cls.ROLES)}")
            mask |= 1 << cls.ROLES.index(role)
        return mask

    @classmethod
    def roles_from_role_mask(cls, role_mask: int) -> list[str]:
        """The role names set in ``role_mask``, in bit order."""
        check_int(role_mask, "role_mask", minimum=0, maximum=(1 << len(cls.ROLES)) - 1)
        return [role for i, role in enumerate(cls.ROLES) if role_mask & (1 << i)]

    def as_dict(self) -> dict[str, Any]:
        return {"user_id": self.user_id, "role_mask": self.role_mask, "roles": self.get_roles()}

    @classmethod
    def from_dict(cls, d: dict) -> "User":
        """Accepts ``role_mask``, ``roles`` or both (which must then agree)."""
        check_dict(d, "user", required=("user_id",), optional=("role_mask", "roles"))
        mask, roles = d.get("role_mask"), d.get("roles")
        if mask is None and roles is None:
            raise ValueError("user: missing required field 'role_mask'")
        if roles is not None:
            from_roles = cls.role_mask_from_roles(roles)
            if mask is not None and check_int(mask, "role_mask") != from_roles:
                raise ValueError("user: role_mask and roles disagree")
            mask = from_roles
        return cls(d["user_id"], mask)
