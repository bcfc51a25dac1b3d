"""Manifests for ``meteorpi register``: files and events to ingest, in JSON or YAML.

A manifest is a mapping with optional ``camera_id`` (the default camera), ``files``
(stand-alone files) and ``events`` (each with its own ``files``)::

    camera_id: b827eb0a1b2c
    files:
      - path: sky/0100.png              # relative to the manifest's directory
        semantic_type: meteorpi:sky_clarity
        time: 2024-08-12T01:00:00Z      # ISO 8601 (no zone = UTC) or epoch milliseconds
        mime_type: image/png            # default: guessed from the file name
        name: sky-0100.png              # default: the file's base name
        meta: {meteorpi:sky_clarity: 87.5}
    events:
      - time: 2024-08-12T01:23:45.678Z
        type: meteorpi:meteor           # default meteorpi:meteor
        meta:
          meteorpi:duration: 0.82                   # a number
          meteorpi:shower: PER                      # a string
          meteorpi:peak_time: {date: 1723425826100} # a date (ISO 8601 or epoch ms)
        files:
          - {path: m/0123.png, semantic_type: meteorpi:meteor_image}   # time: the event's

Parsing checks everything (fields, types, times, that each file exists and appears once)
before anything is registered; errors name the entry, e.g. ``events[2].files[0].path``.
"""

from __future__ import annotations

import mimetypes
import os
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import meteorpi_model as model
from meteorpi_cli._common import parse_time, read_structured_file

DEFAULT_EVENT_TYPE = "meteorpi:meteor"
_FILE_KEYS = {"path", "semantic_type", "time", "mime_type", "name", "meta", "camera_id"}
_EVENT_KEYS = {"time", "type", "meta", "files", "camera_id"}
_TOP_KEYS = {"camera_id", "files", "events"}


@dataclass
class ManifestFile:
    where: str
    path: Path
    mime_type: str
    semantic_type: model.NSString
    time: datetime
    file_name: str
    camera_id: str | None
    meta: list[model.Meta] = field(default_factory=list)


@dataclass
class ManifestEvent:
    where: str
    time: datetime
    event_type: model.NSString
    camera_id: str | None
    meta: list[model.Meta] = field(default_factory=list)
    files: list[ManifestFile] = field(default_factory=list)


@dataclass
class Manifest:
    files: list[ManifestFile]
    events: list[ManifestEvent]

    def all_files(self) -> list[ManifestFile]:
        """Stand-alone files, then each event's files."""
        return self.files + [f for e in self.events for f in e.files]


def load_manifest(path: str | os.PathLike, default_camera: str | None = None,
                  require_files: bool = True) -> Manifest:
    """Read and check a JSON or YAML manifest; file paths are relative to its directory.

    ``require_files=False`` lets listed files be missing (a re-run in move mode: an interrupted
    run may have moved them into the store already; registration decides)."""
    data = read_structured_file(path)
    return parse_manifest(data, Path(path).resolve().parent, default_camera, require_files)


def parse_manifest(data: Any, base_dir: Path, default_camera: str | None = None,
                   require_files: bool = True) -> Manifest:
    """Check a manifest's parsed content; ``ValueError`` naming the entry on any problem."""
    _check_mapping(data, "manifest", _TOP_KEYS, required=())
    camera = _camera(data.get("camera_id", default_camera), "manifest")
    files = [_file(entry, f"files[{i}]", base_dir, camera, None, require_files)
             for i, entry in enumerate(_list(data.get("files"), "files"))]
    events = [_event(entry, f"events[{i}]", base_dir, camera, require_files)
              for i, entry in enumerate(_list(data.get("events"), "events"))]
    manifest = Manifest(files, events)
    if not files and not events:
        raise ValueError("manifest: no files and no events")
    seen: set[Path] = set()
    for item in manifest.all_files():
        if item.path in seen:
            raise ValueError(f"manifest: {item.path} is listed more than once")
        seen.add(item.path)
    return manifest


