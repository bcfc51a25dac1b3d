"""The sending side of replication protocol v2: one batch of claimed tasks in two requests.

1. ``POST <target>/v2/manifest``: the batch's entities, status blocks and files (id, MD5,
   size). The target answers which entities it already holds (their tasks are completed without
   sending anything) and which status blocks and content it lacks.
2. ``POST <target>/v2/batch``: one streamed body (:mod:`meteorpi_fdb.batch_stream`) with the
   lacking status blocks, the lacking content read from disk as it is sent, and the entities.
   The target answers per entity; the completed tasks are completed in one transaction.

The upload honours the configuration's bandwidth limit and stops at the end of its upload
window or at the run's deadline; content the target verified before a cut stays there, so the
next attempt sends only the rest. Whether a target speaks v2 is learnt from
``GET <target>/capabilities`` (404 or 405 from a 2015 target: speak 2015).
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any, BinaryIO, Callable

import requests

import meteorpi_model as model
from meteorpi_fdb import batch_stream
from meteorpi_fdb._export_settings import ExportSettings
from meteorpi_fdb._http_answer import AnswerError, error_text, post_for_object

logger = logging.getLogger("meteorpi.db.export")

#: How long a target's answer to ``/capabilities`` is trusted, in seconds.
CAPABILITIES_TTL = 600.0
_CHUNK = 256 * 1024


class BatchFailed(Exception):
    """The whole batch failed (network, HTTP error, malformed answer); ``retryable`` when the
    connection broke (a restarted target, a cut link), which a new attempt resumes."""

    def __init__(self, message: str, retryable: bool = False) -> None:
        super().__init__(message)
        self.retryable = retryable


class ProtocolGone(Exception):
    """The target no longer offers v2 (answered 404/405): speak 2015 to it instead."""


class Interrupted(Exception):
    """The upload stopped at the end of the upload window or at the run's deadline."""


class Capabilities:
    """Which targets speak v2, learnt once per target and user, for :data:`CAPABILITIES_TTL`."""

    def __init__(self) -> None:
        self._known: dict[tuple[str, str], tuple[float, bool]] = {}
        self._lock = threading.Lock()
        self._unreported = 0

    def speaks_v2(self, session: requests.Session, url: str, auth: tuple[str, str], verify: Any,
                  timeout: Any) -> bool:
        """True if the target offers v2; False for a 2015 target. BatchFailed if it cannot tell."""
        key = (url, auth[0])
        with self._lock:
            known = self._known.get(key)
        if known is not None and time.monotonic() - known[0] < CAPABILITIES_TTL:
            return known[1]
        with self._lock:
            self._unreported += 1
        try:
            response = session.get(f"{url.rstrip('/')}/capabilities", auth=auth, timeout=timeout, verify=verify)
        except requests.RequestException as error:
            raise BatchFailed(f"cannot reach {url}: {error}") from None
        with response:
            if response.status_code in (404, 405):
                speaks = False
            elif response.status_code != 200:
                raise BatchFailed(f"HTTP {response.status_code} from {url}/capabilities: {error_text(response)}")
            else:
                try:
                    speaks = "v2" in response.json().get("protocols", [])
                except (ValueError, AttributeError):
                    speaks = False
        with self._lock:
            self._known[key] = (time.monotonic(), speaks)
        return speaks

    def take_requests(self) -> int:
        """Requests made since the last call (so that they are counted somewhere)."""
        with self._lock:
            count, self._unreported = self._unreported, 0
        return count

    def forget(self, url: str, user: str) -> None:
        with self._lock:
            self._known.pop((url, user), None)


