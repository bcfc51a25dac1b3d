"""``MeteorExporter``: the sending side of replication (SPEC section 8).

The exporter claims one task at a time from the database's export queue
(``get_next_entity_to_export``), POSTs the entity to the configuration's ``target_url`` and
answers whatever the target asks for - a camera status block, a file's content - until the
target says ``complete`` (the task is marked done), ``failed``, or something the exporter does
not understand. A failure of the target or the connection counts against the configuration,
defers all its pending tasks and, after ``max_failures_before_disable`` failures in a row,
disables it. A failure that concerns one entity only - the target refuses it (``failed``, HTTP
400/413/422), or its content or status is missing or corrupt on this node - defers that task
alone: one bad entity never holds back the others or disables the configuration.

Every request has a timeout; network errors, HTTP errors and answers that are not JSON are
failures, never exceptions out of :meth:`MeteorExporter.handle_next_export`. A task is given a
bounded number of round trips, so a target that keeps asking for the same data cannot hold the
exporter in a loop. File content is streamed from disk, never read whole into memory.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Callable
from urllib.parse import urlsplit

import requests
from apscheduler.schedulers.background import BackgroundScheduler
from requests_toolbelt import MultipartEncoder

import meteorpi_model as model
from meteorpi_fdb._export import CLAIM_LEASE_SECONDS

logger = logging.getLogger("meteorpi.db.export")

#: (connect, read) timeout of every request to a target, in seconds.
DEFAULT_TIMEOUT = (10.0, 120.0)
#: Round trips allowed for a task, plus ``ROUND_TRIPS_PER_FILE`` for each file it carries.
DEFAULT_MAX_ROUND_TRIPS = 10
ROUND_TRIPS_PER_FILE = 4
#: How often a target may ask for the same status block or file content within one task.
MAX_REQUESTS_FOR_SAME_DATA = 2
#: HTTP statuses by which a target refuses one entity (bad or oversized input), not the exporter.
REFUSALS = frozenset({400, 413, 422})
_JOB_ID = "meteorpi-export"


class _Failed(Exception):
    """The task failed: unreachable target, HTTP error, refusal, round-trip bound, ..."""


class _Refused(_Failed):
    """This entity alone failed: the target refused it, or this node cannot send it whole."""


class _Confused(Exception):
    """The target gave an answer outside the protocol."""


@dataclass
class ExportSummary:
    """What one :meth:`MeteorExporter.run_once` did."""

    marked: int = 0
    complete: int = 0
    failed: int = 0
    confused: int = 0
    requests: int = 0
    bytes_sent: int = 0
    seconds: float = 0.0
    disabled: list[uuid.UUID] = field(default_factory=list)

    @property
    def tasks(self) -> int:
        """Tasks handled, whatever their outcome."""
        return self.complete + self.failed + self.confused


class MeteorExporter:
    """Sends queued export tasks to their targets' import APIs, with back-off on failure.

    :param db: the ``MeteorDatabase`` holding the entities, configurations and export queue
    :param mark_interval_seconds: pause between the end of one scheduled mark-and-export round
        and the start of the next
    :param max_failures_before_disable: failures in a row after which a configuration is disabled
    :param defer_on_failure_seconds: how far a failure pushes back the configuration's pending tasks
    :param scheduler: an APScheduler scheduler; default a non-daemon ``BackgroundScheduler``,
        created but not started (see :meth:`start`)
    :param timeout: (connect, read) timeout of every HTTP request, in seconds
    :param max_round_trips: round trips allowed for a task (plus a few per file it carries)
    :param claim_lease_seconds: how long a claimed task stays reserved for this exporter
    :ivar scheduler: the scheduler running the regular export job
    """

    class ExportStateCache:
        """The state of one task's export.

        :ivar export_task: the ``EventExportTask`` / ``FileExportTask`` (None when finished)
        :ivar state: ``not_started``, then ``complete``, ``failed`` or ``confused``
        :ivar config_id: the task's export configuration
        :ivar entity_id: the event or file sent
        :ivar entity_type: ``'event'`` or ``'file'``
        :ivar round_trips: HTTP requests made for this task
        :ivar bytes_sent: file content uploaded for this task
        :ivar message: why the task failed, or None
        :ivar config_disabled: True if this failure disabled the configuration
        :ivar refused: True if the failure concerned this entity alone (the target refused it,
            or its content is missing or corrupt here): only this task was deferred, and the
            configuration's failure count was left alone
        """

        def __init__(self, export_task: Any, state: str = "not_started") -> None:
            self.export_task = export_task
            self.state = state
            self.config_id = getattr(export_task, "config_id", None)
            self.entity_id = getattr(export_task, "entity_id", None)
            self.entity_type = getattr(export_task, "entity_type", None)
            self.round_trips = 0
            self.bytes_sent = 0
            self.message: str | None = None
            self.config_disabled = False
            self.refused = False

        def __repr__(self) -> str:
            entity = self.entity_id.hex if self.entity_id else None
            return (f"ExportStateCache(state={self.state!r}, {self.entity_type}={entity}, "
                    f"round_trips={self.round_trips}, message={self.message!r})")

    def __init__(self, db: Any, mark_interval_seconds: float = 300,
                 max_failures_before_disable: int = 4, defer_on_failure_seconds: float = 1800,
                 scheduler: Any = None, *, timeout: float | tuple[float, float] = DEFAULT_TIMEOUT,
                 max_round_trips: int = DEFAULT_MAX_ROUND_TRIPS,
                 claim_lease_seconds: float = CLAIM_LEASE_SECONDS) -> None:
        if max_failures_before_disable < 1:
            raise ValueError("max_failures_before_disable must be at least 1")
        if max_round_trips < 2:
            raise ValueError("max_round_trips must be at least 2")
        self.db = db
        self.mark_interval_seconds = mark_interval_seconds
        self.max_failures_before_disable = max_failures_before_disable
        self.defer_on_failure_seconds = defer_on_failure_seconds
        self.timeout = timeout
        self.max_round_trips = max_round_trips
        self.claim_lease_seconds = claim_lease_seconds
        if scheduler is None:
            scheduler = BackgroundScheduler(daemon=False, job_defaults={
                "coalesce": True, "max_instances": 1, "misfire_grace_time": None})
        self.scheduler = scheduler
        self.requests_sent = 0
        self._counter_lock = threading.Lock()
        self._sessions = threading.local()
        self._stopping = threading.Event()
        # Configurations whose failure count this exporter reset during the current run or
        # round: later successes need no write (forgotten at the start of each run or round).
        self._clean_configs: set[uuid.UUID] = set()
        # One random multipart boundary per exporter: the target's form parser compiles a
        # regular expression per boundary, and a repeated one hits its cache.
        self._boundary = uuid.uuid4().hex
        # As in 2015, starting the scheduler is all it takes to run regular exports.
        self._add_job()

    # --- running -----------------------------------------------------------------------

    def mark_entities(self) -> int:
        """Queue new matches of every enabled configuration; return the number of tasks added."""
        added = 0
        for config in self.db.get_export_configurations():
            if not config.enabled:
                continue
            try:
                added += self.db.mark_entities_to_export(config)
            except Exception:
                logger.exception("marking entities for export configuration %s failed",
                                 config.config_id.hex)
        return added

    def run_once(self, progress: Callable[["MeteorExporter.ExportStateCache"], None] | None = None
                 ) -> ExportSummary:
        """Mark every enabled configuration, then export until nothing is due.

        :param progress: called with each task's :class:`ExportStateCache` once it is done
        :returns: an :class:`ExportSummary`
        """
        started = time.monotonic()
        self._clean_configs.clear()
        summary = ExportSummary(marked=self.mark_entities())
        failed_once: set[tuple] = set()
        while not self._stopping.is_set():
            state = self.handle_next_export()
            if state is None:
                break
            _add_to_summary(summary, state)
            if state.config_disabled:
                summary.disabled.append(state.config_id)
            if progress is not None:
                progress(state)
            if state.state != "complete":
                key = (state.config_id, state.entity_id)
                if key in failed_once:
                    break  # failures are not being deferred (defer_on_failure_seconds=0)
                failed_once.add(key)
        summary.seconds = time.monotonic() - started
        return summary

    def start(self) -> None:
        """Run a mark-and-export round now and then ``mark_interval_seconds`` after the previous
        one ends, on :attr:`scheduler` (started here if it is not running; starting the
        scheduler yourself does the same)."""
        self._stopping.clear()
        if self.scheduler.get_job(_JOB_ID) is None:
            self._add_job()
        if not self.scheduler.running:
            self.scheduler.start()

    def stop(self, wait: bool = True) -> None:
        """Stop after the task in hand and shut the scheduler down."""
        self._stopping.set()
        if self.scheduler.running:
            self.scheduler.shutdown(wait=wait)

    def _add_job(self) -> None:
        # One long-running job that sleeps between rounds: it never calls back into the
        # scheduler (which could deadlock with a shutdown) and never piles up instances.
        self.scheduler.add_job(self._run_rounds, "date", run_date=model.now(), id=_JOB_ID,
                               replace_existing=True, misfire_grace_time=None, coalesce=True,
                               max_instances=1)

    def _active(self) -> bool:
        """False once :meth:`stop` was called or the scheduler is shutting down."""
        return not self._stopping.is_set() and self.scheduler.running

    def _run_rounds(self) -> None:
        """Run rounds, each ``mark_interval_seconds`` after the previous one ended."""
        while self._active():
            self._scheduled_round()
            next_round = time.monotonic() + self.mark_interval_seconds
            while self._active() and (left := next_round - time.monotonic()) > 0:
                self._stopping.wait(min(left, 0.5))

    def _scheduled_round(self) -> None:
        """Mark and drain, again while a round found work, so new data does not wait."""
        try:
            while self._active():
                handled = 0
                self._clean_configs.clear()
                self.mark_entities()
                while self._active() and self.handle_next_export() is not None:
                    handled += 1
                if handled == 0:
                    break
        except Exception:
            logger.exception("export round failed")

    # --- one task ----------------------------------------------------------------------

    def handle_next_export(self) -> "MeteorExporter.ExportStateCache | None":
        """Claim the next due task and see it through to ``complete``, ``failed`` or
        ``confused`` (answering the target's requests for status blocks and content on the way).

        :returns: None if no task was due, else the task's :class:`ExportStateCache`
        """
        task = self.db.get_next_entity_to_export(lease_seconds=self.claim_lease_seconds)
        if task is None:
            return None
        state = self.ExportStateCache(task)
        try:
            state.state = self._export(state)
        except _Refused as error:
            state.state, state.message, state.refused = "failed", str(error), True
        except _Failed as error:
            state.state, state.message = "failed", str(error)
        except _Confused as error:
            state.state, state.message = "confused", str(error)
        except Exception as error:
            logger.exception("export of %s %s failed", state.entity_type, state.entity_id)
            state.state, state.message = "failed", f"{type(error).__name__}: {error}"
        with self._counter_lock:
            self.requests_sent += state.round_trips
        self._record_outcome(state)
        state.export_task = None
        return state

    def _export(self, state: "MeteorExporter.ExportStateCache") -> str:
        task = state.export_task
        try:
            entity = task.get_entity()
        except ValueError as error:  # a row this node cannot turn back into a model object
            raise _Refused(f"cannot read {task.entity_type} {task.entity_id.hex} here: {error}") from None
        if entity is None:
            logger.info("%s %s was deleted before it could be exported", task.entity_type, task.entity_id.hex)
            return "complete"
        conversation = _Conversation(self, state, entity)
        conversation.run()
        task.set_status(0)
        return "complete"

    def _record_outcome(self, state: "MeteorExporter.ExportStateCache") -> None:
        """Reset the failure count after a success; count, defer and maybe disable after a failure."""
        config_id = state.config_id
        try:
            if state.state == "complete":
                if config_id not in self._clean_configs:
                    self.db.reset_export_failures(config_id)
                    self._clean_configs.add(config_id)
                return
            logger.warning("export of %s %s to configuration %s %s: %s", state.entity_type,
                           state.entity_id.hex, config_id.hex, state.state, state.message)
            if state.refused:
                state.export_task.defer(self.defer_on_failure_seconds)
                return
            self._clean_configs.discard(config_id)
            failures = self.db.record_export_failure(config_id)
            self.db.defer_export_tasks(config_id, self.defer_on_failure_seconds)
            state.export_task.defer(self.defer_on_failure_seconds)
            if failures >= self.max_failures_before_disable:
                self.db.set_export_configuration_enabled(config_id, False)
                state.config_disabled = True
                logger.warning("export configuration %s disabled after %d failures", config_id.hex, failures)
        except Exception:
            logger.exception("could not record the outcome of exporting %s %s", state.entity_type,
                             state.entity_id.hex)

    def _session(self, target_url: str) -> requests.Session:
        """A keep-alive session for the target's host, one per thread."""
        sessions = getattr(self._sessions, "by_target", None)
        if sessions is None:
            sessions = self._sessions.by_target = {}
        parts = urlsplit(target_url)
        key = (parts.scheme, parts.netloc)
        session = sessions.get(key)
        if session is None:
            session = sessions[key] = requests.Session()
            # Read the proxy settings from the environment once, not on every request.
            session.trust_env = False
            session.proxies.update(requests.utils.get_environ_proxies(target_url))
        return session

    def close(self) -> None:
        """Close this thread's HTTP sessions."""
        for session in getattr(self._sessions, "by_target", {}).values():
            session.close()
        self._sessions.by_target = {}


class _Conversation:
    """The exchange with the target for one task, until ``complete`` or an exception."""

    def __init__(self, exporter: MeteorExporter, state: MeteorExporter.ExportStateCache, entity: Any) -> None:
        task = state.export_task
        self.exporter = exporter
        self.db = exporter.db
        self.state = state
        self.task = task
        self.url = task.target_url
        self.session = exporter._session(task.target_url)
        self.auth = (task.target_user, task.target_password or "")
        self.verify: bool | str = task.ca_bundle or _default_ca_bundle() or True
        self.full = {"type": task.entity_type, task.entity_type: entity.as_dict()}
        self.short = {"type": "cached_entity", "cached_entity_id": task.entity_id.hex}
        records = entity.file_records if task.entity_type == "event" else [entity]
        self.files = {record.file_id: record for record in records}
        self.status_ids = {entity.status_id} | {record.status_id for record in records}
        self.budget = exporter.max_round_trips + ROUND_TRIPS_PER_FILE * len(self.files)
        self.asked: Counter = Counter()
        self.claimed_at = time.monotonic()

    def run(self) -> None:
        message = self.full
        while True:
            answer = self.post_json(message)
            kind = answer.get("state")
            if kind == "complete":
                return
            if kind == "need_status":
                message = self.after_request(self.send_status(answer.get("status_id")))
            elif kind == "need_file_data":
                message = self.after_request(self.send_file(answer.get("file_id")))
            else:
                message = self.after_request(answer)

    def after_request(self, answer: dict) -> dict:
        """The entity message to send after an answer of ``continue`` or ``continue-nocache``."""
        kind = answer.get("state")
        if kind in ("continue", "complete"):
            return self.short
        if kind == "continue-nocache":
            return self.full
        if kind == "failed":
            raise _Refused(f"the target refused: {answer.get('message', 'no message')}")
        raise _Confused(f"unexpected answer from the target: {str(answer)[:200]}")

    def send_status(self, status_id: Any) -> dict:
        status_id = self.requested(status_id, "status_id", self.status_ids)
        status = self.db.get_camera_status_by_id(status_id)
        if status is None:
            raise _Refused(f"camera status {status_id.hex} is not on this node")
        return self.post_json({"type": "status", "status": status.as_dict()})

    def send_file(self, file_id: Any) -> dict:
        file_id = self.requested(file_id, "file_id", self.files)
        record = self.files[file_id]
        path = self.db.file_path_for_id(file_id)
        if record.md5 is None or not os.path.isfile(path):
            raise _Refused(f"the content of file {file_id.hex} is not on this node")
        self.renew_claim()
        url = f"{self.url.rstrip('/')}/data/{file_id.hex}/{record.md5}"
        with open(path, "rb") as content:
            encoder = MultipartEncoder(fields={"file": (file_id.hex, content, "application/octet-stream")},
                                       boundary=self.exporter._boundary)
            answer = self.post(url, data=encoder, headers={"Content-Type": encoder.content_type})
            self.state.bytes_sent += encoder.len
        return answer

    def requested(self, value: Any, field: str, allowed: Any) -> uuid.UUID:
        """The id the target asked for, which must belong to this task and not be asked too often."""
        try:
            wanted = model.parse_uuid(value, field)
        except ValueError as error:
            raise _Confused(f"the target asked for something malformed: {error}") from None
        if wanted not in allowed:
            raise _Failed(f"the target asked for {field} {wanted.hex}, which this "
                          f"{self.task.entity_type} does not refer to")
        self.asked[wanted] += 1
        if self.asked[wanted] > MAX_REQUESTS_FOR_SAME_DATA:
            raise _Refused(f"the target asked for {field} {wanted.hex} {self.asked[wanted]} times; "
                           "giving up (corrupt content on this node, or a broken target)")
        return wanted

    def renew_claim(self) -> None:
        """Keep the task reserved during long uploads (the claim is a lease)."""
        lease = self.exporter.claim_lease_seconds
        if time.monotonic() - self.claimed_at > lease / 2:
            self.task.defer(lease)
            self.claimed_at = time.monotonic()

    def post_json(self, message: dict) -> dict:
        return self.post(self.url, json=message)

    def post(self, url: str, **kwargs: Any) -> dict:
        """POST within the round-trip budget; the JSON answer, or _Failed for any error."""
        if self.state.round_trips >= self.budget:
            raise _Failed(f"gave up after {self.state.round_trips} round trips")
        self.state.round_trips += 1
        try:
            response = self.session.post(url, auth=self.auth, timeout=self.exporter.timeout,
                                         verify=self.verify, **kwargs)
        except requests.Timeout:
            raise _Failed(f"no answer from {url} within {self.exporter.timeout} s") from None
        except requests.RequestException as error:
            raise _Failed(f"cannot reach {url}: {error}") from None
        with response:
            if response.status_code != 200:
                failure = _Refused if response.status_code in REFUSALS else _Failed
                raise failure(f"HTTP {response.status_code} from {url}: {_error_text(response)}")
            try:
                answer = response.json()
            except ValueError:
                raise _Failed(f"the answer from {url} is not JSON") from None
        if not isinstance(answer, dict):
            raise _Confused(f"the answer from {url} is not a JSON object")
        return answer


def _default_ca_bundle() -> str | None:
    """The CA bundle named by the environment, as requests itself would use it."""
    return os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or None


def _error_text(response: requests.Response) -> str:
    try:
        message = response.json().get("message")
    except (ValueError, AttributeError):
        message = None
    return str(message) if message else (response.reason or "no reason given")


def _add_to_summary(summary: ExportSummary, state: MeteorExporter.ExportStateCache) -> None:
    if state.state == "complete":
        summary.complete += 1
    elif state.state == "confused":
        summary.confused += 1
    else:
        summary.failed += 1
    summary.requests += state.round_trips
    summary.bytes_sent += state.bytes_sent
