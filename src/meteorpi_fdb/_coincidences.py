"""Coincidences: events from different cameras that saw one meteor, stored as groups with their
trajectories, recomputed incrementally and searchable (a mixin of ``MeteorDatabase``).

A run works on closed time spans: a span is widened until no event lies within the window
outside it, so no group can straddle its edge. Inside a span every group is recomputed; a group
whose members are unchanged keeps its id (its key is a hash of the member event ids), stale
groups are deleted and new ones inserted, so re-running creates no duplicates. The maths
(``meteorpi_trajectory``) needs the ``trajectory`` extra; searching does not.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from datetime import datetime
from typing import Any, Sequence

from sqlalchemy.exc import DBAPIError

import meteorpi_model as model
from meteorpi_fdb import _coincidence_rows as rows

logger = logging.getLogger("meteorpi.db")

DEFAULT_WINDOW_SECONDS = 2.0
#: new events further apart than this (ms) are recomputed as separate spans
SPAN_GAP_MS = 3_600_000
ATTEMPTS = 3
MAX_WINDOW_SECONDS = 60


def _group_key(members: Sequence[Any]) -> str:
    ids = ",".join(sorted(m.eventid for m in members))
    return hashlib.md5(ids.encode("ascii"), usedforsecurity=False).hexdigest()


def _spans(times: Sequence[int]) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    for t in times:
        if spans and t - spans[-1][1] <= SPAN_GAP_MS:
            spans[-1] = (spans[-1][0], t)
        else:
            spans.append((t, t))
    return spans


class CoincidencesMixin:
    """Compute, store and search coincidence groups and their trajectories."""

    #: a running ``CoincidenceUpdater`` to poke when events are imported, if any
    coincidence_updater: Any = None

    def _events_arrived(self) -> None:
        """Called after an import: the updater, if one runs, recomputes soon."""
        updater = self.coincidence_updater
        if updater is not None:
            updater.poke()

    def update_coincidences(self, window_seconds: float = DEFAULT_WINDOW_SECONDS,
                            after: datetime | None = None, before: datetime | None = None,
                            everything: bool = False) -> dict[str, int]:
        """Recompute coincidences; return counts of what was found and changed.

        With ``after``/``before`` (or ``everything``), the events in that range; otherwise the
        events added since the last run (incremental: what the import hook and the schedule
        call). ``ValueError`` for a bad window; ``MissingExtraError`` without the extra.
        """
        from meteorpi_trajectory import libraries

        libraries()
        if (isinstance(window_seconds, bool) or not isinstance(window_seconds, (int, float))
                or not 0 <= window_seconds <= MAX_WINDOW_SECONDS):
            raise ValueError(f"window must be a number of seconds from 0 to {MAX_WINDOW_SECONDS}, "
                             f"got {window_seconds!r}")
        window_ms = int(round(window_seconds * 1000))
        after_ms = None if after is None else model.utc_datetime_to_milliseconds(model.to_utc(after, "after"))
        before_ms = None if before is None else model.utc_datetime_to_milliseconds(model.to_utc(before, "before"))
        if after_ms is not None and before_ms is not None and before_ms < after_ms:
            raise ValueError("before must not be earlier than after")
        with self.connection() as connection:
            top = rows.last_event_id(connection)
            if everything or after_ms is not None or before_ms is not None:
                low, high = rows.time_bounds(connection)
                spans = [] if low is None else [(low if after_ms is None else after_ms,
                                                 high if before_ms is None else before_ms)]
            else:
                spans = _spans(rows.new_event_times(connection, rows.processed_up_to(connection), top))
        totals = {"spans": 0, "events": 0, "groups": 0, "created": 0, "removed": 0, "kept": 0,
                  "solved": 0}
        for low, high in spans:
            for key, value in self._update_span(low, high, window_ms).items():
                totals[key] += value
            totals["spans"] += 1
        if everything or (after_ms is None and before_ms is None):
            with self.transaction() as connection:
                if rows.processed_up_to(connection) < top:
                    rows.set_processed_up_to(connection, top, self._now_ms())
        logger.info("Coincidences: %s", totals)
        return totals

    def _update_span(self, low: int, high: int, window_ms: int) -> dict[str, int]:
        from meteorpi_trajectory import network

        for attempt in range(ATTEMPTS):
            with self.connection() as connection:
                while True:  # widen until no event lies within the window outside the span
                    earlier, later = rows.nearest_outside(connection, low, high, window_ms)
                    if earlier is None and later is None:
                        break
                    low, high = earlier if earlier is not None else low, later if later is not None else high
                events = rows.events_between(connection, low, high)
                numbers = rows.event_numbers(connection, [e.internalid for e in events])
            groups = network.group_events(events, window_ms / 1000, numbers)
            solutions = [network.solve_group(g, numbers) for g in groups]
            try:
                counts = self._store_span(low, high, groups, solutions)
            except DBAPIError as error:  # a concurrent run wrote the same span first
                if attempt == ATTEMPTS - 1:
                    raise
                logger.info("Coincidence span %s-%s raced another run (%s); again", low, high,
                            type(error).__name__)
                continue
            counts["events"] = len(events)
            return counts
        raise AssertionError("unreachable")

    def _store_span(self, low: int, high: int, groups: Sequence[Sequence[Any]],
                    solutions: Sequence[dict[str, Any]]) -> dict[str, int]:
        now = self._now_ms()
        counts = {"groups": len(groups), "created": 0, "removed": 0, "kept": 0,
                  "solved": sum(1 for s in solutions if s["ok"])}
        with self.transaction() as connection:
            existing = rows.groups_touching(connection, low, high)
            wanted = {_group_key(g): (g, s) for g, s in zip(groups, solutions)}
            stale = [internal for key, internal in existing.items() if key not in wanted]
            rows.delete_groups(connection, stale)
            kept = {key: existing[key] for key in wanted if key in existing}
            stored = rows.trajectories_of(connection, list(kept.values()))
            rows.write_trajectories(connection, [
                (internal, wanted[key][1]) for key, internal in kept.items()
                if stored.get(internal) != wanted[key][1]])
            rows.insert_groups(connection, [(key, members, solution)
                                            for key, (members, solution) in wanted.items()
                                            if key not in existing], now)
            counts.update(removed=len(stale), kept=len(kept), created=len(wanted) - len(kept))
        return counts

    @staticmethod
    def _now_ms() -> int:
        return model.utc_datetime_to_milliseconds(model.now())

    # --- reading ------------------------------------------------------------------------

    def search_coincidences(self, search: model.CoincidenceSearch) -> dict[str, Any]:
        """``{"count": N, "coincidences": [...]}``: one page of groups, newest first."""
        if not isinstance(search, model.CoincidenceSearch):
            raise ValueError(f"search must be a CoincidenceSearch, not {type(search).__name__}")
        with self.connection() as connection:
            count, page = rows.search_groups(connection, search)
            ids = [row.internalid for row in page]
            members = rows.members_of(connection, ids)
            trajectories = rows.trajectories_of(connection, ids)
        return {"count": count, "coincidences": [_coincidence(row, members.get(row.internalid, []),
                                                              trajectories.get(row.internalid))
                                                 for row in page]}

    def get_coincidence_for_event(self, event_id: uuid.UUID | str) -> model.Coincidence | None:
        """The group an event belongs to, or None."""
        found = self.search_coincidences(model.CoincidenceSearch(event_ids=[event_id], limit=1))
        return found["coincidences"][0] if found["coincidences"] else None


def _coincidence(row: Any, members: list[model.CoincidenceMember],
                 trajectory: dict[str, Any] | None) -> model.Coincidence:
    # Trusted: rows written by this module (a group may briefly hold one member after an
    # event was deleted, until the next run removes it).
    return model.Coincidence.from_trusted(
        group_id=uuid.UUID(hex=row.groupid), time=model.milliseconds_to_utc_datetime(row.firsttime),
        computed=model.milliseconds_to_utc_datetime(row.computed), members=members,
        trajectory=None if trajectory is None else model.TrajectoryResult.from_dict(trajectory))
