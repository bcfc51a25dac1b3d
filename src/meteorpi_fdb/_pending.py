"""Content uploaded through the import API whose record has not arrived yet ("pending").

The import protocol uploads a file's content first and sends its record afterwards. Until the
record arrives the content belongs to no row; an exporter that never sends it (or an attacker)
would leave it in the store for ever. Each upload is therefore recorded here - which import
user, when, how many bytes - in the database, so that every server process sees the same
numbers: a per-user quota of pending bytes, and expiry of uploads whose record never came
(:meth:`PendingUploadsMixin.remove_expired_uploads`). A pending upload whose record has
arrived no longer counts, whether or not its row here was tidied away yet.
"""

from __future__ import annotations

import logging
import time
import uuid
from typing import TYPE_CHECKING, Any, Iterable

from sqlalchemy import delete, exists, func, insert, select

from meteorpi_fdb.firebird import retry_update_conflicts
from meteorpi_fdb.schema import t_file, t_pendingupload

if TYPE_CHECKING:
    from meteorpi_fdb.database import MeteorDatabase

logger = logging.getLogger("meteorpi.db")


def _now_ms() -> int:
    return int(time.time() * 1000)


def _unreferenced():
    """Pending rows whose record has not arrived."""
    return ~exists().where(t_file.c.fileid == t_pendingupload.c.fileid)


class PendingUploadsMixin:
    """Pending-upload bookkeeping of :class:`MeteorDatabase`."""

    def record_pending_upload(self: "MeteorDatabase", file_id: uuid.UUID, user_id: str, size: int,
                              now_ms: int | None = None) -> None:
        """Note that ``user_id`` uploaded ``size`` bytes of content for ``file_id`` (again)."""
        when = _now_ms() if now_ms is None else now_ms

        def store() -> None:
            with self.transaction() as connection:
                connection.execute(delete(t_pendingupload).where(t_pendingupload.c.fileid == file_id.hex))
                connection.execute(insert(t_pendingupload).values(
                    fileid=file_id.hex, importuser=user_id, uploadtime=when, filesize=size))

        retry_update_conflicts(store)

    def pending_upload_usage(self: "MeteorDatabase", user_id: str,
                             excluding: uuid.UUID | None = None) -> tuple[int, int | None]:
        """``(bytes, oldest upload time in ms or None)`` of ``user_id``'s pending uploads whose
        record has not arrived, leaving out ``excluding`` (content about to be replaced)."""
        query = select(func.coalesce(func.sum(t_pendingupload.c.filesize), 0),
                       func.min(t_pendingupload.c.uploadtime)).where(
            t_pendingupload.c.importuser == user_id, _unreferenced())
        if excluding is not None:
            query = query.where(t_pendingupload.c.fileid != excluding.hex)
        with self.connection() as connection:
            total, oldest = connection.execute(query).one()
        return int(total), None if oldest is None else int(oldest)

    def pending_uploads(self: "MeteorDatabase") -> list[dict[str, Any]]:
        """Every pending upload whose record has not arrived, oldest first:
        ``{"file_id", "user_id", "upload_time_ms", "size"}``."""
        with self.connection() as connection:
            rows = connection.execute(select(t_pendingupload).where(_unreferenced())
                                      .order_by(t_pendingupload.c.uploadtime, t_pendingupload.c.fileid))
            return [{"file_id": uuid.UUID(hex=row.fileid), "user_id": row.importuser,
                     "upload_time_ms": int(row.uploadtime), "size": int(row.filesize)} for row in rows]

    def forget_pending_uploads(self: "MeteorDatabase", file_ids: Iterable[uuid.UUID]) -> None:
        """Drop the bookkeeping of uploads whose record has now arrived."""
        hexes = [file_id.hex for file_id in file_ids]
        if not hexes:
            return

        def forget() -> None:
            with self.transaction() as connection:
                connection.execute(delete(t_pendingupload).where(t_pendingupload.c.fileid.in_(hexes)))

        retry_update_conflicts(forget)

    def remove_expired_uploads(self: "MeteorDatabase", max_age_seconds: float,
                               now_ms: int | None = None) -> list[uuid.UUID]:
        """Delete the content of uploads older than ``max_age_seconds`` whose record never came,
        and forget every expired upload; returns the ids whose content was removed.

        Content that a record now refers to is never removed.
        """
        cutoff = (_now_ms() if now_ms is None else now_ms) - int(max_age_seconds * 1000)

        def expire() -> list[str]:
            with self.transaction() as connection:
                expired = t_pendingupload.c.uploadtime < cutoff
                orphaned = list(connection.execute(
                    select(t_pendingupload.c.fileid).where(expired, _unreferenced())).scalars())
                connection.execute(delete(t_pendingupload).where(expired))
            return orphaned

        removed = [uuid.UUID(hex=file_id) for file_id in retry_update_conflicts(expire)]
        for file_id in removed:
            self.file_store.remove(file_id)
        if removed:
            logger.info("removed %d uploads whose record never arrived", len(removed))
        return removed
