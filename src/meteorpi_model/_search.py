"""Searches over events and files, and the export configuration that saves one."""

import uuid
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from ._check import (ValueModel, check_bool, check_camera_id, check_dict, check_int,
                     check_list, check_optional_float, check_optional_str, check_str,
                     items_from_dicts, show, type_name)
from ._time import optional_ms_to_datetime, to_optional_utc, utc_datetime_to_milliseconds
from ._values import MetaConstraint, NSString, parse_optional_uuid

SECONDS_PER_DAY = 86400


def _camera_ids(value: Any) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = [value]
    ids = check_list(value, "camera_ids")
    if not ids:
        raise ValueError("camera_ids must not be an empty list (use null for any camera)")
    return [check_camera_id(c, f"camera_ids[{i}]") for i, c in enumerate(ids)]


def _check_order(low: Any, high: Any, low_name: str, high_name: str) -> None:
    if low is not None and high is not None and high < low:
        raise ValueError(f"{high_name} must not be less than {low_name}")


def _offset(value: Any, field: str) -> int | None:
    if value is None:
        return None
    return check_int(value, field, minimum=0, maximum=SECONDS_PER_DAY)


def _to_wire(value: Any) -> Any:
    if isinstance(value, datetime):
        return utc_datetime_to_milliseconds(value)
    if isinstance(value, uuid.UUID):
        return value.hex
    if isinstance(value, NSString):
        return str(value)
    if isinstance(value, list):
        return [_to_wire(v) for v in value]
    if isinstance(value, MetaConstraint):
        return value.as_dict()
    return value


class _Search(ValueModel):
    """Fields and wire format shared by EventSearch and FileRecordSearch."""

    #: attribute names in wire order; subclasses add their own
    _FIELDS: tuple[str, ...] = ()

    def _set_bounds(self, camera_ids: Any, lat_min: Any, lat_max: Any, long_min: Any,
                    long_max: Any, after: Any, before: Any, after_offset: Any,
                    before_offset: Any) -> None:
        self.camera_ids = _camera_ids(camera_ids)
        self.lat_min = check_optional_float(lat_min, "lat_min", minimum=-90, maximum=90)
        self.lat_max = check_optional_float(lat_max, "lat_max", minimum=-90, maximum=90)
        _check_order(self.lat_min, self.lat_max, "lat_min", "lat_max")
        self.long_min = check_optional_float(long_min, "long_min", minimum=-180, maximum=180)
        self.long_max = check_optional_float(long_max, "long_max", minimum=-180, maximum=180)
        _check_order(self.long_min, self.long_max, "long_min", "long_max")
        self.after = to_optional_utc(after, "after")
        self.before = to_optional_utc(before, "before")
        _check_order(self.after, self.before, "after", "before")
        self.after_offset = _offset(after_offset, "after_offset")
        self.before_offset = _offset(before_offset, "before_offset")
        _check_order(self.after_offset, self.before_offset, "after_offset", "before_offset")

    def _set_paging(self, meta_constraints: Any, limit: Any, skip: Any,
                    exclude_export_to: Any, exclude_imported: Any) -> None:
        self.meta_constraints = check_list(meta_constraints, "meta_constraints", MetaConstraint)
        self.limit = check_int(limit, "limit", minimum=0)
        self.skip = check_int(skip, "skip", minimum=0)
        self.exclude_export_to = parse_optional_uuid(exclude_export_to, "exclude_export_to")
        self.exclude_imported = check_bool(exclude_imported, "exclude_imported")

    def _repr_items(self) -> Any:
        return [(k, v) for k, v in vars(self).items() if v is not None and v is not False
                and v != []]

    def as_dict(self) -> dict[str, Any]:
        """The wire form: None, False and an empty constraint list are left out."""
        d = {}
        for name in self._FIELDS:
            value = getattr(self, name)
            if value is None or value is False or (name == "meta_constraints" and not value):
                continue
            d["meta" if name == "meta_constraints" else name] = _to_wire(value)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "_Search":
        keys = ["meta" if f == "meta_constraints" else f for f in cls._FIELDS]
        check_dict(d, cls.__name__, optional=keys)
        kwargs = {}
        for key, value in d.items():
            if value is None:
                continue  # null means "not given": the constructor's default applies
            if key in ("after", "before"):
                value = optional_ms_to_datetime(value, key)
            elif key == "meta":
                key, value = "meta_constraints", items_from_dicts(value, "meta",
                                                                  MetaConstraint.from_dict)
            kwargs[key] = value
        return cls(**kwargs)


class EventSearch(_Search):
    """A search for events; every criterion given must hold (see SPEC section 4)."""

    _FIELDS = ("camera_ids", "lat_min", "lat_max", "long_min", "long_max", "after", "before",
               "after_offset", "before_offset", "event_type", "meta_constraints", "limit",
               "skip", "exclude_export_to", "exclude_imported")

    def __init__(self, camera_ids: list[str] | str | None = None, lat_min: float | None = None,
                 lat_max: float | None = None, long_min: float | None = None,
                 long_max: float | None = None, after: datetime | None = None,
                 before: datetime | None = None, after_offset: int | None = None,
                 before_offset: int | None = None, event_type: NSString | str | None = None,
                 meta_constraints: list[MetaConstraint] | None = None, limit: int = 100,
                 skip: int = 0, exclude_export_to: uuid.UUID | str | None = None,
                 exclude_imported: bool = False):
        self._set_bounds(camera_ids, lat_min, lat_max, long_min, long_max, after, before,
                         after_offset, before_offset)
        self.event_type = None if event_type is None else NSString.coerce(event_type,
                                                                          "event_type")
        self._set_paging(meta_constraints, limit, skip, exclude_export_to, exclude_imported)

    @classmethod
    def from_dict(cls, d: dict) -> "EventSearch":
        return super().from_dict(d)  # type: ignore[return-value]


