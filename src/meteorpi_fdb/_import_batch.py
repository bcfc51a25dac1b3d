"""Importing a whole batch of replicated entities at once (replication v2, target side).

:meth:`ImportBatchMixin.import_replicated_batch` hands camera status blocks, events and files
received from another node, with the verified content the batch brought (flushed to disk as
parts), to the data layer's one batch write path (``MeteorDatabase.batch()``,
docs/batch-registration.md): content is placed in the store with one directory flush, every
row is written in one transaction, what is already here is a duplicate (answered
``complete``), and each entity gets its own outcome. A batch that loses a race with a
concurrent import of the same entities (another worker, another exporter) is decided again
once: the entities the other import wrote are then duplicates.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from typing import Any, Sequence

from sqlalchemy.exc import DBAPIError, IntegrityError

import meteorpi_model as model
from meteorpi_fdb import _record_checks as checks
from meteorpi_fdb._batch import DUPLICATE, REGISTERED
from meteorpi_fdb.firebird import is_update_conflict
from meteorpi_fdb.stores.base import Part

logger = logging.getLogger("meteorpi.db")


@dataclass
class BatchOutcome:
    """The result for one entity of a batch: ``state`` is ``complete`` or ``failed``."""

    entity_type: str
    entity_id: uuid.UUID
    state: str
    message: str | None = None

    def as_dict(self) -> dict[str, Any]:
        d = {"type": self.entity_type, "id": self.entity_id.hex, "state": self.state}
        if self.message:
            d["message"] = self.message
        return d


class ImportBatchMixin:
    """One-transaction import of a batch of replicated entities."""

    def import_replicated_batch(self, statuses: Sequence[model.CameraStatus],
                                entities: Sequence[model.Event | model.FileRecord],
                                content: dict[uuid.UUID, Part], user_id: str) -> list[BatchOutcome]:
        """Import a batch; one :class:`BatchOutcome` per entity, in order.

        :param statuses: status blocks the entities need that may be missing here
        :param entities: Events (with their file records) and FileRecords
        :param content: file id → verified, flushed content brought by the batch (a ``Part`` of
            the store): placed in the store without reading or flushing it again
            (``place_part``) if its file is imported; removed once its file's row is committed
            or found here already
        :param user_id: the importing user (recorded in the import log rows)
        """
        user_id = checks.checked_user_id(user_id)
        outcomes: list[BatchOutcome | None] = [None] * len(entities)
        # Entities sharing a file the batch brings go in a later round (one transaction each),
        # when that file is in the store: in practice there is one round.
        pending = list(range(len(entities)))
        while pending:
            this_round, later, claimed = [], [], set()
            for index in pending:
                entity = entities[index]
                ids = {r.file_id for r in getattr(entity, "file_records", [entity]) if hasattr(r, "file_id")}
                shared = ids & claimed & set(content)
                (later if shared else this_round).append(index)
                claimed |= ids
            for attempt in (1, 2):
                try:
                    self._import_round(statuses, entities, this_round, content, user_id, outcomes)
                    break
                except DBAPIError as error:
                    if attempt == 2 or not (isinstance(error, IntegrityError) or is_update_conflict(error)):
                        raise
                    logger.info("a batch from user %s raced with another import; deciding again", user_id)
            pending, statuses = later, []
        done = sum(1 for outcome in outcomes if outcome is not None and outcome.state == "complete")
        logger.info("Imported a batch from user %s: %d of %d entities complete", user_id, done, len(entities))
        return [outcome for outcome in outcomes if outcome is not None]

    def _import_round(self, statuses: Sequence[model.CameraStatus], entities: Sequence[Any], indexes: list[int],
                      content: dict[uuid.UUID, Part], user_id: str,
                      outcomes: list["BatchOutcome | None"]) -> None:
        items = []
        given: set[uuid.UUID] = set()
        with self.batch() as batch:
            for status in statuses:
                try:
                    batch.import_status(status)
                except ValueError as error:
                    logger.warning("status block not imported: %s", error)
            for index in indexes:
                entity = entities[index]
                kind, entity_id = _kind_and_id(entity)
                try:
                    records = entity.file_records if kind == "event" else [entity]
                    # Each piece of content goes to the first entity that needs it.
                    paths = {r.file_id: content[r.file_id] for r in records
                             if r.file_id in content and r.file_id not in given
                             and self.file_store.source_exists(content[r.file_id])}
                    given.update(paths)
                    if kind == "event":
                        item = batch.import_event(entity, user_id, paths)
                    else:
                        item = batch.import_file(entity, user_id, paths.get(entity.file_id))
                    items.append((index, kind, entity_id, item))
                except (ValueError, AttributeError, TypeError) as error:
                    outcomes[index] = BatchOutcome(kind, entity_id, "failed", str(error))
        for index, kind, entity_id, item in items:
            done = item.outcome in (REGISTERED, DUPLICATE)
            outcomes[index] = BatchOutcome(kind, entity_id, "complete" if done else "failed",
                                           None if done else item.error or "not imported")
        self.generators.cache_clear("status")


def _kind_and_id(entity: Any) -> tuple[str, uuid.UUID]:
    if isinstance(entity, model.Event):
        return "event", entity.event_id
    if isinstance(entity, model.FileRecord):
        return "file", entity.file_id
    return "file", uuid.UUID(int=0)
