"""The import API: the receiving end of replication (SPEC section 8).

An exporter POSTs entity messages (``{"type": "event", "event": {...}}``, ``"file"``,
``"status"``, or the short form ``{"type": "cached_entity", "cached_entity_id": hex}``) to
``<url_path>`` and binary content to ``<url_path>/data/<file_id_hex>/<md5_hex>``. Every answer is
``{"state": ...}``: ``complete``, ``continue``, ``continue-nocache``, ``need_status`` (+
``status_id``), ``need_file_data`` (+ ``file_id``) or ``failed`` (+ ``message``).

Before any receiver runs, every entity must name only cameras the importing user holds (403)
and be dated at most ``MPI_IMPORT_MAX_FUTURE_SECONDS`` ahead (400): ``import_policy``. Uploaded
content is held to the user's quota of content awaiting records: ``upload_quota``.

What happens to received entities is up to an import receiver: :class:`BaseImportReceiver`
accepts everything and stores nothing; :class:`MeteorDatabaseImportReceiver` replicates into a
``MeteorDatabase``. Full entities are kept in a small LRU cache, keyed per importing user, so that
the exporter can refer to them by id on later rounds; a miss (restart, another worker process)
costs one ``continue-nocache`` round trip, never a failure.
"""

from __future__ import annotations

import logging
import re
import threading
import uuid
from collections import OrderedDict
from typing import Any, Callable

from flask import Response, current_app, g, jsonify, request
from werkzeug.exceptions import ClientDisconnected, HTTPException, RequestEntityTooLarge

import meteorpi_model as model
from meteorpi_server.app import json_object
from meteorpi_server.errors import ApiError, BadRequest, PayloadTooLarge
from meteorpi_server.import_policy import check_import
from meteorpi_server.routing import blueprint, uuid_param
from meteorpi_server.upload_quota import UploadExpiry, check_quota

logger = logging.getLogger("meteorpi.server.import")

#: Entities remembered for short-form messages, over all importing users.
ENTITY_CACHE_SIZE = 2048

_MD5_HEX = re.compile(r"^[0-9a-fA-F]{32}$")


class _EntityCache:
    """A thread-safe LRU map of (namespace, user id, entity id) to (entity type, entity)."""

    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self._entries: OrderedDict[tuple, tuple[str, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple) -> tuple[str, Any] | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
            return entry

    def put(self, key: tuple, entity_type: str, entity: Any) -> None:
        with self._lock:
            self._entries[key] = (entity_type, entity)
            self._entries.move_to_end(key)
            while len(self._entries) > self.maxsize:
                self._entries.popitem(last=False)

    def discard(self, key: tuple) -> None:
        with self._lock:
            self._entries.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)


def _state(state: str, **fields: Any) -> Response:
    return jsonify({"state": state, **fields})


