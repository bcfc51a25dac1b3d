"""Camera-node housekeeping: the retention policy, the disk quota and the scheduled check.

A node keeps everything newer than ``retain_nights`` nights (a night runs from noon to noon
UTC, as in ``get_day_and_offset``). Older content may be *pruned*: its bytes leave the file
store, while the file's record stays searchable with its size and MD5 and is marked pruned
(``MeteorDatabase.pruned_time``); with ``remove_records`` the record goes too. Semantic types
are pruned in ``prune_order`` (first listed, first gone; ``*`` stands for every type not
listed; a type matched by neither is never pruned). Nothing that an export configuration has
not yet delivered is ever pruned (``MeteorDatabase.unconfirmed_file_ids``).

The quota: when the storage in use reaches ``high_water``, pruning frees the lowest-priority
old content until use is back under :data:`LOW_WATER_FRACTION` of the mark (so it does not run
again at the next batch); below ``floor`` free space, registration refuses
(:class:`StorageFullError`). Both are bytes or a percentage of the storage's capacity, which is
the file store's filesystem, or ``storage_bytes`` when the node is given a budget (then "used"
is the file store's bytes).

This module holds the values; the SQL lives in ``_housekeeping`` and ``_storage``.
"""

from __future__ import annotations

import logging
import re
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Mapping

import meteorpi_model as model

logger = logging.getLogger("meteorpi.db")

#: After crossing the high-water mark, pruning goes on until use is below this share of it.
LOW_WATER_FRACTION = 0.9
#: Every setting the policy is read from (declared with help texts in meteorpi_server.settings).
SETTING_NAMES = ("MPI_RETAIN_NIGHTS", "MPI_PRUNE_ORDER", "MPI_PRUNE_RECORDS", "MPI_QUOTA_HIGH_WATER",
                 "MPI_QUOTA_FLOOR", "MPI_STORAGE_BYTES", "MPI_HOUSEKEEPING_SECONDS")

_UNITS = {"": 1, "b": 1, "k": 10**3, "kb": 10**3, "m": 10**6, "mb": 10**6, "g": 10**9, "gb": 10**9,
          "t": 10**12, "tb": 10**12, "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}
_AMOUNT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(%|[a-z]*)\s*$", re.IGNORECASE)
_NOON_MS = 12 * 3600 * 1000
_DAY_MS = 24 * 3600 * 1000


class StorageFullError(ValueError):
    """Registration refused: free space would fall below the hard floor."""


@dataclass(frozen=True)
class Amount:
    """A quantity of storage: ``value`` bytes, or ``value`` percent of the capacity."""

    value: float
    percent: bool = False

    @classmethod
    def parse(cls, text: Any, name: str) -> "Amount | None":
        """``"90%"``, ``"28GB"``, ``"512MiB"``, ``"1000000"`` (bytes); empty or None → None."""
        if text is None or (isinstance(text, str) and not text.strip()):
            return None
        if isinstance(text, (int, float)) and not isinstance(text, bool):
            text = str(text)
        match = _AMOUNT.match(text) if isinstance(text, str) else None
        if match is None or match.group(2).lower() not in (*_UNITS, "%"):
            raise ValueError(f"{name} must be bytes (e.g. 28GB, 512MiB, 1000000) or a percentage "
                             f"(e.g. 90%), got {text!r}")
        number, unit = float(match.group(1)), match.group(2).lower()
        if unit == "%":
            if number > 100:
                raise ValueError(f"{name} must be a percentage of at most 100%, got {text!r}")
            return cls(number, True)
        return cls(number * _UNITS[unit])

    def of(self, capacity: int) -> int:
        """The amount in bytes for storage of ``capacity`` bytes."""
        return int(capacity * self.value / 100) if self.percent else int(self.value)

    def __str__(self) -> str:
        return f"{self.value:g}%" if self.percent else f"{int(self.value)} bytes"


@dataclass(frozen=True)
class HousekeepingPolicy:
    """What a node keeps and how full it may get (see the module docstring)."""

    retain_nights: int = 0
    prune_order: tuple[str, ...] = ("*",)
    remove_records: bool = False
    high_water: Amount | None = None
    floor: Amount | None = None
    storage_bytes: int | None = None
    interval_seconds: int = 600

    def __post_init__(self) -> None:
        if isinstance(self.retain_nights, bool) or not isinstance(self.retain_nights, int) or self.retain_nights < 0:
            raise ValueError(f"retain_nights must be a non-negative integer, got {self.retain_nights!r}")
        if not self.prune_order or not all(isinstance(t, str) and t.strip() for t in self.prune_order):
            raise ValueError("prune_order must list semantic types (or '*')")
        object.__setattr__(self, "prune_order", tuple(_semantic_type(t) for t in self.prune_order))
        if self.storage_bytes is not None and self.storage_bytes <= 0:
            raise ValueError("storage_bytes must be positive")

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any], **overrides: Any) -> "HousekeepingPolicy":
        """The policy from ``MPI_*`` settings (see :data:`SETTING_NAMES`); ``overrides`` win."""
        storage = Amount.parse(settings.get("MPI_STORAGE_BYTES"), "MPI_STORAGE_BYTES")
        if storage is not None and storage.percent:
            raise ValueError("MPI_STORAGE_BYTES must be bytes, not a percentage")
        remove_records = int(settings.get("MPI_PRUNE_RECORDS") or 0)
        if remove_records not in (0, 1):
            raise ValueError(f"MPI_PRUNE_RECORDS must be 0 or 1, got {remove_records!r}")
        values = dict(
            retain_nights=int(settings.get("MPI_RETAIN_NIGHTS") or 0),
            prune_order=parse_prune_order(settings.get("MPI_PRUNE_ORDER") or "*"),
            remove_records=bool(remove_records),
            high_water=Amount.parse(settings.get("MPI_QUOTA_HIGH_WATER"), "MPI_QUOTA_HIGH_WATER"),
            floor=Amount.parse(settings.get("MPI_QUOTA_FLOOR"), "MPI_QUOTA_FLOOR"),
            storage_bytes=None if storage is None else int(storage.value),
            interval_seconds=int(settings.get("MPI_HOUSEKEEPING_SECONDS", 600)),
        )
        values.update({key: value for key, value in overrides.items() if value is not None})
        return cls(**values)

    def cutoff(self, now: datetime | None = None) -> datetime:
        """Content older than this may be pruned: the noon that starts the oldest kept night."""
        if self.retain_nights < 1:
            raise ValueError("no retention policy: set MPI_RETAIN_NIGHTS (or --retain-nights) to "
                             "the number of nights to keep")
        noon = model.get_day_and_offset(now or model.now())["previous_noon"]
        return noon - timedelta(days=self.retain_nights - 1)

    def priority(self, semantic_type: str) -> int | None:
        """Where ``semantic_type`` comes in the prune order (0 first), None if never pruned."""
        if semantic_type in self.prune_order:
            return self.prune_order.index(semantic_type)
        if "*" in self.prune_order:
            return self.prune_order.index("*")
        return None


