"""Validation of the arguments of ``RecordsMixin``'s methods: everything is checked before
anything is written, and every failure is a ``ValueError`` naming the field."""

from __future__ import annotations

import functools
import os
import uuid
from typing import Any, Iterable

import meteorpi_model as model
from meteorpi_fdb import schema

# Stands in for the status id while a record is validated, before the status is looked up.
UNKNOWN_STATUS = uuid.UUID(int=0)


def checked_list(values: Any, field: str) -> list:
    if values is None:
        return []
    if not isinstance(values, (list, tuple)):
        raise ValueError(f"{field} must be a list, not {type(values).__name__}")
    return list(values)


def checked_metas(metas: Any, field: str) -> list[model.Meta]:
    """Re-validated copies of ``metas`` (Meta objects are mutable), fitting the schema's columns."""
    checked = []
    for index, meta in enumerate(checked_list(metas, field)):
        if not isinstance(meta, model.Meta):
            raise ValueError(f"{field}[{index}] must be a Meta, not {type(meta).__name__}")
        try:
            meta = model.Meta(meta.key, meta.value)
            if meta.type == "number":
                # Stored as a float: hand back exactly what a later read returns.
                meta = model.Meta(meta.key, float(meta.value))
        except (ValueError, OverflowError) as error:
            raise ValueError(f"{field}[{index}]: {error}") from None
        if len(str(meta.key)) > schema.META_KEY_LENGTH:
            raise ValueError(f"{field}[{index}]: meta key is too long (at most {schema.META_KEY_LENGTH} characters)")
        checked.append(meta)
    return checked


def new_file_record(camera_id: Any, mime_type: Any, semantic_type: Any, file_time: Any,
                    file_metas: Any, file_name: Any) -> model.FileRecord:
    """A validated FileRecord for ``register_file``; ids, size and md5 are filled in later."""
    return model.FileRecord(
        camera_id=camera_id, mime_type=mime_type, semantic_type=semantic_type,
        status_id=UNKNOWN_STATUS, file_time=model.to_utc(file_time, "file_time"),
        file_name=file_name, meta=checked_metas(file_metas, "file_metas"),
    )


def checked_source(file_path: Any, store_root: str | None) -> str:
    if not isinstance(file_path, (str, os.PathLike)) or not os.fspath(file_path):
        raise ValueError("file_path must be a path to a file")
    source = os.path.abspath(os.fspath(file_path))
    if not os.path.isfile(source):
        raise ValueError(f"file_path {os.fspath(file_path)!s} is not a readable file")
    if store_root is not None and os.path.dirname(os.path.realpath(source)) == os.path.realpath(store_root):
        raise ValueError("file_path must not be inside the file store")
    return source


def checked_source_path(file_path: Any, store_root: str | None) -> str:
    """An absolute source path, which need not exist yet (a batch checks at commit); never a
    name directly inside the file store (``store_root``), whose files are content."""
    if not isinstance(file_path, (str, os.PathLike)) or not os.fspath(file_path):
        raise ValueError("file_path must be a path to a file")
    source = os.path.abspath(os.fspath(file_path))
    if store_root is not None and os.path.dirname(os.path.realpath(source)) == _real_path(store_root):
        raise ValueError("file_path must not be inside the file store")
    return source


@functools.lru_cache(maxsize=16)
def _real_path(path: str) -> str:
    """The store's real path, resolved once (a batch checks thousands of sources against it)."""
    return os.path.realpath(path)


def checked_imported_file(record: Any, field: str) -> model.FileRecord:
    """A validated copy of an imported FileRecord, which must carry its id and time."""
    if not isinstance(record, model.FileRecord):
        raise ValueError(f"{field} must be a FileRecord, not {type(record).__name__}")
    if record.file_id is None:
        raise ValueError(f"{field} has no file_id")
    if record.file_time is None:
        raise ValueError(f"{field} has no file_time")
    try:
        return model.FileRecord(
            camera_id=record.camera_id, mime_type=record.mime_type,
            semantic_type=record.semantic_type, status_id=record.status_id, md5=record.md5,
            file_id=record.file_id, file_time=record.file_time, file_size=record.file_size,
            file_name=record.file_name, meta=checked_metas(record.meta, "meta"),
        )
    except ValueError as error:
        raise ValueError(f"{field}: {error}") from None


def checked_user_id(user_id: Any) -> str:
    if not isinstance(user_id, str) or not user_id:
        raise ValueError("user_id must be a non-empty string")
    if len(user_id) > schema.NAME_LENGTH:
        raise ValueError(f"user_id is too long (at most {schema.NAME_LENGTH} characters)")
    return user_id


def distinct_file_ids(records: Iterable[model.FileRecord]) -> list[uuid.UUID]:
    """The file ids of ``records`` in order; a missing or repeated id is a ValueError."""
    file_ids: list[uuid.UUID] = []
    for index, record in enumerate(records):
        if record.file_id is None:
            raise ValueError(f"file_records[{index}] has no file_id")
        if record.file_id in file_ids:
            raise ValueError(f"file_records[{index}]: file {record.file_id.hex} is listed twice")
        file_ids.append(record.file_id)
    return file_ids
