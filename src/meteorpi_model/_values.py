"""Small value types: UUID parsing, NSString, Meta, MetaConstraint, Location, Orientation."""

import re
import uuid
from datetime import datetime
from typing import Any

from ._check import (MAX_STRING_LENGTH, ValueModel, check_bool, check_dict, check_number,
                     check_str, is_number, show, type_name)
from ._time import milliseconds_to_utc_datetime, to_utc, utc_datetime_to_milliseconds

_UUID_TEXT = re.compile(r"[0-9a-fA-F]{32}|[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}")


def parse_uuid(value: Any, field: str) -> uuid.UUID:
    """Return ``value`` as a ``uuid.UUID``: accepts a UUID, 32 hex digits or the dashed form."""
    if isinstance(value, uuid.UUID):
        return value
    if isinstance(value, str) and _UUID_TEXT.fullmatch(value):
        return uuid.UUID(value)
    shown = show(value) if isinstance(value, str) else type_name(value)
    raise ValueError(f"{field} must be a UUID (32 hex digits), got {shown}")


def parse_optional_uuid(value: Any, field: str) -> uuid.UUID | None:
    return None if value is None else parse_uuid(value, field)


def uuid_hex(value: uuid.UUID | None) -> str | None:
    return None if value is None else value.hex


class NSString:
    """A namespaced string, ``"ns:s"`` on the wire; immutable and hashable."""

    DEFAULT_NAMESPACE = "meteorpi"
    __slots__ = ("_s", "_ns")

    def __init__(self, s: str, ns: str = DEFAULT_NAMESPACE):
        check_str(s, "NSString value")
        check_str(ns, "NSString namespace")
        if ":" in ns:
            raise ValueError(f"NSString namespace must not contain ':', got {show(ns)}")
        if len(ns) + 1 + len(s) > MAX_STRING_LENGTH:
            raise ValueError(f"NSString is too long (at most {MAX_STRING_LENGTH} characters "
                             "including the namespace)")
        object.__setattr__(self, "_s", s)
        object.__setattr__(self, "_ns", ns)

    @property
    def s(self) -> str:
        """The value part."""
        return self._s

    @property
    def ns(self) -> str:
        """The namespace part."""
        return self._ns

    @classmethod
    def from_string(cls, text: str) -> "NSString":
        """Parse ``"ns:value"``, splitting on the first ``:``; no ``:`` means ``meteorpi``."""
        if not isinstance(text, str):
            raise ValueError(f"NSString must be a string, not {type_name(text)}")
        ns, sep, s = text.partition(":")
        return cls(s, ns) if sep else cls(text)

    @classmethod
    def coerce(cls, value: Any, field: str) -> "NSString":
        """Accept an NSString or its string form; errors name ``field``."""
        if isinstance(value, NSString):
            return value
        try:
            return cls.from_string(value)
        except ValueError as e:
            raise ValueError(f"{field}: {e}") from None

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("NSString is immutable")

    def __str__(self) -> str:
        return f"{self._ns}:{self._s}"

    def __repr__(self) -> str:
        return f"NSString({self._s!r}, ns={self._ns!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, NSString):
            return NotImplemented
        return (self._ns, self._s) == (other._ns, other._s)

    def __hash__(self) -> int:
        return hash((self._ns, self._s))

    def __reduce__(self) -> tuple:
        return (NSString, (self._s, self._ns))


def _meta_type(value: Any) -> str | None:
    if is_number(value):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, datetime):
        return "date"
    return None


def _check_meta_value(value: Any, field: str) -> Any:
    kind = _meta_type(value)
    if kind == "number":
        return check_number(value, field)
    if kind == "string":
        return check_str(value, field, allow_empty=True, single_line=False)
    if kind == "date":
        return to_utc(value, field)
    raise ValueError(f"{field} must be a number, a string or a datetime, not {type_name(value)}")


def _value_to_wire(value: Any) -> Any:
    return utc_datetime_to_milliseconds(value) if isinstance(value, datetime) else value


