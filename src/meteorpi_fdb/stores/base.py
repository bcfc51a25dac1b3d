"""What every file store offers: the one interface the rest of ``meteorpi_fdb`` (and the server)
uses for file content, whether it lives in a local directory or an S3-compatible bucket.

Durability rule (SPEC section 10), for every store: ``place`` and ``put_stream`` return only
once the content is complete, flushed and verified (size and MD5) under its final name (for
``place``, the final name's directory entry once ``flush()`` returns); the caller commits the
row after that, and removes the content if the commit fails. A replication :class:`Part` was
verified and flushed when it was received: ``place_part`` puts it in without reading or
flushing its bytes again (a hard link, a server-side copy). A crash
therefore leaves at worst an orphan (content with no row) or a temporary, which
``check_file_store`` and ``meteorpi fsck`` report.
"""

from __future__ import annotations

import hashlib
import os
import re
import uuid
from abc import ABC, abstractmethod
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import BinaryIO, Iterator

CHUNK_SIZE = 1024 * 1024
TEMPORARY_PREFIX = ".tmp-"
#: Where verified replication parts not yet imported live (a subdirectory or a key prefix).
PARTS_DIRECTORY = ".parts"
#: Where derived content (thumbnails and the like) lives.
DERIVED_DIRECTORY = ".derived"
#: Parts older than this (seconds) are removed by ``PartStore.prune``.
PART_MAX_AGE_SECONDS = 7 * 86400


@dataclass(frozen=True)
class StoredContent:
    """What was placed in the store: where (a path, or a bucket URL), size in bytes, MD5 hex."""

    path: str
    size: int
    md5: str


@dataclass(frozen=True)
class StoredObject:
    """A content object found in the store: its file id, size and modification time (epoch s)."""

    file_id: uuid.UUID
    size: int
    mtime: float


@dataclass(frozen=True)
class SourceFingerprint:
    """A source's size and MD5, and the identity (inode, device, size, mtime) it had when it was
    hashed, so that placing it can tell whether it changed since (empty when the store needs
    none for a verified part)."""

    size: int
    md5: str
    identity: tuple[int, ...]


@dataclass(frozen=True)
class Part:
    """Verified content of a replication batch, held by the store until its import commits.

    ``identity`` is the store's own note of the part as it was verified (the directory store:
    inode, device, size and mtime of the flushed file), so that placing it can tell it is that
    very content without reading it again; empty when the store needs none."""

    file_id: uuid.UUID
    md5: str
    size: int
    identity: tuple[int, ...] = field(default=(), compare=False, repr=False)


@dataclass(frozen=True)
class ContentSource:
    """How to serve a file's content: ``path`` is a local file when there is one (sendfile,
    X-Accel-Redirect); otherwise ``open()`` gives a seekable reader of ``size`` bytes."""

    file_id: uuid.UUID
    size: int
    mtime: float
    path: str | None
    store: "ContentStore"

    def open(self) -> BinaryIO:
        return self.store.open(self.file_id)

    def presigned_url(self, seconds: int, **headers: str) -> str | None:
        """A short-lived URL a client may fetch the content from directly, or None."""
        return self.store.presigned_url(self.file_id, seconds, **headers)


class IncompleteContent(ValueError):
    """The stream ended before all of a file's announced bytes arrived."""


def fingerprint(path: str) -> SourceFingerprint:
    """Hash ``path`` (size and MD5) and note its identity."""
    with open(path, "rb") as reader:
        before = os.fstat(reader.fileno())
        size, md5 = hash_stream(reader)
    return SourceFingerprint(size, md5, (before.st_ino, before.st_dev, size, before.st_mtime_ns))


def file_identity(found: os.stat_result) -> tuple[int, int, int, int]:
    """What tells a file is the very one that was hashed: inode, device, size, mtime."""
    return found.st_ino, found.st_dev, found.st_size, found.st_mtime_ns


def hash_stream(reader: BinaryIO) -> tuple[int, str]:
    """Size and MD5 hex digest of everything ``reader`` yields."""
    digest = hashlib.md5(usedforsecurity=False)
    size = 0
    while chunk := reader.read(CHUNK_SIZE):
        digest.update(chunk)
        size += len(chunk)
    return size, digest.hexdigest()


