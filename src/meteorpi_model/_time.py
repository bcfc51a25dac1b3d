"""Time helpers: model times are timezone-aware UTC datetimes with millisecond precision.

On the wire a time is an integer number of milliseconds since the Unix epoch.
"""

from datetime import datetime, timedelta, timezone
from typing import Any

from ._check import show, type_name

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_ONE_MS = timedelta(milliseconds=1)


def to_utc(dt: Any, field: str = "time") -> datetime:
    """Normalise ``dt`` to an aware UTC datetime truncated to milliseconds.

    Naive datetimes are taken to be UTC; aware ones are converted. Anything other than a
    ``datetime`` is a ``ValueError`` naming ``field``.
    """
    if not isinstance(dt, datetime):
        raise ValueError(f"{field} must be a datetime, not {type_name(dt)}")
    try:
        if dt.tzinfo is None or dt.utcoffset() is None:
            dt = dt.replace(tzinfo=timezone.utc)
        else:
            dt = dt.astimezone(timezone.utc)
    except OverflowError:
        raise ValueError(f"{field} is out of range") from None
    return datetime(dt.year, dt.month, dt.day, dt.hour, dt.minute, dt.second,
                    dt.microsecond // 1000 * 1000, tzinfo=timezone.utc)


def to_optional_utc(dt: Any, field: str) -> datetime | None:
    return None if dt is None else to_utc(dt, field)


def now() -> datetime:
    """The current time as an aware UTC datetime, truncated to milliseconds."""
    return to_utc(datetime.now(timezone.utc))


def utc_datetime_to_milliseconds(dt: datetime) -> int:
    """Milliseconds since the Unix epoch of ``dt`` (naive means UTC)."""
    return (to_utc(dt) - EPOCH) // _ONE_MS


def milliseconds_to_utc_datetime(ms: Any, field: str = "time") -> datetime:
    """The aware UTC datetime ``ms`` milliseconds after the Unix epoch.

    Accepts an int (or a float with an integral value, as some JSON encoders produce).
    """
    if isinstance(ms, float) and ms.is_integer():
        ms = int(ms)
    if isinstance(ms, bool) or not isinstance(ms, int):
        raise ValueError(f"{field} must be integer milliseconds since the epoch, "
                         f"not {type_name(ms)}")
    try:
        return EPOCH + timedelta(milliseconds=ms)
    except OverflowError:
        raise ValueError(f"{field} is out of range: {show(ms)}") from None


def optional_ms_to_datetime(ms: Any, field: str) -> datetime | None:
    return None if ms is None else milliseconds_to_utc_datetime(ms, field)


def get_day_and_offset(dt: datetime) -> dict[str, Any]:
    """The noon (UTC) that precedes ``dt`` and the whole seconds since it.

    Returns ``{"previous_noon": datetime, "seconds": int}``; ``seconds`` is in [0, 86400).
    At or after 12:00 UTC the previous noon is the same day's, before 12:00 the day before's.
    """
    dt = to_utc(dt)
    noon = dt.replace(hour=12, minute=0, second=0, microsecond=0)
    if dt < noon:
        noon -= timedelta(days=1)
    return {"previous_noon": noon, "seconds": (dt - noon) // timedelta(seconds=1)}