class Meta(ValueModel):
    """A piece of metadata: an NSString key and a number, string or datetime value."""

    def __init__(self, key: NSString | str, value: int | float | str | datetime):
        self.key = NSString.coerce(key, "meta key")
        self.value = _check_meta_value(value, f"meta value of {self.key}")

    @property
    def type(self) -> str:
        """``'number'``, ``'string'`` or ``'date'``."""
        return _meta_type(self.value)  # type: ignore[return-value]

    def as_dict(self) -> dict[str, Any]:
        return {"type": self.type, "key": str(self.key), "value": _value_to_wire(self.value)}

    @classmethod
    def from_dict(cls, d: dict) -> "Meta":
        check_dict(d, "meta", required=("type", "key", "value"))
        key = NSString.coerce(d["key"], "meta key")
        kind, value = d["type"], d["value"]
        field = f"meta value of {key}"
        if kind == "date":
            value = milliseconds_to_utc_datetime(value, field)
        elif kind not in ("number", "string"):
            raise ValueError(f"meta type must be 'number', 'string' or 'date', got {show(kind)}")
        elif _meta_type(value) != kind:
            raise ValueError(f"{field} must be a {kind}, not {type_name(value)}")
        return cls(key, value)


class MetaConstraint(ValueModel):
    """A search condition on metadata: ``{"type": T, "key": "ns:key", "value": V}``."""

    #: constraint type -> the Meta type its value must have
    TYPES = {"string_equals": "string", "number_equals": "number", "less": "number",
             "greater": "number", "before": "date", "after": "date"}

    def __init__(self, constraint_type: str, key: NSString | str,
                 value: int | float | str | datetime):
        if not isinstance(constraint_type, str) or constraint_type not in self.TYPES:
            raise ValueError(f"unknown meta constraint type {show(constraint_type)}, "
                             f"expected one of {', '.join(self.TYPES)}")
        self.constraint_type = constraint_type
        self.key = NSString.coerce(key, "meta constraint key")
        wanted = self.TYPES[constraint_type]
        field = f"value of meta constraint {constraint_type} on {self.key}"
        if _meta_type(value) != wanted:
            raise ValueError(f"{field} must be a {'datetime' if wanted == 'date' else wanted}, "
                             f"not {type_name(value)}")
        self.value = _check_meta_value(value, field)

    def as_dict(self) -> dict[str, Any]:
        return {"type": self.constraint_type, "key": str(self.key),
                "value": _value_to_wire(self.value)}

    @classmethod
    def from_dict(cls, d: dict) -> "MetaConstraint":
        check_dict(d, "meta constraint", required=("type", "key", "value"))
        kind, value = d["type"], d["value"]
        if isinstance(kind, str) and cls.TYPES.get(kind) == "date":
            value = milliseconds_to_utc_datetime(value, f"value of meta constraint {kind}")
        return cls(kind, d["key"], value)


class Location(ValueModel):
    """Camera position: degrees north and east, whether from GPS, error in metres."""

    def __init__(self, latitude: float, longitude: float, gps: bool = False, error: float = 0.0):
        self.latitude = float(check_number(latitude, "latitude", minimum=-90, maximum=90))
        self.longitude = float(check_number(longitude, "longitude", minimum=-180, maximum=180))
        self.gps = check_bool(gps, "gps")
        self.error = float(check_number(error, "location error", minimum=0))

    def as_dict(self) -> dict[str, Any]:
        return {"lat": self.latitude, "long": self.longitude, "gps": self.gps,
                "error": self.error}

    @classmethod
    def from_dict(cls, d: dict) -> "Location":
        check_dict(d, "location", required=("lat", "long"), optional=("gps", "error"))
        return cls(d["lat"], d["long"], _or(d.get("gps"), False), _or(d.get("error"), 0.0))


class Orientation(ValueModel):
    """Camera pointing, in degrees: altitude, azimuth, error, rotation, width of field."""

    def __init__(self, altitude: float, azimuth: float, error: float = 0.0,
                 rotation: float = 0.0, width_of_field: float = 0.0):
        self.altitude = float(check_number(altitude, "altitude", minimum=-90, maximum=90))
        self.azimuth = float(check_number(azimuth, "azimuth", minimum=-360, maximum=360))
        self.error = float(check_number(error, "orientation error", minimum=0))
        self.rotation = float(check_number(rotation, "rotation", minimum=-360, maximum=360))
        self.width_of_field = float(check_number(width_of_field, "width_of_field",
                                                 minimum=0, maximum=360))

    def as_dict(self) -> dict[str, Any]:
        return {"alt": self.altitude, "az": self.azimuth, "error": self.error,
                "rot": self.rotation, "width": self.width_of_field}

    @classmethod
    def from_dict(cls, d: dict) -> "Orientation":
        check_dict(d, "orientation", required=("alt", "az"), optional=("error", "rot", "width"))
        return cls(d["alt"], d["az"], _or(d.get("error"), 0.0), _or(d.get("rot"), 0.0),
                   _or(d.get("width"), 0.0))


def _or(value: Any, default: Any) -> Any:
    """``default`` when a wire value is absent or null."""
    return default if value is None else value