def checked_part_name(file_id: uuid.UUID, md5: str) -> str:
    """``<id hex>.<md5>`` for a part; both must be well-formed (they name a file or key)."""
    if not isinstance(file_id, uuid.UUID) or len(md5) != 32 or not all(c in "0123456789abcdef" for c in md5):
        raise ValueError("a part needs a UUID and a lower-case MD5 hex digest")
    return f"{file_id.hex}.{md5}"


_DERIVED_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def checked_derived_name(file_id: uuid.UUID, name: str) -> str:
    """``<id hex>.<name>`` for derived content; ``name`` is a short word chosen by the caller."""
    if not isinstance(file_id, uuid.UUID):
        raise ValueError("file_id must be a UUID")
    if not isinstance(name, str) or not _DERIVED_NAME.fullmatch(name):
        raise ValueError("a derived name is 1-64 ASCII letters, digits, '.', '-' or '_', "
                         f"starting with a letter or digit; got {str(name)[:80]!r}")
    return f"{file_id.hex}.{name}"


class PartStore(ABC):
    """Verified content of replication batches not imported yet (see ``part_store``)."""

    @abstractmethod
    def held(self, file_id: uuid.UUID, md5: str, size: int) -> bool:
        """Whether a verified part of this content (with this size) is here."""

    @abstractmethod
    def write(self, file_id: uuid.UUID, md5: str, size: int, reader: BinaryIO) -> Part:
        """Read exactly ``size`` bytes from ``reader`` into a verified part.

        Raises :class:`IncompleteContent` if the stream ends early and ValueError if the MD5
        differs; nothing is left behind then."""

    def receive(self, file_id: uuid.UUID, md5: str, size: int, reader: BinaryIO) -> "Future[Part]":
        """As :meth:`write`, but the part may be finished (made durable) after this returns:
        the caller reads the next frames meanwhile and takes the :class:`Part` from the future.
        A short stream or an MD5 mismatch still raises at once, leaving nothing behind. By
        default the part is written in full before this returns."""
        future: Future[Part] = Future()
        future.set_result(self.write(file_id, md5, size, reader))
        return future

    def held_part(self, file_id: uuid.UUID, md5: str, size: int) -> Part | None:
        """The verified part of this content (with this size) if it is here, else None."""
        return self.part(file_id, md5, size) if self.held(file_id, md5, size) else None

    @abstractmethod
    def remove(self, file_id: uuid.UUID, md5: str) -> None:
        """Delete a part if it is there."""

    @abstractmethod
    def prune(self, max_age_seconds: float = PART_MAX_AGE_SECONDS, every_seconds: float = 3600) -> int:
        """Remove parts older than ``max_age_seconds`` (at most once per ``every_seconds``)."""

    def part(self, file_id: uuid.UUID, md5: str, size: int) -> Part:
        checked_part_name(file_id, md5)
        return Part(file_id, md5, size)