class ImportRequest:
    """One parsed import message, with the ``response_*`` answers the receiver can give.

    :cvar entity_cache: LRU cache of recently received entities (per importing user)
    :cvar logger: logs to ``meteorpi.server.import``
    :ivar entity: the CameraStatus, Event or FileRecord, or None after a cache miss
    :ivar entity_id: the entity's UUID (always set)
    :ivar entity_type: ``'file'``, ``'status'``, ``'event'`` or ``'none'``
    """

    entity_cache = _EntityCache(ENTITY_CACHE_SIZE)
    logger = logger

    def __init__(self, entity: Any, entity_id: uuid.UUID, entity_type: str | None = None,
                 cache_key: tuple | None = None) -> None:
        """Don't build one yourself: :meth:`process_request` makes it from the Flask request."""
        self.entity = entity
        self.entity_id = entity_id
        self.entity_type = entity_type or _type_of(entity)
        self._cache_key = cache_key

    @staticmethod
    def process_request(namespace: str = "") -> "ImportRequest":
        """Parse the current request's JSON body into an ImportRequest.

        Full entities are cached under ``(namespace, importing user, entity id)``. A short-form
        message whose id is not in the cache gives an ImportRequest with ``entity`` None (answer
        it with :meth:`response_continue`, which asks for the full entity again).
        Malformed input raises ``BadRequest`` or ``ValueError`` naming the problem (both are
        answered 400).
        """
        body = json_object()
        entity_type = body.get("type")
        user_id = BaseImportReceiver.get_importing_user_id()
        if entity_type == "cached_entity":
            entity_id = model.parse_uuid(body.get("cached_entity_id"), "cached_entity_id")
            key = (namespace, user_id, entity_id)
            cached = ImportRequest.entity_cache.get(key)
            if cached is None:
                logger.info("cache miss for %s from user %s", entity_id.hex, user_id)
                return ImportRequest(None, entity_id, "none")
            return ImportRequest(cached[1], entity_id, cached[0], cache_key=key)
        entity, entity_id = _parse_entity(entity_type, body)
        key = (namespace, user_id, entity_id)
        if entity_type != "status":
            ImportRequest.entity_cache.put(key, entity_type, entity)
        return ImportRequest(entity, entity_id, entity_type, cache_key=key)

    def response_complete(self) -> Response:
        """This entity is done (or was already here): the exporter will not send it again."""
        if self._cache_key is not None:
            ImportRequest.entity_cache.discard(self._cache_key)
        return _state("complete")

    def response_continue(self) -> Response:
        """Ask the exporter to send this entity again: by id, or in full after a cache miss."""
        if self.entity is None:
            return _state("continue-nocache")
        return _state("continue")

    @staticmethod
    def response_continue_after_file() -> Response:
        """The answer to a binary upload: re-send the entity (by id)."""
        return _state("continue")

    @staticmethod
    def response_failed(message: str = "Import failed") -> Response:
        """Import of this entity failed; the exporter counts a failure and retries later."""
        return _state("failed", message=message)

    @staticmethod
    def response_need_file_data(file_id: uuid.UUID) -> Response:
        """Ask the exporter for the binary content of ``file_id``."""
        return _state("need_file_data", file_id=file_id.hex)

    def response_need_status(self, status_id: uuid.UUID | None = None) -> Response:
        """Ask for a camera status block: ``status_id``, by default the entity's own."""
        if status_id is None:
            status_id = self.entity.status_id
        return _state("need_status", status_id=status_id.hex)


def _type_of(entity: Any) -> str:
    if isinstance(entity, model.Event):
        return "event"
    if isinstance(entity, model.FileRecord):
        return "file"
    if isinstance(entity, model.CameraStatus):
        return "status"
    return "none"


def _parse_entity(entity_type: Any, body: dict) -> tuple[Any, uuid.UUID]:
    """The model object and id of a full entity message; ValueError if it is malformed."""
    if entity_type not in ("event", "file", "status"):
        raise ValueError("type must be one of event, file, status, cached_entity")
    data = body.get(entity_type)
    if not isinstance(data, dict):
        raise ValueError(f"{entity_type} must be a JSON object")
    if entity_type == "event":
        event = model.Event.from_dict(data)
        for record in event.file_records:
            _check_importable_file(record)
        return event, event.event_id
    if entity_type == "file":
        record = model.FileRecord.from_dict(data)
        _check_importable_file(record)
        return record, record.file_id
    status = model.CameraStatus.from_dict(data)
    if status.status_id is None:
        raise ValueError("status.status_id is required")
    if status.valid_from is None:
        raise ValueError("status.valid_from is required")
    return status, status.status_id


def _check_importable_file(record: model.FileRecord) -> None:
    if record.file_id is None:
        raise ValueError("file.file_id is required")
    if record.file_time is None:
        raise ValueError(f"file {record.file_id.hex}: file_time is required")


class BaseImportReceiver:
    """Receives imports. This base implementation accepts everything, stores nothing and answers
    ``complete``, so it never asks for camera status or binary content. Subclass it for other
    destinations (notifications, social media gateways, ...)."""

    @staticmethod
    def get_importing_user_id() -> str:
        """The id of the (already authenticated) user making the current import request."""
        user = g.get("user")
        if user is not None and getattr(user, "user_id", None):
            return user.user_id
        authorization = request.authorization
        if authorization is None or not authorization.username:
            raise ValueError("no authenticated importing user")
        return authorization.username

    def receive_event(self, import_request: ImportRequest) -> Response | None:
        """Handle an Event (``import_request.entity``); None means ``complete``."""
        return import_request.response_complete()

    def receive_file_record(self, import_request: ImportRequest) -> Response | None:
        """Handle a FileRecord (``import_request.entity``); None means ``complete``."""
        return import_request.response_complete()

    def receive_status(self, import_request: ImportRequest) -> Response | None:
        """Handle a CameraStatus sent after ``need_status``; None means ``continue``."""
        return import_request.response_continue()

    def receive_file_data(self, file_id: uuid.UUID, file_data: Any, md5_hex: str) -> None:
        """Handle uploaded content (a werkzeug ``FileStorage``); the answer is always
        ``continue``. Discard content whose MD5 is not ``md5_hex``."""
        return None


