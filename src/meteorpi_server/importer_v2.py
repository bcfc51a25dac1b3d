"""The import API, protocol v2: batched, streamed, resumable replication (docs/replication.md).

Served beside the 2015 routes, under the same ``url_path`` (default ``/import``), all needing
the ``import`` role:

- ``GET <url_path>/capabilities`` — which protocols this target speaks (a 2015 target answers
  404, and exporters fall back to 2015);
- ``POST <url_path>/v2/manifest`` — the exporter lists a batch's entities, status blocks and
  files (id, MD5, size); the answer says which entities are already here and which status
  blocks and content are lacking. Content already here — imported, or a verified part left by
  an interrupted batch — is never asked for;
- ``POST <url_path>/v2/batch`` — one streamed request carrying the batch (see
  :mod:`meteorpi_fdb.batch_stream`): content is verified and flushed as it arrives, then the
  whole batch is imported in one transaction and answered per entity;
- ``POST <url_path>/v2/digest`` — per-night digests of entity ids, for ``meteorpi export verify``.

The HTTP layer only parses and translates: storing parts, importing and digests are calls on
the database. One hook, ``may_import(user_id, camera_id)``, is asked once per camera of a batch;
entities of a camera it refuses are answered ``failed``.
"""

from __future__ import annotations

import functools
import io
import logging
import uuid
from concurrent.futures import Future
from typing import Any, Callable

from flask import Response, current_app, jsonify, request
from werkzeug.exceptions import ClientDisconnected, RequestEntityTooLarge

import meteorpi_model as model
from meteorpi_fdb import batch_stream
from meteorpi_fdb._replication_digest import digest
from meteorpi_fdb.stores import IncompleteContent, Part
from meteorpi_server.app import json_object
from meteorpi_server.errors import ApiError, BadRequest, PayloadTooLarge
from meteorpi_server.routing import blueprint, camera_id_param

logger = logging.getLogger("meteorpi.server.import")

PROTOCOL = "v2"
#: Most entities (and files, and status blocks) one manifest may list.
MAX_MANIFEST_ITEMS = 10_000
#: Most nights one digest request may list.
MAX_DIGEST_NIGHTS = 1_000
#: Read buffer over a batch request's body.
STREAM_BUFFER_BYTES = 1024 * 1024

CameraCheck = Callable[[str, str], bool]


def _allow_every_camera(user_id: str, camera_id: str) -> bool:
    return True


def _list(body: dict, key: str, what: str) -> list:
    value = body.get(key, [])
    if not isinstance(value, list):
        raise BadRequest(f"{what}: {key} must be a list")
    if len(value) > MAX_MANIFEST_ITEMS:
        raise BadRequest(f"{what}: {key} lists more than {MAX_MANIFEST_ITEMS} items")
    return value


def _uuid(value: Any, field: str) -> uuid.UUID:
    return model.parse_uuid(value, field)


def _md5(value: Any, field: str) -> str:
    if not isinstance(value, str) or len(value) != 32 or any(c not in "0123456789abcdefABCDEF" for c in value):
        raise BadRequest(f"{field} must be 32 hex digits")
    return value.lower()


