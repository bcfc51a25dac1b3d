"""A camera's next status block: the current one with changes applied, in the wire form.

Shared by ``meteorpi camera set`` and the admin API's ``PATCH /cameras/<id>/status``, so a
change is validated the same way wherever it comes from.
"""

from __future__ import annotations

from typing import Any

from ._entities import CameraStatus

#: Fields a status block gets from the database, never from a change.
DERIVED_STATUS_FIELDS = ("status_id", "valid_from", "valid_to")
#: Sections whose keys a change may give one at a time (merged over the current ones).
_SECTIONS = ("location", "orientation")


def status_with_changes(current: CameraStatus | None, camera_id: str,
                        *changes: dict[str, Any]) -> CameraStatus:
    """``current`` (or nothing, for a camera's first block) with each of ``changes`` applied in
    order: top-level wire fields replace, ``location`` / ``orientation`` dicts merge key by key,
    derived fields (``status_id``, ``valid_from``, ``valid_to``) are ignored.

    Raises ``ValueError`` naming the field when the result is not a valid status block (for a
    first block, when a required field is missing).
    """
    fields: dict[str, Any] = current.as_dict() if current else {}
    for key in DERIVED_STATUS_FIELDS:
        fields.pop(key, None)
    for change in changes:
        if not isinstance(change, dict):
            raise ValueError("status changes must be a mapping of status fields")
        for key, value in change.items():
            if key in _SECTIONS and isinstance(value, dict):
                fields[key] = {**fields.get(key, {}), **value}
            elif key not in DERIVED_STATUS_FIELDS:
                fields[key] = value
    fields["camera_id"] = camera_id
    return CameraStatus.from_dict(fields)