class MeteorDatabaseImportReceiver(BaseImportReceiver):
    """Replicates received events, files and camera status into a ``MeteorDatabase``,
    asking the exporter for whatever status blocks and content the database lacks.

    The database checks, inside the import transaction, that each status id is the one in
    force here and that stored content has the record's size and MD5; content that does not
    match is discarded and asked for again, anything else inconsistent is answered ``failed``.
    """

    def __init__(self, db) -> None:
        self.db = db
        self._expiry = UploadExpiry()

    def receive_event(self, import_request: ImportRequest) -> Response:
        event: model.Event = import_request.entity
        if self.db.has_event_id(event.event_id):
            return import_request.response_complete()
        answer = self._missing_prerequisite(import_request, event.status_id, event.file_records)
        if answer is not None:
            return answer
        return self._import(import_request, event.file_records, self.db.has_event_id,
                            lambda user: self.db.import_event(event, user))

    def receive_file_record(self, import_request: ImportRequest) -> Response:
        record: model.FileRecord = import_request.entity
        if self.db.has_file_id(record.file_id):
            return import_request.response_complete()
        answer = self._missing_prerequisite(import_request, record.status_id, [record])
        if answer is not None:
            return answer
        return self._import(import_request, [record], self.db.has_file_id,
                            lambda user: self.db.import_file_record(record, user))

    def receive_status(self, import_request: ImportRequest) -> Response:
        self.db.import_camera_status(import_request.entity)
        return import_request.response_continue()

    def receive_file_data(self, file_id: uuid.UUID, file_data: Any, md5_hex: str) -> None:
        """Store the content as a pending upload of the importing user, within its quota
        (``meteorpi_server.upload_quota``); 413/429 beyond it."""
        if self.db.has_file_id(file_id):
            logger.info("ignoring content for file %s: the record is already here", file_id.hex)
            return
        settings = current_app.config
        self._expiry.maybe_run(self.db, settings["MPI_UPLOAD_EXPIRY_SECONDS"])
        user_id = self.get_importing_user_id()
        check_quota(self.db, user_id, file_id, request.content_length or 0, settings)
        try:
            stored = self.db.file_store.put_stream(file_id, file_data.stream, md5_hex)
        except ValueError as error:
            logger.warning("discarded content: %s", error)
            return
        self.db.record_pending_upload(file_id, user_id, stored.size)
        try:
            check_quota(self.db, user_id, file_id, stored.size, settings, including_self=True)
        except ApiError:
            self.db.file_store.remove(file_id)
            self.db.forget_pending_uploads([file_id])
            raise
        logger.debug("stored content for file %s (%d bytes)", file_id.hex, stored.size)

    def _missing_prerequisite(self, import_request: ImportRequest, status_id: uuid.UUID,
                              records: list[model.FileRecord]) -> Response | None:
        """The answer asking for the first missing status or content, or None if all is here.

        Content on disk with the record's size needs no database query; only a file whose
        content is absent or differs in size is looked up (it may be here already)."""
        for wanted in dict.fromkeys([status_id] + [record.status_id for record in records]):
            if not self.db.has_status_id(wanted):
                return import_request.response_need_status(wanted)
        for record in records:
            found = self.db.file_store.stat(record.file_id)
            present = found is not None
            if present and record.md5 is not None and found.size == record.file_size:
                continue
            if self.db.has_file_id(record.file_id):
                continue
            if record.md5 is None:
                return import_request.response_failed(f"file {record.file_id.hex} has no content (no md5)")
            if present:
                self._discard(record)
            return import_request.response_need_file_data(record.file_id)
        return None

    def _discard(self, record: model.FileRecord) -> None:
        logger.warning("content for file %s does not match its record; discarding", record.file_id.hex)
        self.db.file_store.remove(record.file_id)

    def _import(self, import_request: ImportRequest, records: list[model.FileRecord],
                has: Callable[[uuid.UUID], bool], write: Callable[[str], Any]) -> Response:
        try:
            write(self.get_importing_user_id())
        except ValueError as error:
            if has(import_request.entity_id):
                return import_request.response_complete()
            # Content whose MD5 differs from its record was uploaded under this id: ask again.
            for record in records:
                if self.db.has_file_id(record.file_id):
                    continue
                try:
                    _size, md5 = self.db.file_store.hash_content(record.file_id)
                except FileNotFoundError:
                    return import_request.response_need_file_data(record.file_id)
                if md5 != record.md5:
                    self._discard(record)
                    return import_request.response_need_file_data(record.file_id)
            return import_request.response_failed(str(error))
        self.db.forget_pending_uploads([record.file_id for record in records])
        return import_request.response_complete()


