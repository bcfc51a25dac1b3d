"""Small builders for tests: times, camera statuses, files and events on a real database.

Every builder takes the database as its first argument and returns what was stored, so tests
read as a list of facts: ``make_status(db, "cam1", utc(2015, 1, 1))``,
``make_file(db, tmp_path, utc(2015, 1, 2), camera_id="cam1")``.
"""

from __future__ import annotations

import hashlib
import io
import os
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Sequence

import meteorpi_model as model

REMOTE_CAMERA = "remote000001"


def utc(year: int, month: int = 1, day: int = 1, hour: int = 0, minute: int = 0, second: int = 0,
        millisecond: int = 0) -> datetime:
    """An aware UTC datetime (millisecond precision, as the database stores it)."""
    return datetime(year, month, day, hour, minute, second, millisecond * 1000, tzinfo=timezone.utc)


def status_block(latitude: float = 52.2, longitude: float = 0.1, **fields) -> model.CameraStatus:
    """A CameraStatus value with plausible defaults; ``fields`` override any constructor argument."""
    values = dict(
        lens="Fujinon 2.8mm",
        sensor="Watec 902H2",
        inst_url="https://example.org/observatory",
        inst_name="Example Observatory",
        orientation=model.Orientation(altitude=90.0, azimuth=0.0, error=0.5, rotation=0.0, width_of_field=90.0),
        location=model.Location(latitude=latitude, longitude=longitude, gps=True, error=5.0),
        camera_id="aabbccddeeff",
    )
    values.update(fields)
    return model.CameraStatus(**values)


def make_status(db, camera_id: str | None = None, valid_from: datetime | None = None,
                latitude: float = 52.2, longitude: float = 0.1, **fields) -> model.CameraStatus:
    """Store a status block for ``camera_id`` (default: the installation) valid from ``valid_from``.

    This moves the camera's high water mark to ``valid_from``: create statuses before the files
    and events that need them, oldest first, or the roll-back deletes later data.
    """
    status = status_block(latitude, longitude, **fields)
    return db.update_camera_status(status, time=valid_from, camera_id=camera_id)


def write_content(directory: str | os.PathLike, content: bytes | None = None) -> str:
    """Write ``content`` (random bytes if None) to a new file in ``directory``; return its path."""
    os.makedirs(directory, exist_ok=True)
    path = Path(directory) / f"incoming-{uuid.uuid4().hex}.bin"
    path.write_bytes(os.urandom(64) if content is None else content)
    return str(path)


def make_file(db, directory: str | os.PathLike, file_time: datetime, camera_id: str | None = None,
              meta: Sequence[model.Meta] = (), semantic_type: str = "meteorpi:test_file",
              mime_type: str = "application/octet-stream", content: bytes | None = None,
              file_name: str | None = None) -> model.FileRecord:
    """Register a new file (content written to ``directory`` first) and return its FileRecord."""
    path = write_content(directory, content)
    return db.register_file(path, mime_type, model.NSString.from_string(semantic_type), file_time,
                            list(meta), camera_id=camera_id, file_name=file_name)


def make_event(db, event_time: datetime, camera_id: str | None = None,
               files: Sequence[model.FileRecord] = (), meta: Sequence[model.Meta] = (),
               event_type: str = "meteorpi:test_event") -> model.Event:
    """Register a new event linking ``files`` and return it."""
    return db.register_event(camera_id if camera_id is not None else db.installation_id, event_time,
                             model.NSString.from_string(event_type), list(files), list(meta))


def remote_status(db, valid_from: datetime, camera_id: str = REMOTE_CAMERA, latitude: float = 48.0,
                  longitude: float = 11.0) -> model.CameraStatus:
    """Import a status block as it arrives from another node (its own id and valid_from)."""
    status = status_block(latitude, longitude, camera_id=camera_id, status_id=uuid.uuid4(), valid_from=valid_from)
    db.import_camera_status(status)
    return status


def remote_file(db, status: model.CameraStatus, file_time: datetime, content: bytes | None = None,
                store: bool = True, **changes) -> model.FileRecord:
    """A FileRecord as another node sends it, its content already uploaded into the store
    (unless ``store`` is False); ``changes`` override any FileRecord field."""
    content = os.urandom(100) if content is None else content
    file_id = uuid.uuid4()
    if store:
        db.file_store.put_stream(file_id, io.BytesIO(content))
    fields = dict(camera_id=status.camera_id, mime_type="image/png", semantic_type="meteorpi:raw",
                  status_id=status.status_id, md5=hashlib.md5(content).hexdigest(), file_id=file_id,
                  file_time=file_time, file_size=len(content), file_name="remote.png",
                  meta=[model.Meta("meteorpi:brightness", 4.0), model.Meta("meteorpi:seen", file_time)])
    fields.update(changes)
    return model.FileRecord(**fields)


def store_names(store) -> list[str]:
    """Everything a file store holds besides replication parts, through its interface (so it
    reads the same for a directory and a bucket): content ids (hex) and strays (temporaries,
    incomplete uploads, foreign names)."""
    return sorted(file_id.hex for file_id in store.stored_ids()) + store.stray_files()


def replace_content(db, file_id: uuid.UUID, content: bytes) -> None:
    """Swap a file's stored content for ``content`` behind the database's back (a disk fault,
    a bad restore), through the store's interface."""
    db.file_store.remove(file_id)
    db.file_store.put_stream(file_id, io.BytesIO(content))
