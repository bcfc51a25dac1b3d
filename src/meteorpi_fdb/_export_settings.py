"""Per-configuration replication settings (``t_exportSettings``, migration 0004).

The 2015 export configuration and its wire form stay untouched; what replication v2 adds —
which protocol to speak, a bandwidth limit, an upload window, batch bounds and a verification
schedule — lives in its own row, keyed by the configuration. A configuration without a row has
every default.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field, replace
from datetime import datetime, time
from typing import Any

from sqlalchemy import delete, insert, select

import meteorpi_model as model
from meteorpi_fdb import schema
from meteorpi_fdb.firebird import retry_update_conflicts

PROTOCOLS = ("auto", "2015", "v2")
DEFAULT_BATCH_ENTITIES = 200
DEFAULT_BATCH_BYTES = 64 * 1024 * 1024
MAX_BATCH_ENTITIES = 2000
_WINDOW = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")
_SETTINGS = schema.t_exportsettings
_CONFIG = schema.t_exportconfig


@dataclass
class ExportSettings:
    """How one export configuration replicates.

    :ivar protocol: ``auto`` (v2 when the target offers it, else 2015), ``2015`` or ``v2``
    :ivar bwlimit: upload rate limit in bytes per second, or None for no limit
    :ivar window: ``(start, end)`` local times of day between which uploads may run (an end
        before the start spans midnight), or None for any time
    :ivar batch_entities: most tasks claimed and sent in one v2 batch
    :ivar batch_bytes: most content bytes in one v2 batch (a larger single entity goes alone)
    :ivar verify_hours: run ``verify`` from the scheduled exporter this often, or None
    :ivar last_verified: when the last verification finished (read-only), or None
    """

    protocol: str = "auto"
    bwlimit: int | None = None
    window: tuple[time, time] | None = None
    batch_entities: int = DEFAULT_BATCH_ENTITIES
    batch_bytes: int = DEFAULT_BATCH_BYTES
    verify_hours: int | None = None
    last_verified: datetime | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if self.protocol not in PROTOCOLS:
            raise ValueError(f"protocol must be one of {', '.join(PROTOCOLS)}, got {self.protocol!r}")
        self.bwlimit = _positive_or_none(self.bwlimit, "bwlimit")
        self.verify_hours = _positive_or_none(self.verify_hours, "verify_hours")
        if _positive_or_none(self.batch_entities, "batch_entities") is None or self.batch_entities > MAX_BATCH_ENTITIES:
            raise ValueError(f"batch_entities must be 1 to {MAX_BATCH_ENTITIES}")
        if _positive_or_none(self.batch_bytes, "batch_bytes") is None:
            raise ValueError("batch_bytes must be a positive integer")
        if isinstance(self.window, str):
            self.window = parse_window(self.window)
        if self.window is not None:
            if (not isinstance(self.window, tuple) or len(self.window) != 2
                    or not all(isinstance(t, time) for t in self.window)):
                raise ValueError("window must be a (start, end) pair of times of day")
            if self.window[0] == self.window[1]:
                raise ValueError("window start and end must differ")

    def in_window(self, moment: datetime) -> bool:
        """Whether uploads may run at ``moment`` (an aware datetime, compared in local time)."""
        if self.window is None:
            return True
        now = moment.astimezone().time().replace(tzinfo=None)
        start, end = self.window
        if start < end:
            return start <= now < end
        return now >= start or now < end

    def as_dict(self) -> dict[str, Any]:
        """The JSON form (admin API, CLI ``--json``); unset values are left out."""
        d = {
            "protocol": self.protocol,
            "bwlimit": self.bwlimit,
            "window": format_window(self.window),
            "batch_entities": self.batch_entities,
            "batch_bytes": self.batch_bytes,
            "verify_hours": self.verify_hours,
            "last_verified": None if self.last_verified is None
            else model.utc_datetime_to_milliseconds(self.last_verified),
        }
        return {key: value for key, value in d.items() if value is not None}

    def updated(self, changes: dict[str, Any]) -> "ExportSettings":
        """A copy with ``changes`` (JSON-form keys, None = back to the default) applied and checked."""
        allowed = {"protocol", "bwlimit", "window", "batch_entities", "batch_bytes", "verify_hours"}
        unknown = sorted(set(changes) - allowed)
        if unknown:
            raise ValueError(f"export settings: unknown field '{unknown[0]}'")
        defaults = ExportSettings()
        values = {}
        for key, value in changes.items():
            if key == "window" and isinstance(value, str):
                value = parse_window(value)
            values[key] = getattr(defaults, key) if value is None else value
        return replace(self, **values)


def _positive_or_none(value: Any, name: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive integer or null, got {value!r}")
    return value


def parse_window(text: str) -> tuple[time, time] | None:
    """``"09:00-17:00"`` as a pair of times; ``""`` or ``"any"`` as None; ValueError otherwise."""
    if not isinstance(text, str):
        raise ValueError("window must be a string like '09:00-17:00'")
    if text.strip().lower() in ("", "any"):
        return None
    match = _WINDOW.match(text)
    if not match:
        raise ValueError(f"window must look like '09:00-17:00', got {text[:40]!r}")
    h1, m1, h2, m2 = (int(part) for part in match.groups())
    if h1 > 23 or h2 > 23 or m1 > 59 or m2 > 59:
        raise ValueError(f"window times must be 00:00 to 23:59, got {text[:40]!r}")
    if (h1, m1) == (h2, m2):
        raise ValueError("window start and end must differ")
    return time(h1, m1), time(h2, m2)


def format_window(window: tuple[time, time] | None) -> str | None:
    if window is None:
        return None
    return f"{window[0]:%H:%M}-{window[1]:%H:%M}"


def _minutes(moment: time) -> int:
    return moment.hour * 60 + moment.minute


def _time(minutes: int) -> time:
    return time(minutes // 60, minutes % 60)


class ExportSettingsMixin:
    """Read and store :class:`ExportSettings` per export configuration."""

    def get_export_settings(self, config_id: uuid.UUID | str) -> ExportSettings:
        """The settings of a configuration (defaults when none are stored); ValueError for an
        unknown configuration."""
        config_id = model.parse_uuid(config_id, "config_id")
        with self.connection() as connection:
            row = connection.execute(
                select(_CONFIG.c.internalid, _SETTINGS)
                .select_from(_CONFIG.outerjoin(_SETTINGS, _SETTINGS.c.exportconfig == _CONFIG.c.internalid))
                .where(_CONFIG.c.exportconfigid == config_id.hex)
            ).first()
        if row is None:
            raise ValueError(f"no export configuration with config_id {config_id.hex}")
        if row.exportconfig is None:
            return ExportSettings()
        return ExportSettings(
            protocol=row.protocol or "auto", bwlimit=row.bwlimit,
            window=None if row.windowstart is None else (_time(row.windowstart), _time(row.windowend)),
            batch_entities=row.batchentities or DEFAULT_BATCH_ENTITIES,
            batch_bytes=row.batchbytes or DEFAULT_BATCH_BYTES,
            verify_hours=row.verifyhours,
            last_verified=None if row.lastverified is None
            else model.milliseconds_to_utc_datetime(row.lastverified),
        )

    def set_export_settings(self, config_id: uuid.UUID | str, settings: ExportSettings) -> ExportSettings:
        """Store a configuration's settings (replacing any before); returns them as stored."""
        if not isinstance(settings, ExportSettings):
            raise ValueError("settings must be an ExportSettings")
        settings = replace(settings)  # runs the checks again
        config_id = model.parse_uuid(config_id, "config_id")
        current = self.get_export_settings(config_id)
        values = {
            "protocol": settings.protocol, "bwlimit": settings.bwlimit,
            "windowstart": None if settings.window is None else _minutes(settings.window[0]),
            "windowend": None if settings.window is None else _minutes(settings.window[1]),
            "batchentities": settings.batch_entities, "batchbytes": settings.batch_bytes,
            "verifyhours": settings.verify_hours,
            "lastverified": None if current.last_verified is None
            else model.utc_datetime_to_milliseconds(current.last_verified),
        }
        self._write_settings_row(config_id, values)
        return self.get_export_settings(config_id)

    def record_export_verified(self, config_id: uuid.UUID | str, when: datetime | None = None) -> None:
        """Note that a verification of this configuration finished at ``when`` (default now)."""
        config_id = model.parse_uuid(config_id, "config_id")
        settings = self.get_export_settings(config_id)
        settings.last_verified = when or model.now()
        values = {
            "protocol": settings.protocol, "bwlimit": settings.bwlimit,
            "windowstart": None if settings.window is None else _minutes(settings.window[0]),
            "windowend": None if settings.window is None else _minutes(settings.window[1]),
            "batchentities": settings.batch_entities, "batchbytes": settings.batch_bytes,
            "verifyhours": settings.verify_hours,
            "lastverified": model.utc_datetime_to_milliseconds(settings.last_verified),
        }
        self._write_settings_row(config_id, values)

    def _write_settings_row(self, config_id: uuid.UUID, values: dict[str, Any]) -> None:
        def store() -> None:
            with self.transaction() as connection:
                internal_id = connection.execute(
                    select(_CONFIG.c.internalid).where(_CONFIG.c.exportconfigid == config_id.hex)
                ).scalar_one_or_none()
                if internal_id is None:
                    raise ValueError(f"no export configuration with config_id {config_id.hex}")
                connection.execute(delete(_SETTINGS).where(_SETTINGS.c.exportconfig == internal_id))
                connection.execute(insert(_SETTINGS).values(exportconfig=internal_id, **values))

        retry_update_conflicts(store)