def _event(entry: Any, where: str, base_dir: Path, camera: str | None, require_files: bool) -> ManifestEvent:
    _check_mapping(entry, where, _EVENT_KEYS, required=("time",))
    time = _time(entry["time"], f"{where}.time")
    event_type = _ns(entry.get("type", DEFAULT_EVENT_TYPE), f"{where}.type")
    event_camera = _camera(entry.get("camera_id", camera), where)
    files = [_file(item, f"{where}.files[{i}]", base_dir, event_camera, time, require_files)
             for i, item in enumerate(_list(entry.get("files"), f"{where}.files"))]
    return ManifestEvent(where, time, event_type, event_camera, _meta(entry.get("meta"), f"{where}.meta"),
                         files)


def _file(entry: Any, where: str, base_dir: Path, camera: str | None,
          default_time: datetime | None, require_file: bool = True) -> ManifestFile:
    required = ("path", "semantic_type") + (("time",) if default_time is None else ())
    _check_mapping(entry, where, _FILE_KEYS, required=required)
    if not isinstance(entry["path"], str) or not entry["path"]:
        raise ValueError(f"{where}.path must be a file path")
    path = (base_dir / entry["path"]).resolve()
    if not path.is_file() and (require_file or path.exists()):
        raise ValueError(f"{where}.path: no such file {path}")
    time = _time(entry["time"], f"{where}.time") if "time" in entry else default_time
    mime_type = entry.get("mime_type") or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    name = entry.get("name", path.name)
    for key, value in (("mime_type", mime_type), ("name", name)):
        if not isinstance(value, str) or not value or len(value) > model.MAX_STRING_LENGTH:
            raise ValueError(f"{where}.{key} must be a string of 1 to "
                             f"{model.MAX_STRING_LENGTH} characters")
    return ManifestFile(where, path, mime_type, _ns(entry["semantic_type"], f"{where}.semantic_type"),
                        time, name, _camera(entry.get("camera_id", camera), where),
                        _meta(entry.get("meta"), f"{where}.meta"))


def _meta(value: Any, where: str) -> list[model.Meta]:
    """``{key: value}``: numbers, strings, YAML timestamps, or ``{date|number|string: value}``."""
    if value is None:
        return []
    if not isinstance(value, dict):
        raise ValueError(f"{where} must be a mapping of keys to values")
    metas = []
    for key, item in value.items():
        if isinstance(item, dict):
            if len(item) != 1 or next(iter(item)) not in ("date", "number", "string"):
                raise ValueError(f"{where}.{key} must be a value or one of "
                                 "{date: …}, {number: …}, {string: …}")
            kind, item = next(iter(item.items()))
            if kind == "date":
                item = _time(item, f"{where}.{key}")
            elif kind == "number" and (isinstance(item, bool) or not isinstance(item, (int, float))):
                raise ValueError(f"{where}.{key} must be a number")
            elif kind == "string":
                item = str(item)
        try:
            metas.append(model.Meta(str(key), item))
        except ValueError as e:
            raise ValueError(f"{where}.{key}: {e}") from None
    return metas


def _time(value: Any, where: str) -> datetime:
    if isinstance(value, bool):
        raise ValueError(f"{where} must be a time")
    if isinstance(value, int):
        return model.milliseconds_to_utc_datetime(value, where)
    if isinstance(value, (str, datetime)):
        try:
            return parse_time(value)
        except ValueError as e:
            raise ValueError(f"{where}: {e}") from None
    raise ValueError(f"{where} must be an ISO 8601 time or epoch milliseconds")


def _ns(value: Any, where: str) -> model.NSString:
    return model.NSString.coerce(value, where)


def _camera(value: Any, where: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value or len(value) > model.MAX_CAMERA_ID_LENGTH:
        raise ValueError(f"{where}.camera_id must be a string of 1 to "
                         f"{model.MAX_CAMERA_ID_LENGTH} characters")
    return value


def _list(value: Any, where: str) -> list:
    if value is None:
        return []
    if not isinstance(value, list):
        raise ValueError(f"{where} must be a list")
    return value


def _check_mapping(value: Any, where: str, allowed: set[str], required: tuple[str, ...]) -> None:
    if not isinstance(value, dict):
        raise ValueError(f"{where} must be a mapping")
    unknown = sorted(set(map(str, value)) - allowed)
    if unknown:
        raise ValueError(f"{where}: unknown field {unknown[0]!r} (expected {', '.join(sorted(allowed))})")
    for key in required:
        if key not in value:
            raise ValueError(f"{where}: missing field {key!r}")
