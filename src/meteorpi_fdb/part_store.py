"""Verified content of replication batches that has not been imported yet ("parts").

A v2 batch streams file content to the target. Each file is written to a temporary name,
hashed on the way, flushed, and — only if its size and MD5 are the ones announced — renamed to
``<file store>/.parts/<file id>.<md5>``. The batch's import then renames parts into the store.
When a batch is cut off (connection lost, target restarted, exporter killed), the parts it had
completed stay, and the next manifest answer reports them as held: the exporter resumes instead
of sending them again. Parts are keyed by MD5 as well as id, so a part can only ever stand for
the content it was verified as. Parts nobody claims are pruned after :data:`PART_MAX_AGE_SECONDS`.
"""

from __future__ import annotations

import hashlib
import os
import time
import uuid
from typing import TYPE_CHECKING, BinaryIO

from meteorpi_fdb.stores import base
from meteorpi_fdb.stores.base import (CHUNK_SIZE, PART_MAX_AGE_SECONDS, PARTS_DIRECTORY, TEMPORARY_PREFIX,
                                      IncompleteContent, Part)

if TYPE_CHECKING:
    from meteorpi_fdb.file_store import FileStore

__all__ = ["PART_MAX_AGE_SECONDS", "IncompleteContent", "PartStore"]


class PartStore(base.PartStore):
    """The ``.parts`` directory inside a directory store."""

    def __init__(self, file_store: "FileStore") -> None:
        self.root = os.path.join(file_store.root, PARTS_DIRECTORY)  # made by the first write
        self._last_prune = 0.0

    def path(self, file_id: uuid.UUID, md5: str) -> str:
        """Where the verified part for (file id, MD5) lives; both come from checked values."""
        return os.path.join(self.root, base.checked_part_name(file_id, md5))

    def held(self, file_id: uuid.UUID, md5: str, size: int) -> bool:
        """Whether a verified part of this content (with this size) is here."""
        try:
            return os.path.getsize(self.path(file_id, md5)) == size
        except OSError:
            return False

    def write(self, file_id: uuid.UUID, md5: str, size: int, reader: BinaryIO) -> Part:
        """Read exactly ``size`` bytes from ``reader`` into a verified, flushed part.

        Raises :class:`IncompleteContent` if the stream ends early and ValueError if the MD5
        differs; nothing is left behind then.
        """
        final = self.path(file_id, md5)
        os.makedirs(self.root, exist_ok=True)  # clear_database() empties the whole store
        temporary = os.path.join(self.root, f"{TEMPORARY_PREFIX}{uuid.uuid4().hex}")
        digest = hashlib.md5(usedforsecurity=False)
        left = size
        try:
            with open(temporary, "wb") as writer:
                while left > 0:
                    chunk = reader.read(min(CHUNK_SIZE, left))
                    if not chunk:
                        raise IncompleteContent(f"the stream ended {left} bytes before the end of "
                                                f"file {file_id.hex}")
                    digest.update(chunk)
                    writer.write(chunk)
                    left -= len(chunk)
                writer.flush()
                os.fsync(writer.fileno())
            if digest.hexdigest() != md5:
                raise ValueError(f"MD5 mismatch for file {file_id.hex}: announced {md5}, "
                                 f"received {digest.hexdigest()}")
            os.replace(temporary, final)
        finally:
            try:
                os.remove(temporary)
            except FileNotFoundError:
                pass
        return Part(file_id, md5, size)

    def remove(self, file_id: uuid.UUID, md5: str) -> None:
        try:
            os.remove(self.path(file_id, md5))
        except FileNotFoundError:
            pass

    def prune(self, max_age_seconds: float = PART_MAX_AGE_SECONDS, every_seconds: float = 3600) -> int:
        """Remove parts (and broken-off temporaries) older than ``max_age_seconds``; runs at most
        once per ``every_seconds`` per process. Returns how many were removed."""
        now = time.time()
        if now - self._last_prune < every_seconds:
            return 0
        self._last_prune = now
        removed = 0
        if not os.path.isdir(self.root):
            return 0
        for entry in os.scandir(self.root):
            try:
                if entry.is_file(follow_symlinks=False) and now - entry.stat().st_mtime > max_age_seconds:
                    os.remove(entry.path)
                    removed += 1
            except FileNotFoundError:
                continue
        return removed
