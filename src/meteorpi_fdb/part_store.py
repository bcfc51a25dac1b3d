"""Verified content of replication batches that has not been imported yet ("parts").

A v2 batch streams file content to the target. Each file is written to a temporary name,
hashed on the way, flushed, and — only if its size and MD5 are the ones announced — renamed to
``<file store>/.parts/<file id>.<md5>``. The batch's import then links parts into the store.
When a batch is cut off (connection lost, target restarted, exporter killed), the parts it had
completed stay, and the next manifest answer reports them as held: the exporter resumes instead
of sending them again. Parts are keyed by MD5 as well as id, so a part can only ever stand for
the content it was verified as. A part is flushed on a flusher thread while the stream is read
on, and a batch places it in the store by a hard link, without reading or flushing it again
(``FileStore.place_part``: the :class:`~meteorpi_fdb.stores.base.Part` carries the identity
of the file that was verified). Parts nobody claims are pruned after :data:`PART_MAX_AGE_SECONDS`.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, BinaryIO

from meteorpi_fdb.stores import base
from meteorpi_fdb.stores.base import (CHUNK_SIZE, PART_MAX_AGE_SECONDS, PARTS_DIRECTORY, TEMPORARY_PREFIX,
                                      IncompleteContent, Part, file_identity)

if TYPE_CHECKING:
    from meteorpi_fdb.file_store import FileStore

__all__ = ["PART_MAX_AGE_SECONDS", "IncompleteContent", "PartStore"]

#: Threads per process flushing parts to disk (concurrent fsyncs share journal commits).
FLUSH_THREADS = 8
#: Parts per store at most written but not yet flushed (each holds an open file).
MAX_UNFLUSHED = 32

_flusher_pool: ThreadPoolExecutor | None = None
_flusher_lock = threading.Lock()


class PartStore(base.PartStore):
    """The ``.parts`` directory inside a directory store."""

    def __init__(self, file_store: "FileStore") -> None:
        self.root = os.path.join(file_store.root, PARTS_DIRECTORY)  # made by the first write
        self._last_prune = 0.0
        self._unflushed = threading.BoundedSemaphore(MAX_UNFLUSHED)

    def path(self, file_id: uuid.UUID, md5: str) -> str:
        """Where the verified part for (file id, MD5) lives; both come from checked values."""
        return os.path.join(self.root, base.checked_part_name(file_id, md5))

    def held(self, file_id: uuid.UUID, md5: str, size: int) -> bool:
        """Whether a verified part of this content (with this size) is here."""
        return self.held_part(file_id, md5, size) is not None

    def held_part(self, file_id: uuid.UUID, md5: str, size: int) -> Part | None:
        """The verified part of this content (with this size), noting its file's identity, or None."""
        try:
            status = os.stat(self.path(file_id, md5))
        except OSError:
            return None
        return Part(file_id, md5, size, file_identity(status)) if status.st_size == size else None

    def write(self, file_id: uuid.UUID, md5: str, size: int, reader: BinaryIO) -> Part:
        """Read exactly ``size`` bytes from ``reader`` into a verified, flushed part.

        Raises :class:`IncompleteContent` if the stream ends early and ValueError if the MD5
        differs; nothing is left behind then.
        """
        return self.receive(file_id, md5, size, reader).result()

    def receive(self, file_id: uuid.UUID, md5: str, size: int, reader: BinaryIO) -> "Future[Part]":
        """As :meth:`write`, but only reading and verifying happen now; flushing the part to
        disk and renaming it to its part name happen on a flusher thread, whose result is the
        :class:`~meteorpi_fdb.stores.base.Part` (with its file's identity). The caller reads on meanwhile, and
        flushes running side by side share the filesystem's journal commits. At most
        :data:`MAX_UNFLUSHED` parts per store wait for their flush (this call blocks).

        Raises :class:`IncompleteContent` or ValueError (MD5) at once, leaving nothing behind.
        """
        final = self.path(file_id, md5)
        temporary = os.path.join(self.root, f"{TEMPORARY_PREFIX}{uuid.uuid4().hex}")
        self._unflushed.acquire()
        writer = None
        try:
            try:
                writer = open(temporary, "wb")
            except FileNotFoundError:  # the first part, or clear_database() emptied the store
                os.makedirs(self.root, exist_ok=True)
                writer = open(temporary, "wb")
            received = _copy_verified(reader, writer, file_id, size)
            if received != md5:
                raise ValueError(f"MD5 mismatch for file {file_id.hex}: announced {md5}, received {received}")
            future = _flushers().submit(_flush_part, writer, temporary, final, Part(file_id, md5, size))
        except BaseException:
            if writer is not None:
                writer.close()
            _remove_quietly(temporary)
            self._unflushed.release()
            raise
        future.add_done_callback(lambda _done: self._unflushed.release())
        return future

    def remove(self, file_id: uuid.UUID, md5: str) -> None:
        _remove_quietly(self.path(file_id, md5))

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


def _copy_verified(reader: BinaryIO, writer: BinaryIO, file_id: uuid.UUID, size: int) -> str:
    """Copy exactly ``size`` bytes from ``reader`` to ``writer``; their MD5 hex digest."""
    digest = hashlib.md5(usedforsecurity=False)
    left = size
    while left > 0:
        chunk = reader.read(min(CHUNK_SIZE, left))
        if not chunk:
            raise IncompleteContent(f"the stream ended {left} bytes before the end of file {file_id.hex}")
        digest.update(chunk)
        writer.write(chunk)
        left -= len(chunk)
    return digest.hexdigest()


def _flush_part(writer: BinaryIO, temporary: str, final: str, part: Part) -> Part:
    """Flush a verified part's content to disk, then rename it to its part name; the part with
    the identity of the file flushed."""
    try:
        with writer:
            writer.flush()
            os.fsync(writer.fileno())
            status = os.fstat(writer.fileno())
        os.replace(temporary, final)
    except BaseException:
        _remove_quietly(temporary)
        raise
    return Part(part.file_id, part.md5, part.size, file_identity(status))


def _flushers() -> ThreadPoolExecutor:
    """The process's flusher threads (made on first use, after any fork)."""
    global _flusher_pool
    with _flusher_lock:
        if _flusher_pool is None:
            _flusher_pool = ThreadPoolExecutor(FLUSH_THREADS, thread_name_prefix="meteorpi-part-flush")
        return _flusher_pool


def _forget_flushers() -> None:
    global _flusher_pool
    _flusher_pool = None  # a forked child has none of its parent's threads


os.register_at_fork(after_in_child=_forget_flushers)


def _remove_quietly(path: str) -> None:
    try:
        os.remove(path)
    except FileNotFoundError:
        pass
