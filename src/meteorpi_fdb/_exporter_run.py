"""``MeteorExporter``: the sending side of replication (SPEC section 8, and protocol v2).

Whenever a configuration's target speaks protocol v2 (:mod:`meteorpi_fdb._exporter_v2`, learnt
from ``GET <target>/capabilities``), the exporter claims a batch of that configuration's tasks
and sends it in two requests (:meth:`MeteorExporter.handle_next_batch`). Otherwise, and for
2015 targets, it claims one task at a time from the database's export queue
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
from datetime import datetime, timedelta
from typing import Any, Callable
from urllib.parse import urlsplit

import requests
from apscheduler.schedulers.background import BackgroundScheduler
from requests_toolbelt import MultipartEncoder

import meteorpi_model as model
from meteorpi_fdb import _exporter_v2 as v2
from meteorpi_fdb._export import CLAIM_LEASE_SECONDS
from meteorpi_fdb._export_settings import PROTOCOLS, ExportSettings
from meteorpi_fdb._http_answer import AnswerError, post_for_object

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
#: Attempts at a v2 batch whose connection breaks (each resumes the one before), and the pause
#: before the next attempt (times the attempt number), in seconds.
BATCH_ATTEMPTS = 3
RESUME_PAUSE_SECONDS = 0.5
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
    :param protocol: ``auto``, ``2015`` or ``v2`` for every configuration; default None: each
        configuration's own setting (:class:`~meteorpi_fdb._export_settings.ExportSettings`,
        ``auto`` unless changed), where ``auto`` means v2 when the target offers it
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
                 claim_lease_seconds: float = CLAIM_LEASE_SECONDS, protocol: str | None = None) -> None:
        if protocol is not None and protocol not in PROTOCOLS:
            raise ValueError(f"protocol must be one of {', '.join(PROTOCOLS)}")
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
        self.protocol = protocol
        self.capabilities = v2.Capabilities()
        self._limiters: dict[uuid.UUID, v2.RateLimiter] = {}
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

    def run_once(self, progress: Callable[["MeteorExporter.ExportStateCache"], None] | None = None,
                 deadline: datetime | None = None, on_bytes: Callable[[int], None] | None = None
                 ) -> ExportSummary:
        """Mark every enabled configuration, then export until nothing is due (in v2 batches
        where the target speaks v2). Configurations outside their upload window are left for
        later; nothing is started after ``deadline``, and an upload in flight stops there.

        :param progress: called with each task's :class:`ExportStateCache` once it is done
        :param deadline: an aware datetime by which to stop, or None
        :param on_bytes: called with the number of bytes of each piece of upload sent (v2)
        :returns: an :class:`ExportSummary`
        """
        started = time.monotonic()
        self._clean_configs.clear()
        summary = ExportSummary(marked=self.mark_entities())
        failed_once: set[tuple] = set()
        skip: set[uuid.UUID] = set()
        while not self._stopping.is_set():
            states = self.handle_next_batch(deadline=deadline, skip=skip, on_bytes=on_bytes)
            if states is None:
                break
            repeated = False
            for state in states:
                _add_to_summary(summary, state)
                if state.config_disabled:
                    summary.disabled.append(state.config_id)
                if progress is not None:
                    progress(state)
                if state.state != "complete":
                    key = (state.config_id, state.entity_id)
                    repeated |= key in failed_once
                    failed_once.add(key)
            if repeated:
                break  # failures are not being deferred (defer_on_failure_seconds=0)
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
                skip: set[uuid.UUID] = set()
                while self._active() and (states := self.handle_next_batch(skip=skip)) is not None:
                    handled += len(states)
                if handled == 0:
                    break
            self.verify_due()
        except Exception:
            logger.exception("export round failed")

    # --- one task ----------------------------------------------------------------------

    def handle_next_export(self) -> "MeteorExporter.ExportStateCache | None":
        """Claim the next due task and see it through to ``complete``, ``failed`` or
        ``confused`` (answering the target's requests for status blocks and content on the way;
        as a v2 batch of one when the target speaks v2).

        :returns: None if no task was due, else the task's :class:`ExportStateCache`
        """
        task = self.db.get_next_entity_to_export(lease_seconds=self.claim_lease_seconds)
        if task is None:
            return None
        settings = self.db.get_export_settings(task.config_id)
        if self._speaks_v2(task, settings):
            states = self._export_batch([task], settings, lambda: True, None)
            if states:
                return states[0]
            task = self.db.get_next_entity_to_export(lease_seconds=self.claim_lease_seconds)
            if task is None:
                return None
        return self._handle_task(task)

    def handle_next_batch(self, deadline: datetime | None = None, skip: set[uuid.UUID] | None = None,
                          on_bytes: Callable[[int], None] | None = None,
                          ) -> "list[MeteorExporter.ExportStateCache] | None":
        """Claim and export the next batch of due tasks of one configuration: a v2 batch when
        its target speaks v2, else one task over the 2015 protocol.

        Configurations outside their upload window, or in ``skip``, are passed over; so is
        everything once ``deadline`` has passed. A configuration whose upload was stopped by its
        window or the deadline is added to ``skip``.

        :returns: None when nothing (eligible) is due, else the states of the batch's tasks
            (possibly empty when another exporter claimed them first)
        """
        skip = set() if skip is None else skip
        now = model.now()
        if deadline is not None and now >= deadline:
            return None
        for config_id in self.db.due_export_configs():
            if config_id in skip:
                continue
            try:
                settings = self.db.get_export_settings(config_id)
            except ValueError:
                continue  # deleted meanwhile
            if not settings.in_window(now):
                skip.add(config_id)
                continue

            def keep_going() -> bool:
                moment = model.now()
                return not self._stopping.is_set() and settings.in_window(moment) and (
                    deadline is None or moment < deadline)

            config = self.db.get_export_configuration(config_id)
            if config is not None and self._speaks_v2(config, settings):
                tasks = self.db.claim_export_batch(config_id, settings.batch_entities, settings.batch_bytes,
                                                   lease_seconds=self.claim_lease_seconds)
                states = self._export_batch(tasks, settings, keep_going, on_bytes)
                if states is None:
                    skip.add(config_id)
                    return []
                return states
            tasks = self.db.claim_export_batch(config_id, 1, 1, lease_seconds=self.claim_lease_seconds)
            return [self._handle_task(task) for task in tasks]
        return None

    def _speaks_v2(self, config_or_task: Any, settings: ExportSettings) -> bool:
        """Whether to use v2 for this configuration (asking its target when ``auto``)."""
        protocol = self.protocol or settings.protocol
        if protocol == "2015":
            return False
        if protocol == "v2":
            return True
        if isinstance(config_or_task, model.ExportConfiguration):
            url, user, password = config_or_task.target_url, config_or_task.user_id, config_or_task.password
        else:
            url, user, password = config_or_task.target_url, config_or_task.target_user, config_or_task.target_password
        try:
            return self.capabilities.speaks_v2(self._session(url), url, (user, password or ""),
                                               config_or_task.ca_bundle or self._default_verify(), self.timeout)
        except v2.BatchFailed:
            return False  # the 2015 exchange reports the failure with its usual message

    def _export_batch(self, tasks: list, settings: ExportSettings, keep_going: Callable[[], bool],
                      on_bytes: Callable[[int], None] | None) -> "list[MeteorExporter.ExportStateCache] | None":
        """Send claimed tasks as one v2 batch and record the outcomes; None if the upload was
        stopped by the window or deadline (the tasks are released)."""
        if not tasks:
            return []
        config_id = tasks[0].config_id
        limiter = self._limiters.get(config_id)
        if limiter is None or limiter.rate != settings.bwlimit:
            limiter = self._limiters[config_id] = v2.RateLimiter(settings.bwlimit)
        failure: str | None = None
        requests_made = bytes_made = 0
        for attempt in range(1, BATCH_ATTEMPTS + 1):
            batch = v2.V2Batch(self, tasks, settings, limiter, keep_going, on_bytes or (lambda n: None))
            try:
                result = batch.run()
                break
            except v2.Interrupted:
                self.db.defer_export_task_list(tasks, 0)
                logger.info("upload to %s stopped by its window or deadline", tasks[0].target_url)
                return None
            except v2.ProtocolGone as error:
                self.capabilities.forget(tasks[0].target_url.rstrip("/"), tasks[0].target_user)
                self.db.defer_export_task_list(tasks, 0)
                logger.warning("the target no longer offers protocol v2 (%s); falling back to 2015", error)
                return []
            except v2.BatchFailed as error:
                result, failure = batch.result, str(error)
                if not error.retryable or attempt == BATCH_ATTEMPTS or not keep_going():
                    break
                # A broken connection: the next attempt's manifest finds what already arrived.
                logger.info("batch to %s broken off (%s); resuming", tasks[0].target_url, error)
                requests_made += batch.result.requests
                bytes_made += batch.result.bytes_sent
                failure = None
                time.sleep(RESUME_PAUSE_SECONDS * attempt)
            except Exception as error:
                logger.exception("export batch to %s failed", tasks[0].target_url)
                result, failure = batch.result, f"{type(error).__name__}: {error}"
                break
        result.requests += requests_made
        states = []
        for task in tasks:
            state = self.ExportStateCache(task)
            state.state, state.message, state.bytes_sent = result.outcomes.get(
                (task.entity_type, task.entity_id), ("failed", failure or "no answer for this entity", 0))
            states.append(state)
        states[0].round_trips = result.requests + self.capabilities.take_requests()
        carried = sum(s.bytes_sent for s in states)
        states[0].bytes_sent += bytes_made + max(0, result.bytes_sent - carried)
        with self._counter_lock:
            self.requests_sent += states[0].round_trips
        self._record_batch_outcome(states)
        for state in states:
            state.export_task = None
        return states

    def _record_batch_outcome(self, states: "list[MeteorExporter.ExportStateCache]") -> None:
        """Complete the batch's completed tasks in one transaction; count one failure for the
        rest (deferring the configuration's tasks, maybe disabling it), as a 2015 failure does."""
        config_id = states[0].config_id
        complete = [s.export_task for s in states if s.state == "complete"]
        failed = [s for s in states if s.state != "complete"]
        try:
            if complete:
                self.db.complete_export_tasks(complete)
                if config_id not in self._clean_configs and not failed:
                    self.db.reset_export_failures(config_id)
                    self._clean_configs.add(config_id)
            if not failed:
                return
            self._clean_configs.discard(config_id)
            for state in failed[:5]:
                logger.warning("export of %s %s to configuration %s %s: %s", state.entity_type,
                               state.entity_id.hex, config_id.hex, state.state, state.message)
            failures = self.db.record_export_failure(config_id)
            self.db.defer_export_tasks(config_id, self.defer_on_failure_seconds)
            self.db.defer_export_task_list([s.export_task for s in failed], self.defer_on_failure_seconds)
            if failures >= self.max_failures_before_disable:
                self.db.set_export_configuration_enabled(config_id, False)
                failed[0].config_disabled = True
                logger.warning("export configuration %s disabled after %d failures", config_id.hex, failures)
        except Exception:
            logger.exception("could not record the outcome of a batch for configuration %s", config_id.hex)

    def _handle_task(self, task: Any) -> "MeteorExporter.ExportStateCache":
        """One task over the 2015 protocol, to its outcome."""
        state = self.ExportStateCache(task)
        state.round_trips = self.capabilities.take_requests()
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

    # --- verification ------------------------------------------------------------------

    def verify(self, config_id: uuid.UUID | str) -> "v2.VerifyReport":
        """Compare what a configuration has completed with what its (v2) target holds and
        re-queue what it lacks (``meteorpi export verify``). ValueError for a 2015 target."""
        config = self.db.get_export_configuration(config_id)
        if config is None:
            raise ValueError(f"no export configuration with config_id {config_id}")
        return v2.verify(self, config)

    def verify_due(self) -> list["v2.VerifyReport"]:
        """Verify every enabled configuration whose ``verify_hours`` have passed since its last
        verification (run by the scheduled rounds)."""
        reports = []
        for config in self.db.get_export_configurations():
            if not config.enabled:
                continue
            settings = self.db.get_export_settings(config.config_id)
            if settings.verify_hours is None:
                continue
            last = settings.last_verified
            if last is not None and model.now() - last < timedelta(hours=settings.verify_hours):
                continue
            try:
                reports.append(self.verify(config.config_id))
            except (ValueError, v2.BatchFailed, v2.ProtocolGone) as error:
                logger.warning("verification of export configuration %s failed: %s", config.config_id.hex, error)
        return reports

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

    def _verify_for(self, task: Any) -> bool | str:
        return task.ca_bundle or self._default_verify()

    @staticmethod
    def _default_verify() -> bool | str:
        return _default_ca_bundle() or True

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
        self.budget = exporter.max_round_trips + ROUND_TRIPS_PER_FILE * len(self.files) + state.round_trips
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
        if record.md5 is None or not self.db.file_store.has_content(file_id):
            raise _Refused(f"the content of file {file_id.hex} is not on this node")
        self.renew_claim()
        url = f"{self.url.rstrip('/')}/data/{file_id.hex}/{record.md5}"
        with self.db.file_store.open(file_id) as content:
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
            return post_for_object(self.session, url, self.auth, self.exporter.timeout, self.verify, **kwargs)
        except AnswerError as error:
            failure = _Refused if error.status in REFUSALS else _Confused if error.malformed else _Failed
            raise failure(str(error)) from None


def _default_ca_bundle() -> str | None:
    """The CA bundle named by the environment, as requests itself would use it."""
    return os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or None


def _add_to_summary(summary: ExportSummary, state: MeteorExporter.ExportStateCache) -> None:
    if state.state == "complete":
        summary.complete += 1
    elif state.state == "confused":
        summary.confused += 1
    else:
        summary.failed += 1
    summary.requests += state.round_trips
    summary.bytes_sent += state.bytes_sent