def parse_prune_order(text: str | list | tuple) -> tuple[str, ...]:
    """``"meteorpi:sky_clarity, *"`` → ``("meteorpi:sky_clarity", "*")``."""
    parts = text.split(",") if isinstance(text, str) else list(text)
    order = tuple(str(part).strip() for part in parts if str(part).strip())
    if not order:
        raise ValueError("MPI_PRUNE_ORDER must list semantic types (or '*')")
    return order


def _semantic_type(text: str) -> str:
    text = text.strip()
    return text if text == "*" else str(model.NSString.from_string(text))


def night_of(time_ms: int) -> str:
    """The night (``YYYY-MM-DD`` of the noon that starts it) of a time in epoch milliseconds."""
    noon = (time_ms - _NOON_MS) // _DAY_MS * _DAY_MS + _NOON_MS
    return model.milliseconds_to_utc_datetime(noon).strftime("%Y-%m-%d")


class Housekeeper:
    """Runs ``db.enforce_quota(policy)`` every ``policy.interval_seconds`` on a daemon thread.

    ``meteorpi serve`` starts one when a high-water mark is set and the interval is not 0. ``stop()`` ends it after the
    run in hand. Errors are logged, never raised: the next run tries again.
    """

    def __init__(self, db: Any, policy: HousekeepingPolicy) -> None:
        if policy.interval_seconds < 1:
            raise ValueError("the housekeeping interval must be at least one second")
        self.db = db
        self.policy = policy
        self.runs = 0
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="meteorpi-housekeeper", daemon=True)

    def start(self) -> "Housekeeper":
        self._thread.start()
        return self

    def stop(self, wait: bool = True) -> None:
        self._stopped.set()
        if wait and self._thread.is_alive():
            self._thread.join()

    def _loop(self) -> None:
        while not self._stopped.is_set():
            try:
                result = self.db.enforce_quota(self.policy)
                if result is not None:
                    logger.info("housekeeping pruned %d file(s), %d bytes", len(result.files), result.bytes_freed)
            except StorageFullError as e:
                logger.warning("housekeeping: %s", e)
            except Exception:
                logger.exception("housekeeping run failed")
            self.runs += 1
            self._stopped.wait(self.policy.interval_seconds)
