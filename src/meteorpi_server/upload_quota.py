"""Bounds on content uploaded through the import API before its record arrives (issue 11).

Each import user may have at most ``MPI_UPLOAD_QUOTA_BYTES`` of such pending content at once:
an upload that would go beyond it is answered 429 with ``Retry-After`` (when the oldest pending
upload expires), or 413 if it alone is larger than the quota. The quota is checked before the
body is read (from ``Content-Length``) and again with the stored size, so a chunked upload
cannot slip past it. Pending content older than ``MPI_UPLOAD_EXPIRY_SECONDS`` is removed by
:class:`UploadExpiry`, run on uploads at most once a minute per process (and by
``meteorpi fsck --repair``). The numbers live in the database (``db.pending_upload_usage``), so
they hold across server processes.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from typing import Any, Mapping

from meteorpi_server.errors import PayloadTooLarge, TooManyRequests

logger = logging.getLogger("meteorpi.server.import")

#: Least time between two expiry passes in one process, in seconds.
EXPIRY_INTERVAL_SECONDS = 60.0


def check_quota(db: Any, user_id: str, file_id: uuid.UUID, incoming: int,
                settings: Mapping[str, Any], *, including_self: bool = False) -> None:
    """Refuse (413/429) if ``incoming`` more bytes would take ``user_id`` past its quota.

    ``including_self`` means the upload of ``file_id`` is already counted in the database.
    """
    quota = settings["MPI_UPLOAD_QUOTA_BYTES"]
    if incoming > quota:
        raise PayloadTooLarge(f"the upload ({incoming} bytes) is larger than the quota of "
                              f"{quota} bytes of content awaiting its record")
    pending, oldest = db.pending_upload_usage(user_id, excluding=None if including_self else file_id)
    total = pending if including_self else pending + incoming
    if total > quota:
        expiry_ms = settings["MPI_UPLOAD_EXPIRY_SECONDS"] * 1000
        wait = ((oldest or 0) + expiry_ms - time.time() * 1000) / 1000
        raise TooManyRequests(f"user {user_id!r} has {pending} bytes of uploaded content whose "
                              f"records have not arrived; the quota is {quota} bytes - send the "
                              "records, or wait until old uploads expire", max(1.0, wait))


class UploadExpiry:
    """Runs ``db.remove_expired_uploads`` at most every ``interval`` seconds (per process)."""

    def __init__(self, interval: float = EXPIRY_INTERVAL_SECONDS) -> None:
        self.interval = interval
        self._next = 0.0
        self._lock = threading.Lock()

    def maybe_run(self, db: Any, max_age_seconds: float) -> None:
        now = time.monotonic()
        if now < self._next or not self._lock.acquire(blocking=False):
            return
        try:
            self._next = now + self.interval
            try:
                db.remove_expired_uploads(max_age_seconds)
            except Exception:
                logger.exception("removing expired uploads failed")
        finally:
            self._lock.release()