def add_routes(meteor_app, handler: BaseImportReceiver | None = None,
               url_path: str = "/import", v2: bool = True) -> None:
    """Add ``POST <url_path>`` and ``POST <url_path>/data/<file_id_hex>/<md5_hex>`` to
    ``meteor_app``, both requiring the ``import`` role.

    :param handler: the receiver; defaults to a :class:`MeteorDatabaseImportReceiver` on the
        app's database
    :param url_path: where to mount the two routes
    :param v2: also serve replication protocol v2 (:mod:`meteorpi_server.importer_v2`) under
        ``url_path`` when the receiver is a :class:`MeteorDatabaseImportReceiver` (a custom
        receiver speaks 2015 only)

    Entity messages are capped at the app's ``MPI_MAX_JSON_BYTES`` and uploads at
    ``MPI_MAX_UPLOAD_BYTES`` (413 beyond either); malformed input is answered 400. Every
    entity must name only cameras the importing user holds (403 otherwise) and be dated at
    most ``MPI_IMPORT_MAX_FUTURE_SECONDS`` ahead (400): see ``meteorpi_server.import_policy``.
    """
    if handler is None:
        handler = MeteorDatabaseImportReceiver(meteor_app.db)
    routes = blueprint("import", url_path)
    # Entities cached by one set of routes are invisible to another (and to a restarted server).
    namespace = uuid.uuid4().hex

    def import_entities() -> Response:
        import_request = ImportRequest.process_request(namespace)
        if import_request.entity is None:
            return import_request.response_continue()
        check_import(meteor_app.db, BaseImportReceiver.get_importing_user_id(), import_request.entity,
                     meteor_app.settings["MPI_IMPORT_MAX_FUTURE_SECONDS"])
        return _dispatch(handler, import_request)

    def import_file_data(file_id_hex: str, md5_hex: str) -> Response:
        file_id = uuid_param(file_id_hex, "file_id")
        if not _MD5_HEX.match(md5_hex):
            raise BadRequest("md5 must be 32 hex digits")
        try:
            file_data = request.files.get("file")
            if file_data is None:
                raise BadRequest("the upload must be a multipart form with a 'file' field")
            handler.receive_file_data(file_id, file_data, md5_hex.lower())
        except RequestEntityTooLarge:
            raise PayloadTooLarge(f"file content larger than {request.max_content_length} bytes") from None
        except ClientDisconnected:
            logger.warning("upload of file %s broken off by the client", file_id.hex)
            raise
        except (ApiError, HTTPException, ValueError):
            raise
        except Exception:
            logger.exception("storing the content of file %s failed", file_id.hex)
            return ImportRequest.response_failed("internal error while storing the content; "
                                                 "see the target's log")
        return ImportRequest.response_continue_after_file()

    guard = meteor_app.requires_auth(["import"])
    routes.add_url_rule("" if routes.url_prefix else "/", "entities", guard(import_entities),
                        methods=["POST"])
    routes.add_url_rule("/data/<file_id_hex>/<md5_hex>", "file_data", guard(import_file_data),
                        methods=["POST"])
    meteor_app.app.register_blueprint(routes)
    if v2 and isinstance(handler, MeteorDatabaseImportReceiver):
        from meteorpi_server import importer_v2

        importer = importer_v2.add_routes(meteor_app, url_path, db=handler.db)
        max_future = meteor_app.settings["MPI_IMPORT_MAX_FUTURE_SECONDS"]
        importer.entity_policy = lambda user_id, entity, holds: check_import(handler.db, user_id, entity, max_future, holds)


def _dispatch(handler: BaseImportReceiver, import_request: ImportRequest) -> Response:
    """Run the receiver for the entity's type, turning errors into ``failed`` answers."""
    receive, default = {
        "event": (handler.receive_event, import_request.response_complete),
        "file": (handler.receive_file_record, import_request.response_complete),
        "status": (handler.receive_status, import_request.response_continue),
    }[import_request.entity_type]
    try:
        answer = receive(import_request)
    except ValueError as error:
        return import_request.response_failed(str(error))
    except Exception:
        logger.exception("import of %s %s failed", import_request.entity_type,
                         import_request.entity_id.hex)
        return import_request.response_failed("internal error while importing; see the target's log")
    return default() if answer is None else answer


__all__ = [
    "BaseImportReceiver",
    "ImportRequest",
    "MeteorDatabaseImportReceiver",
    "add_routes",
]