class RateLimiter:
    """Paces an upload to ``bytes_per_second`` (None: no limit), across the batches of a run."""

    BURST_SECONDS = 0.05

    def __init__(self, bytes_per_second: int | None) -> None:
        self.rate = bytes_per_second
        self._due = 0.0

    @property
    def chunk_size(self) -> int:
        if self.rate is None:
            return _CHUNK
        return max(1024, min(_CHUNK, self.rate // 20))

    def spend(self, count: int) -> None:
        """Wait until ``count`` more bytes may go."""
        if self.rate is None or count <= 0:
            return
        now = time.monotonic()
        self._due = max(self._due, now - self.BURST_SECONDS) + count / self.rate
        if self._due > now:
            time.sleep(self._due - now)


@dataclass
class _Piece:
    header: bytes
    open: Callable[[], BinaryIO] | None = None  # the content that follows the header
    size: int = 0
    name: str = ""


@dataclass
class BatchBody:
    """A batch request body produced while it is sent: ``read()`` returns header lines and file
    content (read from disk in chunks), paced by ``limiter``; ``len()`` is known up front."""

    pieces: list[_Piece]
    limiter: RateLimiter
    keep_going: Callable[[], bool]
    on_progress: Callable[[int], None] = lambda n: None
    sent: int = 0
    _index: int = 0
    _offset: int = 0
    _file: Any = None
    _length: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        self._length = len(batch_stream.MAGIC) + sum(len(p.header) + p.size for p in self.pieces)
        self.pieces = [_Piece(batch_stream.MAGIC)] + self.pieces

    def __len__(self) -> int:
        return self._length

    def read(self, size: int = -1) -> bytes:
        if not self.keep_going():
            self.close()
            raise Interrupted("the upload window ended or the deadline passed")
        limit = self.limiter.chunk_size if size is None or size < 0 else min(size, self.limiter.chunk_size)
        out = bytearray()
        while len(out) < limit and self._index < len(self.pieces):
            piece = self.pieces[self._index]
            if self._offset < len(piece.header):
                take = piece.header[self._offset:self._offset + limit - len(out)]
                out += take
                self._offset += len(take)
                continue
            done = self._offset - len(piece.header)
            if piece.open is not None and done < piece.size:
                if self._file is None:
                    self._file = piece.open()
                chunk = self._file.read(min(limit - len(out), piece.size - done))
                if not chunk:
                    raise BatchFailed(f"the content of file {piece.name} became shorter while it was sent")
                out += chunk
                self._offset += len(chunk)
                continue
            if self._file is not None:
                self._file.close()
                self._file = None
            self._index += 1
            self._offset = 0
        self.limiter.spend(len(out))
        self.sent += len(out)
        self.on_progress(len(out))
        return bytes(out)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


@dataclass
class BatchResult:
    """What became of one batch: per task, ``(state, message, content bytes sent for it)``."""

    outcomes: dict[tuple[str, uuid.UUID], tuple[str, str | None, int]] = field(default_factory=dict)
    requests: int = 0
    bytes_sent: int = 0


class TargetClient:
    """POSTs to one v2 target (paths relative to its import URL), counting requests; every
    error is a :class:`BatchFailed`, a 404/405 a :class:`ProtocolGone`."""

    def __init__(self, session: requests.Session, url: str, auth: tuple[str, str], verify: Any,
                 timeout: Any) -> None:
        self.session, self.url, self.auth, self.verify, self.timeout = session, url.rstrip("/"), auth, verify, timeout
        self.requests = 0

    def post_json(self, path: str, body: dict) -> dict:
        return self.post(path, json=body)

    def post(self, path: str, **kwargs: Any) -> dict:
        url = f"{self.url}/{path}"
        self.requests += 1
        try:
            return post_for_object(self.session, url, self.auth, self.timeout, self.verify, **kwargs)
        except AnswerError as error:
            if error.status in (404, 405):
                raise ProtocolGone(f"{url} answered {error.status}") from None
            if error.transport and _caused_by_interruption(error.__cause__):
                raise Interrupted(str(error)) from None
            raise BatchFailed(str(error), retryable=error.transport or error.status in (502, 503, 504)) from None


def _caused_by_interruption(error: BaseException) -> bool:
    seen = 0
    current: BaseException | None = error
    while current is not None and seen < 10:
        if isinstance(current, Interrupted) or any(isinstance(arg, Interrupted) for arg in current.args):
            return True
        current = current.__cause__ or current.__context__
        seen += 1
    return False


class V2Batch:
    """Sends one claimed batch of tasks (all of one configuration) to a v2 target."""

    def __init__(self, exporter: Any, tasks: list, settings: ExportSettings, limiter: RateLimiter,
                 keep_going: Callable[[], bool], on_progress: Callable[[int], None] = lambda n: None) -> None:
        task = tasks[0]
        self.exporter = exporter
        self.db = exporter.db
        self.tasks = tasks
        self.settings = settings
        self.limiter = limiter
        self.keep_going = keep_going
        self.on_progress = on_progress
        self.target = TargetClient(exporter._session(task.target_url), task.target_url,
                                   (task.target_user, task.target_password or ""),
                                   exporter._verify_for(task), exporter.timeout)
        self.result = BatchResult()
        self.claimed_at = time.monotonic()

    def run(self) -> BatchResult:
        entities = {}
        loaded = self.db.export_task_entities(self.tasks)
        for task in self.tasks:
            key = (task.entity_type, task.entity_id)
            entity = loaded.get(key)
            if entity is None:
                logger.info("%s %s was deleted before it could be exported", task.entity_type, task.entity_id.hex)
                self.result.outcomes[key] = ("complete", None, 0)
                continue
            problem = self._local_problem(task.entity_type, entity)
            if problem:
                self.result.outcomes[key] = ("failed", problem, 0)
            else:
                entities[key] = entity
        if not entities:
            return self.result
        answer = self._manifest(entities)
        held = set(answer["entities_held"])
        for key in list(entities):
            if key[1].hex in held:
                self.result.outcomes[key] = ("complete", None, 0)
                del entities[key]
        if entities:
            self._send(entities, set(answer["statuses_lacking"]), set(answer["content_lacking"]))
        return self.result

    def _local_problem(self, entity_type: str, entity: Any) -> str | None:
        records = entity.file_records if entity_type == "event" else [entity]
        for record in records:
            if record.md5 is None:
                return f"file {record.file_id.hex} has no MD5"
            found = self.db.file_store.stat(record.file_id)
            if found is None:
                return f"the content of file {record.file_id.hex} is not on this node"
            size = found.size
            if size != record.file_size:
                return (f"the content of file {record.file_id.hex} on this node has {size} bytes, "
                        f"its record says {record.file_size}")
        return None

    def _manifest(self, entities: dict) -> dict[str, Any]:
        statuses, files = set(), {}
        for (entity_type, _id), entity in entities.items():
            records = entity.file_records if entity_type == "event" else [entity]
            statuses.add(entity.status_id.hex)
            for record in records:
                statuses.add(record.status_id.hex)
                files[record.file_id.hex] = {"id": record.file_id.hex, "md5": record.md5, "size": record.file_size}
        body = {"entities": [{"type": t, "id": i.hex} for t, i in entities],
                "statuses": sorted(statuses), "files": list(files.values())}
        answer = self._post_json("v2/manifest", body)
        for key in ("entities_held", "statuses_lacking", "content_lacking"):
            if not isinstance(answer.get(key), list):
                raise BatchFailed(f"the manifest answer from {self.target.url} has no list {key}")
        return answer

    def _send(self, entities: dict, statuses_lacking: set[str], content_lacking: set[str]) -> None:
        pieces: list[_Piece] = []
        for status_hex in sorted(statuses_lacking):
            status = self.db.get_camera_status_by_id(status_hex)
            if status is None:
                raise BatchFailed(f"camera status {status_hex} is not on this node")
            pieces.append(_Piece(batch_stream.frame("status", status=status.as_dict())))
        carried: dict[tuple[str, uuid.UUID], int] = {}
        sent_files: set[str] = set()
        for key, entity in entities.items():
            entity_type = key[0]
            records = entity.file_records if entity_type == "event" else [entity]
            carried[key] = 0
            for record in records:
                if record.file_id.hex in content_lacking and record.file_id.hex not in sent_files:
                    sent_files.add(record.file_id.hex)
                    pieces.append(_Piece(batch_stream.content_header(record.file_id, record.md5, record.file_size),
                                         partial(self.db.file_store.open, record.file_id), record.file_size,
                                         record.file_id.hex))
                    carried[key] += record.file_size
            pieces.append(_Piece(batch_stream.frame(entity_type, **{entity_type: entity.as_dict()})))
        pieces.append(_Piece(batch_stream.frame("end", frames=len(pieces))))
        body = BatchBody(pieces, self.limiter, self._keep_going, self.on_progress)
        try:
            answer = self._post("v2/batch", data=body, headers={"Content-Type": batch_stream.CONTENT_TYPE})
        finally:
            body.close()
            self.result.bytes_sent += body.sent
        results = answer.get("results")
        if not isinstance(results, list) or len(results) != len(entities):
            raise BatchFailed(f"the batch answer from {self.target.url} does not have one result per entity")
        for (key, _entity), item in zip(entities.items(), results):
            if not isinstance(item, dict) or item.get("id") != key[1].hex:
                raise BatchFailed(f"the batch answer from {self.target.url} does not match the batch")
            state = item.get("state")
            if state == "complete":
                self.result.outcomes[key] = ("complete", None, carried[key])
            elif state == "failed":
                self.result.outcomes[key] = ("failed", f"the target refused: {item.get('message', 'no message')}",
                                             carried[key])
            else:
                self.result.outcomes[key] = ("confused", f"unexpected answer from the target: {str(item)[:200]}",
                                             carried[key])

    def _keep_going(self) -> bool:
        """Renew the claims during long uploads (they are leases); False to stop the upload."""
        lease = self.exporter.claim_lease_seconds
        if time.monotonic() - self.claimed_at > lease / 2:
            self.db.defer_export_task_list(self.tasks, lease)
            self.claimed_at = time.monotonic()
        return self.keep_going()

    def _post_json(self, path: str, body: dict) -> dict:
        return self._post(path, json=body)

    def _post(self, path: str, **kwargs: Any) -> dict:
        try:
            return self.target.post(path, **kwargs)
        finally:
            self.result.requests = self.target.requests


@dataclass
class VerifyReport:
    """What ``verify`` found for one configuration."""

    config_id: uuid.UUID
    entities: int = 0
    nights: int = 0
    nights_differing: int = 0
    lacking: int = 0
    requeued: int = 0
    requests: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {"config_id": self.config_id.hex, "entities": self.entities, "nights": self.nights,
                "nights_differing": self.nights_differing, "lacking": self.lacking,
                "requeued": self.requeued, "requests": self.requests}


def verify(exporter: Any, config: model.ExportConfiguration, when: datetime | None = None) -> VerifyReport:
    """Compare what ``config`` has completed with what its target holds (per-night digests
    first, ids only where they differ) and re-queue what the target lacks."""
    from meteorpi_fdb._replication_digest import digest

    report = VerifyReport(config.config_id)
    session = exporter._session(config.target_url)
    auth = (config.user_id, config.password or "")
    verify_tls = config.ca_bundle or exporter._default_verify()
    url = config.target_url.rstrip("/")
    if not exporter.capabilities.speaks_v2(session, url, auth, verify_tls, exporter.timeout):
        raise ValueError(f"the target {url} speaks only the 2015 protocol, which cannot verify")
    report.requests += exporter.capabilities.take_requests()
    exported = exporter.db.exported_by_night(config.config_id)
    report.entities = sum(len(ids) for ids in exported.values())
    report.nights = len(exported)
    runner = TargetClient(session, url, auth, verify_tls, exporter.timeout)
    keys = sorted(exported)
    differing: list[tuple[str, str]] = []
    for start in range(0, len(keys), 500):
        chunk = keys[start:start + 500]
        answer = runner.post_json("v2/digest", {"type": config.type, "nights": [
            {"camera_id": camera, "night": night, "digest": digest(exported[(camera, night)])}
            for camera, night in chunk]})
        differing += [(item["camera_id"], item["night"]) for item in answer.get("differing", [])
                      if isinstance(item, dict)]
    report.nights_differing = len(differing)
    candidates = [uuid.UUID(hex=entity_id) for key in differing if key in exported for entity_id in exported[key]]
    lacking: list[uuid.UUID] = []
    for start in range(0, len(candidates), 2000):
        chunk = candidates[start:start + 2000]
        answer = runner.post_json("v2/manifest", {"entities": [{"type": config.type, "id": c.hex} for c in chunk]})
        held = set(answer.get("entities_held", []))
        lacking += [c for c in chunk if c.hex not in held]
    report.lacking = len(lacking)
    if lacking:
        report.requeued = exporter.db.requeue_export_entities(config.config_id, config.type, lacking)
        logger.warning("verify: the target of export configuration %s lacks %d %s(s); re-queued",
                       config.config_id.hex, len(lacking), config.type)
    report.requests += runner.requests
    exporter.db.record_export_verified(config.config_id, when)
    return report
