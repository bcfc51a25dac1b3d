"""Who may write what through an import API, and what is plausible (issue 11).

One rule, used by every import protocol: an importing user may send a camera status block,
file record or event only for a camera it holds (``db.user_holds_camera``; an administrator
grants cameras with ``PUT /users/<user_id>/cameras/<camera_id>`` or
``meteorpi user cameras grant``). Anything else is refused with 403 and a message naming the
camera, before anything is written. Separately, nothing may be dated more than
``MPI_IMPORT_MAX_FUTURE_SECONDS`` beyond the server's clock (400).

Call :func:`check_import` for each entity a request carries.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Callable, Iterator

import meteorpi_model as model
from meteorpi_server.errors import BadRequest, Forbidden


def entity_cameras_and_times(entity: Any) -> Iterator[tuple[str, str, datetime | None]]:
    """``(what, camera id, time)`` for the entity and every file record it carries."""
    if isinstance(entity, model.CameraStatus):
        yield f"status {entity.status_id.hex}", entity.camera_id, entity.valid_from
    elif isinstance(entity, model.Event):
        yield f"event {entity.event_id.hex}", entity.camera_id, entity.event_time
        for record in entity.file_records:
            yield f"file {record.file_id.hex}", record.camera_id, record.file_time
    elif isinstance(entity, model.FileRecord):
        yield f"file {entity.file_id.hex}", entity.camera_id, entity.file_time


def check_camera_held(db: Any, user_id: str, camera_id: str,
                      holds: Callable[[str, str], bool] | None = None) -> None:
    """``Forbidden`` (403) unless ``user_id`` holds ``camera_id`` (asked of ``holds``, default
    ``db.user_holds_camera``)."""
    if not (holds or db.user_holds_camera)(user_id, camera_id):
        raise Forbidden(f"user {user_id!r} may not write for camera {camera_id!r}: an "
                        "administrator must grant it that camera first", camera_id=camera_id)


def check_not_future(entity: Any, max_future_seconds: float, now: datetime | None = None) -> None:
    """``BadRequest`` (400) if the entity or a file it carries is dated more than
    ``max_future_seconds`` after ``now`` (default: the server's clock)."""
    latest = (now or model.now()) + timedelta(seconds=max_future_seconds)
    for what, _camera, when in entity_cameras_and_times(entity):
        if when is not None and when > latest:
            raise BadRequest(f"{what} is dated {when.isoformat().replace('+00:00', 'Z')}, more "
                             f"than {max_future_seconds} s in the future; check the camera's clock")


def check_import(db: Any, user_id: str, entity: Any, max_future_seconds: float,
                 holds: Callable[[str, str], bool] | None = None) -> None:
    """Every check an imported entity must pass: each camera it names is held by ``user_id``
    (403; ``holds`` as in :func:`check_camera_held`), then its times are plausible (400).
    Nothing is written either way."""
    for camera_id in dict.fromkeys(camera for _what, camera, _when in entity_cameras_and_times(entity)):
        check_camera_held(db, user_id, camera_id, holds)
    check_not_future(entity, max_future_seconds)
