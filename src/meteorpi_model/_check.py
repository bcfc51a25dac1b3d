"""Validators shared by the model classes, and the value-equality base class.

Every failure is a ``ValueError`` whose message names the offending field, so the HTTP layer
can hand it to the client verbatim.
"""

import math
import numbers
import re
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

#: Longest accepted value of any free-text field (user ids, MIME types, names, URLs, ...).
MAX_STRING_LENGTH = 255
#: Longest accepted camera id.
MAX_CAMERA_ID_LENGTH = 64
#: Integers must fit a signed 64-bit column.
_MAX_INT = 2 ** 63 - 1
#: Integer numbers beyond this do not survive a round trip through a double.
_MAX_EXACT_INT = 2 ** 53


def type_name(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def show(value: Any) -> str:
    """A short repr of ``value`` for an error message."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


_CONTROL_CHARACTER = re.compile(r"[\x00-\x1f\x7f]")
#: What no backend can store in a text column: NUL (PostgreSQL refuses it, SQLite truncates C
#: strings at it) and lone surrogates (not encodable as UTF-8 at all).
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def _has_control_chars(text: str) -> bool:
    return _CONTROL_CHARACTER.search(text) is not None


def check_str(value: Any, field: str, *, max_length: int = MAX_STRING_LENGTH,
              allow_empty: bool = False, single_line: bool = True) -> str:
    """Return ``value`` if it is an acceptable string for ``field``."""
    if not isinstance(value, str):
        raise ValueError(f"{field} must be a string, not {type_name(value)}")
    if not value and not allow_empty:
        raise ValueError(f"{field} must not be empty")
    if len(value) > max_length:
        raise ValueError(f"{field} is too long ({len(value)} characters, at most {max_length})")
    # Identifiers end up in URLs, headers and file names: no newlines or other control characters.
    if single_line and _has_control_chars(value):
        raise ValueError(f"{field} must not contain control characters")
    if (bad := _UNSTORABLE.search(value)) is not None:
        kind = "a NUL character" if bad.group() == "\x00" else "an unpaired surrogate"
        raise ValueError(f"{field} must not contain {kind} (at position {bad.start()})")
    return value


def check_optional_str(value: Any, field: str, **kwargs: Any) -> str | None:
    return None if value is None else check_str(value, field, **kwargs)


def check_camera_id(value: Any, field: str = "camera_id") -> str:
    return check_str(value, field, max_length=MAX_CAMERA_ID_LENGTH)


def check_bool(value: Any, field: str) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{field} must be a boolean, not {type_name(value)}")
    return value


def check_int(value: Any, field: str, *, minimum: int = -_MAX_INT - 1,
              maximum: int = _MAX_INT) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{field} must be an integer, not {type_name(value)}")
    value = int(value)
    if value < minimum:
        raise ValueError(f"{field} must be at least {minimum}, got {show(value)}")
    if value > maximum:
        raise ValueError(f"{field} must be at most {maximum}, got {show(value)}")
    return value


def is_number(value: Any) -> bool:
    """Whether ``value`` is a real number (int, float, Decimal, ...) and not a bool."""
    kind = type(value)
    if kind is float or kind is int:  # the common case, without the slow ABC check
        return True
    return isinstance(value, (numbers.Real, Decimal)) and not isinstance(value, bool)


def check_number(value: Any, field: str, *, minimum: float | None = None,
                 maximum: float | None = None) -> int | float:
    """Return ``value`` as an int or a float if it is finite, in bounds and not a bool.

    Database drivers may hand back ``Decimal`` or other numeric types; they become float / int.
    """
    if not is_number(value):
        raise ValueError(f"{field} must be a number, not {type_name(value)}")
    value = int(value) if isinstance(value, numbers.Integral) else float(value)
    if isinstance(value, int):
        if abs(value) > _MAX_EXACT_INT:
            raise ValueError(f"{field} is too large, at most {_MAX_EXACT_INT} in magnitude")
    elif not math.isfinite(value):
        raise ValueError(f"{field} must be a finite number, got {show(value)}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{field} must be at least {minimum}, got {show(value)}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{field} must be at most {maximum}, got {show(value)}")
    return value


def check_optional_float(value: Any, field: str, **kwargs: Any) -> float | None:
    return None if value is None else float(check_number(value, field, **kwargs))


def check_list(value: Any, field: str, item_type: type | None = None) -> list:
    """Return a new list of the items of ``value`` (a list or tuple; None gives ``[]``)."""
    if value is None:
        return []
    if not isinstance(value, (list, tuple)):
        raise ValueError(f"{field} must be a list, not {type_name(value)}")
    if item_type is not None:
        for i, item in enumerate(value):
            if not isinstance(item, item_type):
                raise ValueError(f"{field}[{i}] must be a {item_type.__name__}, "
                                 f"not {type_name(item)}")
    return list(value)


def check_dict(value: Any, what: str, required: Iterable[str] = (),
               optional: Iterable[str] = ()) -> dict:
    """Check that ``value`` is a dict holding every ``required`` key and no unknown key."""
    if not isinstance(value, dict):
        raise ValueError(f"{what} must be a JSON object, not {type_name(value)}")
    required = tuple(required)
    for key in required:
        if key not in value:
            raise ValueError(f"{what}: missing required field '{key}'")
    allowed = set(required) | set(optional)
    for key in value:
        if key not in allowed:
            raise ValueError(f"{what}: unknown field '{key}'")
    return value


def items_from_dicts(values: Any, field: str, from_dict: Any) -> list:
    """Build a list of model objects from a list of dicts, naming the index on failure."""
    result = []
    for i, item in enumerate(check_list(values, field)):
        try:
            result.append(from_dict(item))
        except ValueError as e:
            raise ValueError(f"{field}[{i}]: {e}") from None
    return result


class ValueModel:
    """Value equality and a readable ``repr`` from the instance attributes."""

    __hash__ = None  # type: ignore[assignment]  # mutable: not hashable

    @classmethod
    def from_trusted(cls, **attributes: Any) -> Any:
        """Build an instance from already-validated attribute values, skipping validation.

        For the data layer only, materialising rows it validated on the way in: the values must
        be exactly what the constructor would have stored (UUIDs, aware UTC datetimes,
        NSStrings, lists of model objects). Searches build thousands of objects per page.
        """
        instance = cls.__new__(cls)
        instance.__dict__.update(attributes)
        return instance

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return vars(self) == vars(other)

    def _repr_items(self) -> Iterable[tuple[str, Any]]:
        return vars(self).items()

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v!r}" for k, v in self._repr_items())
        return f"{type(self).__name__}({fields})"