class FileRecordSearch(_Search):
    """A search for files; every criterion given must hold (see SPEC section 4)."""

    _FIELDS = ("camera_ids", "lat_min", "lat_max", "long_min", "long_max", "after", "before",
               "after_offset", "before_offset", "mime_type", "semantic_type", "meta_constraints",
               "limit", "skip", "exclude_export_to", "exclude_imported", "exclude_events")

    def __init__(self, camera_ids: list[str] | str | None = None, lat_min: float | None = None,
                 lat_max: float | None = None, long_min: float | None = None,
                 long_max: float | None = None, after: datetime | None = None,
                 before: datetime | None = None, after_offset: int | None = None,
                 before_offset: int | None = None, mime_type: str | None = None,
                 semantic_type: NSString | str | None = None,
                 meta_constraints: list[MetaConstraint] | None = None, limit: int = 100,
                 skip: int = 0, exclude_export_to: uuid.UUID | str | None = None,
                 exclude_imported: bool = False, exclude_events: bool = False):
        self._set_bounds(camera_ids, lat_min, lat_max, long_min, long_max, after, before,
                         after_offset, before_offset)
        self.mime_type = check_optional_str(mime_type, "mime_type")
        self.semantic_type = (None if semantic_type is None
                              else NSString.coerce(semantic_type, "semantic_type"))
        self._set_paging(meta_constraints, limit, skip, exclude_export_to, exclude_imported)
        self.exclude_events = check_bool(exclude_events, "exclude_events")

    @classmethod
    def from_dict(cls, d: dict) -> "FileRecordSearch":
        return super().from_dict(d)  # type: ignore[return-value]


def _check_url(value: Any) -> str:
    check_str(value, "target_url")
    try:
        parts = urlsplit(value)
        valid = parts.scheme in ("http", "https") and bool(parts.hostname) and " " not in value
    except ValueError:
        valid = False
    if not valid:
        raise ValueError(f"target_url must be an http:// or https:// URL, got {show(value)}")
    return value


class ExportConfiguration(ValueModel):
    """A saved search whose results are pushed to another node's import API."""

    def __init__(self, target_url: str, user_id: str, password: str | None,
                 search: EventSearch | FileRecordSearch, name: str, description: str,
                 enabled: bool = False, config_id: uuid.UUID | str | None = None,
                 ca_bundle: str | None = None):
        self.config_id = parse_optional_uuid(config_id, "config_id")
        self.target_url = _check_url(target_url)
        self.user_id = check_str(user_id, "user_id")
        # None means "not known here" (e.g. an HTTP update that keeps the stored password).
        self.password = check_optional_str(password, "password", allow_empty=True)
        if not isinstance(search, (EventSearch, FileRecordSearch)):
            raise ValueError(f"search must be an EventSearch or FileRecordSearch, "
                             f"not {type_name(search)}")
        self.search = search
        self.name = check_str(name, "config_name")
        self.description = check_str(description, "config_description", allow_empty=True)
        self.enabled = check_bool(enabled, "enabled")
        self.ca_bundle = check_optional_str(ca_bundle, "ca_bundle")

    @property
    def type(self) -> str:
        """``"event"`` or ``"file"``, from the class of ``search``."""
        return "event" if isinstance(self.search, EventSearch) else "file"

    def _repr_items(self) -> Any:
        return [(k, "***" if k == "password" and v is not None else v)
                for k, v in vars(self).items()]

    def as_dict(self, include_password: bool = True) -> dict[str, Any]:
        """The wire form; without the password, ``password_set`` says whether there is one."""
        d: dict[str, Any] = {"type": self.type}
        if self.config_id is not None:
            d["config_id"] = self.config_id.hex
        d.update(target_url=self.target_url, user_id=self.user_id)
        if not include_password:
            d["password_set"] = bool(self.password)
        elif self.password is not None:
            d["password"] = self.password
        d.update(search=self.search.as_dict(), config_name=self.name,
                 config_description=self.description, enabled=self.enabled)
        if self.ca_bundle is not None:
            d["ca_bundle"] = self.ca_bundle
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "ExportConfiguration":
        """Parse the wire form; ``password_set`` (from ``as_dict(False)``) is ignored."""
        check_dict(d, "export configuration",
                   required=("type", "target_url", "user_id", "search", "config_name"),
                   optional=("config_id", "password", "password_set", "config_description",
                             "enabled", "ca_bundle"))
        search_classes = {"event": EventSearch, "file": FileRecordSearch}
        if not isinstance(d["type"], str) or d["type"] not in search_classes:
            raise ValueError(f"export configuration type must be 'event' or 'file', "
                             f"got {show(d['type'])}")
        try:
            search = search_classes[d["type"]].from_dict(d["search"])
        except ValueError as e:
            raise ValueError(f"search: {e}") from None
        description = d.get("config_description")
        enabled = d.get("enabled")
        return cls(d["target_url"], d["user_id"], d.get("password"), search, d["config_name"],
                   "" if description is None else description,
                   enabled=False if enabled is None else enabled,
                   config_id=d.get("config_id"), ca_bundle=d.get("ca_bundle"))