class ContentStore(ABC):
    """File content named by file id. ``location`` is what the store was opened with; ``root``
    is its local directory, or None when content is not in a local directory."""

    location: str
    root: str | None
    parts: PartStore

    # --- reading ------------------------------------------------------------------------

    @abstractmethod
    def path_for_id(self, file_id: uuid.UUID) -> str:
        """The local path of a file's content (for a bucket store: its place in the local read
        cache); does not check or fetch anything."""

    @abstractmethod
    def local_path(self, file_id: uuid.UUID) -> str:
        """A local path holding the file's content, fetched into the read cache if need be (the
        2015 ``file_path_for_id`` contract); the path need not exist when there is no content."""

    @abstractmethod
    def stat(self, file_id: uuid.UUID) -> StoredObject | None:
        """Size and modification time of a file's content, or None when there is none."""

    def has_content(self, file_id: uuid.UUID) -> bool:
        return self.stat(file_id) is not None

    @abstractmethod
    def open(self, file_id: uuid.UUID) -> BinaryIO:
        """A seekable binary reader of a file's content; FileNotFoundError when there is none."""

    def hash_content(self, file_id: uuid.UUID) -> tuple[int, str]:
        """Size and MD5 of the stored content, read in full; FileNotFoundError when absent."""
        with self.open(file_id) as reader:
            return hash_stream(reader)

    @abstractmethod
    def content_source(self, file_id: uuid.UUID) -> ContentSource:
        """How to serve a file's content; FileNotFoundError when there is none."""

    def presigned_url(self, file_id: uuid.UUID, seconds: int, **headers: str) -> str | None:
        """A short-lived direct URL for the content, when the store can make one."""
        return None

    @abstractmethod
    def stored_objects(self) -> Iterator[StoredObject]:
        """Every content object in the store."""

    def stored_ids(self) -> Iterator[uuid.UUID]:
        """The UUIDs of every content object in the store."""
        return (found.file_id for found in self.stored_objects())

    @abstractmethod
    def stray_files(self) -> list[str]:
        """Names in the store that are not content (left-over temporaries, foreign objects)."""

    @abstractmethod
    def stray_mtime(self, name: str) -> float | None:
        """When a stray was last modified (epoch seconds), None when it is gone."""

    @abstractmethod
    def remove_stray(self, name: str) -> None:
        """Delete a stray (as named by ``stray_files``)."""

    @abstractmethod
    def used_bytes(self) -> int:
        """Bytes the store holds (content, parts and derived content)."""

    def capacity(self) -> tuple[int, int] | None:
        """(capacity, free) bytes of the storage under the store, None when unbounded."""
        return None

    # --- writing ------------------------------------------------------------------------

    @abstractmethod
    def place(self, file_id: uuid.UUID, source: str | Part, fingerprint: SourceFingerprint,
              copy: bool = False) -> StoredContent:
        """Put ``source``'s content (a local path, or a part of this store) in the store as
        ``file_id``'s, verified against ``fingerprint``; ``source`` stays where it is. A part
        goes through :meth:`place_part`."""

    @abstractmethod
    def place_part(self, file_id: uuid.UUID, part: Part, fingerprint: SourceFingerprint,
                   copy: bool = False) -> StoredContent:
        """Put a verified part of this store in as ``file_id``'s content the cheapest way that
        keeps it verified, without reading or flushing its bytes again (the part was hashed and
        flushed as it was received): the directory store hard-links it (one directory flush
        per batch, in ``flush()``), a bucket copies the object server side. ``fingerprint`` is
        :meth:`fingerprint_source`'s; ``copy`` asks for a copy of the bytes. The part stays
        until :meth:`discard_source`."""

    def fingerprint_source(self, source: str | Part) -> SourceFingerprint:
        """Size, MD5 and identity of a source about to be placed; a part is not read again."""
        if isinstance(source, Part):
            return SourceFingerprint(source.size, source.md5, source.identity)
        return fingerprint(source)

    def discard_source(self, source: str | Part) -> None:
        """Remove a source whose content is now committed in the store."""
        if isinstance(source, Part):
            self.parts.remove(source.file_id, source.md5)
            return
        try:
            os.remove(source)
        except FileNotFoundError:
            pass

    def source_exists(self, source: str | Part) -> bool:
        if isinstance(source, Part):
            return self.parts.held(source.file_id, source.md5, source.size)
        return os.path.exists(source)

    def flush(self) -> None:
        """Make every placement and removal so far durable (a directory flush)."""

    @abstractmethod
    def put_stream(self, file_id: uuid.UUID, stream: BinaryIO, expected_md5: str | None = None) -> StoredContent:
        """Write ``stream`` as ``file_id``'s content atomically, checking the MD5 if given; a
        mismatch raises ValueError and leaves nothing behind."""

    @abstractmethod
    def remove(self, file_id: uuid.UUID) -> None:
        """Delete a file's content and its derived content, if there."""

    @abstractmethod
    def clear(self) -> None:
        """Delete everything in the store (the store itself stays)."""

    # --- derived content (thumbnails) ---------------------------------------------------

    @abstractmethod
    def read_derived(self, file_id: uuid.UUID, name: str) -> bytes | None:
        """Derived content ``name`` of a file (e.g. a thumbnail), or None when not made yet."""

    @abstractmethod
    def write_derived(self, file_id: uuid.UUID, name: str, data: bytes) -> None:
        """Store derived content ``name`` of a file (replacing any), atomically."""