def _size(value: Any, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise BadRequest(f"{field} must be a non-negative integer")
    return value


class V2Importer:
    """The v2 routes' logic over a ``MeteorDatabase``.

    :param db: the target database
    :param may_import: ``(user_id, camera_id) -> bool``, asked once per camera in each batch
    :param entity_policy: ``(user_id, entity, holds)``, raising an ``ApiError`` for a status
        block, file or event the user may not import (the same rule as the 2015 import API's);
        such a status block is left out of the batch, such an entity is answered ``failed``
        with its message. ``holds(user_id, camera_id)`` is ``db.user_holds_camera`` asked once
        per camera and batch.
    """

    def __init__(self, db: Any, may_import: CameraCheck | None = None,
                 entity_policy: Callable[[str, Any, CameraCheck], None] | None = None) -> None:
        self.db = db
        self.may_import = may_import or _allow_every_camera
        self.entity_policy = entity_policy

    def capabilities(self) -> dict[str, Any]:
        return {"protocols": ["2015", PROTOCOL],
                "v2": {"manifest": "v2/manifest", "batch": "v2/batch", "digest": "v2/digest",
                       "max_manifest_items": MAX_MANIFEST_ITEMS,
                       "max_batch_bytes": current_app.config["MAX_CONTENT_LENGTH"],
                       "max_frame_bytes": current_app.config["MPI_MAX_JSON_BYTES"],
                       "batch_content_type": batch_stream.CONTENT_TYPE}}

    def manifest(self, body: dict[str, Any]) -> dict[str, Any]:
        """What of the listed entities, status blocks and content this target holds or lacks."""
        wanted: dict[str, list[uuid.UUID]] = {"event": [], "file": []}
        for index, item in enumerate(_list(body, "entities", "manifest")):
            if not isinstance(item, dict) or item.get("type") not in wanted:
                raise BadRequest(f"manifest: entities[{index}] must be {{\"type\": \"event\"|\"file\", \"id\": hex}}")
            wanted[item["type"]].append(_uuid(item.get("id"), f"entities[{index}].id"))
        statuses = [_uuid(s, f"statuses[{i}]") for i, s in enumerate(_list(body, "statuses", "manifest"))]
        files = []
        for index, item in enumerate(_list(body, "files", "manifest")):
            if not isinstance(item, dict):
                raise BadRequest(f"manifest: files[{index}] must be an object")
            files.append((_uuid(item.get("id"), f"files[{index}].id"), _md5(item.get("md5"), f"files[{index}].md5"),
                          _size(item.get("size"), f"files[{index}].size")))
        held = sorted(self.db.held_entity_ids("event", wanted["event"]) | self.db.held_entity_ids("file", wanted["file"]))
        lacking_statuses = [s.hex for s in statuses if not self.db.has_status_id(s)]
        imported = self.db.held_entity_ids("file", [file_id for file_id, _md5, _size in files])
        lacking_content = [file_id.hex for file_id, md5, size in files
                           if file_id.hex not in imported and not self._content_held(file_id, md5, size)]
        return {"entities_held": held, "statuses_lacking": lacking_statuses, "content_lacking": lacking_content}

    def _content_held(self, file_id: uuid.UUID, md5: str, size: int) -> bool:
        if self.db.part_store.held(file_id, md5, size):
            return True
        # Content placed by an attempt whose transaction failed, or by a 2015 upload: rare, so
        # hashing it here is cheap overall.
        found = self.db.file_store.stat(file_id)
        try:
            return found is not None and found.size == size and self.db.file_store.hash_content(file_id) == (size, md5)
        except OSError:
            return False

    def batch(self, stream: Any, user_id: str) -> dict[str, Any]:
        """Read a batch stream, verifying content as it comes (a directory store's part store
        flushes it on flusher threads meanwhile); once every part is durable, import the batch
        whole."""
        max_line = current_app.config["MPI_MAX_JSON_BYTES"]
        if isinstance(stream, io.RawIOBase):
            stream = io.BufferedReader(stream, STREAM_BUFFER_BYTES)  # whole header lines at a time
        statuses: list[model.CameraStatus] = []
        entities: list[Any] = []
        flushing: dict[uuid.UUID, Future] = {}
        rejected: dict[uuid.UUID, str] = {}
        received = 0
        try:
            for number, frame in enumerate(batch_stream.read_frames(stream, max_line), start=1):
                received += self._frame(number, frame, stream, user_id, statuses, entities, flushing, rejected)
        finally:
            content = _flushed(flushing, rejected)  # verified parts stay, also for a cut batch
        results = self._import(statuses, entities, content, rejected, user_id)
        self.db.part_store.prune()
        return {"results": results, "content_bytes": received}

    def _frame(self, number: int, frame: batch_stream.Frame, stream: Any, user_id: str, statuses: list,
               entities: list, flushing: dict[uuid.UUID, Future], rejected: dict[uuid.UUID, str]) -> int:
        """Take one frame (reading a content frame's bytes); the content bytes it carried."""
        body = frame.body
        try:
            if frame.kind == "content":
                file_id = _uuid(body.get("file_id"), "file_id")
                md5 = _md5(body.get("md5"), "md5")
                size = _size(body.get("size"), "size")
                try:
                    flushing[file_id] = self.db.part_store.receive(file_id, md5, size, stream)
                    return size
                except IncompleteContent as error:
                    raise batch_stream.StreamError(str(error)) from None
                except ValueError as error:
                    logger.warning("batch from %s: %s", user_id, error)
                    rejected[file_id] = str(error)
            elif frame.kind == "status":
                status = model.CameraStatus.from_dict(_object(body, "status"))
                if status.status_id is None or status.valid_from is None:
                    raise ValueError("status_id and valid_from are required")
                statuses.append(status)
            elif frame.kind == "event":
                entities.append(model.Event.from_dict(_object(body, "event")))
            else:
                entities.append(model.FileRecord.from_dict(_object(body, "file")))
        except (ValueError, BadRequest) as error:
            message = getattr(error, "message", None) or str(error)
            raise batch_stream.StreamError(f"frame {number} ({frame.kind}): {message}") from None
        return 0

    def _import(self, statuses: list, entities: list, content: dict, rejected: dict[uuid.UUID, str],
                user_id: str) -> list[dict[str, Any]]:
        refused: dict[str, bool] = {}
        allowed, answers = [], {}
        holds = functools.lru_cache(maxsize=None)(self.db.user_holds_camera)
        statuses = [status for status in statuses if self._policy_refusal(user_id, status, holds) is None]
        for index, entity in enumerate(entities):
            kind, entity_id = ("event", entity.event_id) if isinstance(entity, model.Event) else ("file", entity.file_id)
            refusal = self._policy_refusal(user_id, entity, holds)
            if refusal is not None:
                answers[index] = {"type": kind, "id": entity_id.hex, "state": "failed", "message": refusal}
                continue
            camera_id = entity.camera_id
            if camera_id not in refused:
                refused[camera_id] = not self.may_import(user_id, camera_id)
            records = entity.file_records if kind == "event" else [entity]
            bad = next((rejected[r.file_id] for r in records if r.file_id in rejected), None)
            for record in records:  # verified parts left by an earlier, interrupted batch
                if record.file_id not in content and record.md5:
                    held = self.db.part_store.held_part(record.file_id, record.md5, record.file_size)
                    if held is not None:
                        content[record.file_id] = held
            if refused[camera_id]:
                answers[index] = {"type": kind, "id": entity_id.hex, "state": "failed",
                                  "message": f"user {user_id} may not import for camera {camera_id}"}
            elif bad is not None:
                answers[index] = {"type": kind, "id": entity_id.hex, "state": "failed",
                                  "message": f"content rejected: {bad}"}
            else:
                allowed.append((index, entity))
        outcomes = self.db.import_replicated_batch(statuses, [e for _, e in allowed], content, user_id)
        for (index, _entity), outcome in zip(allowed, outcomes):
            answers[index] = outcome.as_dict()
        return [answers[index] for index in range(len(entities))]

    def _policy_refusal(self, user_id: str, entity: Any, holds: CameraCheck) -> str | None:
        """Why ``entity_policy`` refuses ``entity`` for ``user_id``, or None."""
        if self.entity_policy is None:
            return None
        try:
            self.entity_policy(user_id, entity, holds)
        except ApiError as error:
            return error.message
        return None

    def digests(self, body: dict[str, Any]) -> dict[str, Any]:
        """Which of the listed (camera, night) digests differ from what this target holds."""
        entity_type = body.get("type")
        if entity_type not in ("event", "file"):
            raise BadRequest("digest: type must be 'event' or 'file'")
        nights = body.get("nights")
        if not isinstance(nights, list) or len(nights) > MAX_DIGEST_NIGHTS:
            raise BadRequest(f"digest: nights must be a list of at most {MAX_DIGEST_NIGHTS} items")
        by_camera: dict[str, dict[str, str]] = {}
        for index, item in enumerate(nights):
            if not isinstance(item, dict) or not isinstance(item.get("camera_id"), str) \
                    or not isinstance(item.get("night"), str) or not isinstance(item.get("digest"), str):
                raise BadRequest(f"digest: nights[{index}] must be {{camera_id, night, digest}} strings")
            camera_id_param(item["camera_id"])
            by_camera.setdefault(item["camera_id"], {})[item["night"]] = item["digest"]
        differing = []
        for camera_id, expected in by_camera.items():
            held = self.db.held_by_night(entity_type, camera_id, expected)
            differing += [{"camera_id": camera_id, "night": night}
                          for night, value in expected.items() if digest(held.get(night, [])) != value]
        return {"differing": differing}


def _flushed(flushing: dict[uuid.UUID, Future], rejected: dict[uuid.UUID, str]) -> dict[uuid.UUID, Part]:
    """Wait for every part's flush; content whose flush failed is rejected."""
    content = {}
    for file_id, future in flushing.items():
        try:
            content[file_id] = future.result()
        except OSError as error:
            logger.error("the content of file %s could not be stored: %s", file_id.hex, error)
            rejected[file_id] = f"the target could not store the content: {error.strerror or error}"
    return content


def _object(body: dict, key: str) -> dict:
    value = body.get(key)
    if not isinstance(value, dict):
        raise ValueError(f"{key} must be a JSON object")
    return value


def add_routes(meteor_app: Any, url_path: str = "/import", may_import: CameraCheck | None = None,
               db: Any = None) -> V2Importer:
    """Add the v2 routes under ``url_path`` (beside the 2015 ones) importing into ``db``
    (default: the app's); returns the importer, whose ``may_import`` hook may be replaced."""
    importer = V2Importer(meteor_app.db if db is None else db, may_import)
    routes = blueprint("import_v2", url_path)
    guard = meteor_app.requires_auth(["import"])

    def capabilities() -> Response:
        return jsonify(importer.capabilities())

    def manifest() -> Response:
        return jsonify(importer.manifest(json_object()))

    def batch() -> Response:
        user_id = meteor_app.current_user().user_id
        try:
            return jsonify(importer.batch(request.stream, user_id))
        except RequestEntityTooLarge:
            raise PayloadTooLarge(f"batch larger than {request.max_content_length} bytes") from None
        except batch_stream.StreamError as error:
            # Verified parts already written stay, so that the exporter can resume.
            logger.warning("batch from %s not imported: %s", user_id, error)
            raise BadRequest(str(error)) from None
        except ClientDisconnected:
            logger.warning("batch from %s broken off by the client; verified parts kept", user_id)
            raise

    def digests() -> Response:
        return jsonify(importer.digests(json_object()))

    routes.add_url_rule("/capabilities", "capabilities", guard(capabilities), methods=["GET"])
    routes.add_url_rule("/v2/manifest", "manifest", guard(manifest), methods=["POST"])
    routes.add_url_rule("/v2/batch", "batch", guard(batch), methods=["POST"])
    routes.add_url_rule("/v2/digest", "digest", guard(digests), methods=["POST"])
    meteor_app.app.register_blueprint(routes)
    meteor_app.v2_importer = importer
    return importer


__all__ = ["CameraCheck", "V2Importer", "add_routes"]
