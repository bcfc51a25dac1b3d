"""The bucket store's local read-through cache (behind ``file_path_for_id``), bounded in size.

Files are named by file id and immutable, so a cached copy is valid while its size matches the
object's. Every use of a cached file marks it used (its modification time, which nothing else
reads here); after each fetch, the least recently used files go until the cache is within its
bound (``MPI_S3_CACHE_MB``). Eviction is safe for readers: a file another thread or process has
open stays readable after it is unlinked (POSIX), and a file used within the last
:data:`GRACE_SECONDS` is never evicted, so a path just handed out is still there when its caller
opens it (the cache may stay over its bound for that long). Several processes may share one
cache directory: each fetch goes to a temporary file renamed into place, and a file another
process removed first is simply skipped.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from typing import BinaryIO, Callable

from meteorpi_fdb.stores.base import CHUNK_SIZE, TEMPORARY_PREFIX

#: Default bound of the cache (``MPI_S3_CACHE_MB``).
DEFAULT_CACHE_MB = 1024
#: A cached file used this recently (seconds) is never evicted.
GRACE_SECONDS = 60.0


class ReadCache:
    """Local copies of objects in ``directory``, at most about ``max_bytes`` of them."""

    def __init__(self, directory: str, max_bytes: int, grace_seconds: float = GRACE_SECONDS) -> None:
        if max_bytes < 0:
            raise ValueError("the cache bound (MPI_S3_CACHE_MB) must not be negative")
        self.directory, self.max_bytes, self.grace_seconds = directory, max_bytes, grace_seconds
        self._lock = threading.Lock()

    def path(self, name: str) -> str:
        return os.path.join(self.directory, name)

    def get(self, name: str, size: int, fetch: Callable[[], BinaryIO]) -> str:
        """The cached copy of ``name`` (``size`` bytes), marked used; fetched through
        ``fetch`` (a reader of the object) first when it is missing or has another size."""
        path = self.path(name)
        try:
            if os.path.getsize(path) == size:
                os.utime(path)
                return path
        except FileNotFoundError:
            pass
        os.makedirs(self.directory, mode=0o700, exist_ok=True)
        temporary = self.path(f"{TEMPORARY_PREFIX}{uuid.uuid4().hex}")
        try:
            with fetch() as reader, open(temporary, "wb") as writer:
                while chunk := reader.read(CHUNK_SIZE):
                    writer.write(chunk)
            os.replace(temporary, path)
        finally:
            remove_quietly(temporary)
        self.evict(keep=path)
        return path

    def discard(self, name: str) -> None:
        remove_quietly(self.path(name))

    def evict(self, keep: str | None = None) -> int:
        """Remove least recently used files until the cache holds at most ``max_bytes`` (never
        ``keep``, temporaries, nor files used within the grace period); the bytes freed."""
        with self._lock:
            entries, total = [], 0
            try:
                listing = list(os.scandir(self.directory))
            except FileNotFoundError:
                return 0
            for entry in listing:
                if entry.name.startswith(TEMPORARY_PREFIX):
                    continue
                try:
                    found = entry.stat(follow_symlinks=False)
                except FileNotFoundError:
                    continue
                total += found.st_size
                if entry.path != keep:
                    entries.append((found.st_mtime, found.st_size, entry.path))
            freed = 0
            recent = time.time() - self.grace_seconds
            for mtime, size, path in sorted(entries):
                if total - freed <= self.max_bytes or mtime > recent:
                    break
                remove_quietly(path)
                freed += size
            return freed

    def clear(self) -> None:
        if os.path.isdir(self.directory):
            for entry in os.scandir(self.directory):
                remove_quietly(entry.path)


def remove_quietly(path: str) -> None:
    """Remove a file that may be gone already."""
    try:
        os.remove(path)
    except FileNotFoundError:
        pass
