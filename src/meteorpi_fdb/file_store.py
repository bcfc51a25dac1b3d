"""The directory that holds file content, one flat file per FileRecord named by its UUID.

Durability rule (SPEC section 10): no database row may point at content that is not fully on
disk. Content is written under a temporary name inside the store (a hard link to the source, or
a copy), flushed to disk, verified and renamed into place *before* the row is committed; the
directory is flushed once per batch. A source is removed only after its row commits, and if the
commit fails the placed content is deleted. A crash at any moment therefore leaves at worst an
orphan file or a ``.tmp-*`` file whose source still exists, both of which
``MeteorDatabase.check_file_store()`` reports.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Iterator

from meteorpi_fdb.permissions import create_private_directory

CHUNK_SIZE = 1024 * 1024
TEMPORARY_PREFIX = ".tmp-"
#: Subdirectory holding verified content of replication batches not yet imported (part_store).
PARTS_DIRECTORY = ".parts"


@dataclass(frozen=True)
class StoredContent:
    """What was placed in the store: its final path, size in bytes and MD5 hex digest."""

    path: str
    size: int
    md5: str


class FileStore:
    """A flat directory of content files named ``<uuid hex>``."""

    def __init__(self, root: str | os.PathLike) -> None:
        self.root = os.path.abspath(os.fspath(root))
        create_private_directory(self.root)

    def path_for_id(self, file_id: uuid.UUID) -> str:
        """The path of a file's content, derived only from its UUID (never from user input)."""
        if not isinstance(file_id, uuid.UUID):
            raise ValueError("file_id must be a UUID")
        return os.path.join(self.root, file_id.hex)

    def has_content(self, file_id: uuid.UUID) -> bool:
        return os.path.isfile(self.path_for_id(file_id))

    def temporary_path(self) -> str:
        """A fresh temporary path inside the store (same filesystem, so a rename is atomic)."""
        return os.path.join(self.root, f"{TEMPORARY_PREFIX}{uuid.uuid4().hex}")

    def place(self, file_id: uuid.UUID, source: str, fingerprint: "SourceFingerprint",
              copy: bool = False) -> StoredContent:
        """Put ``source``'s content in the store as ``file_id``'s, leaving ``source`` in place.

        The content goes in under a temporary name: a hard link to ``source`` when ``copy`` is
        false and both are on one filesystem (no bytes copied), else a copy written and hashed
        as it goes. It is flushed to disk, checked against ``fingerprint`` (taken when the
        source was hashed: a link must be the same unchanged inode, a copy must have the same
        size and MD5) and renamed to its final name. Content whose fingerprint is ``synced``
        (flushed and verified when it was written: a replication part) is linked straight to
        its final name instead, neither read nor flushed again. The directory is *not* flushed: a batch
        calls ``flush()`` once after placing all its content. The caller removes ``source``
        only after the rows commit, so a crash never leaves the store holding its only copy.
        """
        final = self.path_for_id(file_id)
        if os.path.exists(final):
            raise ValueError(f"content for file {file_id.hex} already exists")
        if not copy and fingerprint.synced:
            placed = self._link_synced(file_id, source, fingerprint, final)
            if placed is not None:
                return placed
        temporary = self.temporary_path()
        try:
            if not copy and _try_link(source, temporary):
                _fsync_file(temporary)
                found = os.stat(temporary)
                if (found.st_ino, found.st_dev, found.st_size, found.st_mtime_ns) != fingerprint.identity:
                    raise ValueError(f"file_path {source} changed while it was being registered")
                size, md5 = fingerprint.size, fingerprint.md5
            else:
                with open(source, "rb") as reader:
                    size, md5 = self._write_synced(reader, temporary)
                if (size, md5) != (fingerprint.size, fingerprint.md5):
                    raise ValueError(f"file_path {source} changed while it was being registered")
            os.replace(temporary, final)
        finally:
            _remove_quietly(temporary)
        return StoredContent(final, size, md5)

    def _link_synced(self, file_id: uuid.UUID, source: str, fingerprint: "SourceFingerprint",
                     final: str) -> StoredContent | None:
        """Link content flushed when it was written straight to its final name (a link never
        replaces a name); None when it cannot be linked (the caller copies instead)."""
        try:
            os.link(source, final)
        except FileExistsError:
            raise ValueError(f"content for file {file_id.hex} already exists") from None
        except OSError:
            return None
        found = os.stat(final)
        if (found.st_ino, found.st_dev, found.st_size, found.st_mtime_ns) != fingerprint.identity:
            _remove_quietly(final)
            raise ValueError(f"file_path {source} changed while it was being registered")
        return StoredContent(final, fingerprint.size, fingerprint.md5)

    def flush(self) -> None:
        """Flush the store's directory entries (renames and removals) to disk."""
        _fsync_directory(self.root)

    def put_stream(self, file_id: uuid.UUID, stream: BinaryIO, expected_md5: str | None = None) -> StoredContent:
        """Write ``stream`` to ``file_id``'s content atomically, checking the MD5 if given.

        A mismatch raises ValueError and leaves nothing behind.
        """
        temporary = self.temporary_path()
        try:
            size, md5 = self._write_synced(stream, temporary)
            if expected_md5 is not None and md5 != expected_md5.lower():
                raise ValueError(f"MD5 mismatch for file {file_id.hex}: expected {expected_md5}, got {md5}")
            final = self.path_for_id(file_id)
            os.replace(temporary, final)
        finally:
            _remove_quietly(temporary)
        _fsync_directory(self.root)
        return StoredContent(final, size, md5)

    def remove(self, file_id: uuid.UUID) -> None:
        """Delete a file's content if it exists."""
        _remove_quietly(self.path_for_id(file_id))

    def clear(self) -> None:
        """Delete every file in the store (the directory itself stays)."""
        for entry in os.scandir(self.root):
            if entry.is_file(follow_symlinks=False) or entry.is_symlink():
                os.remove(entry.path)
            elif entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path)

    def stored_ids(self) -> Iterator[uuid.UUID]:
        """The UUIDs of every content file in the store."""
        for entry in os.scandir(self.root):
            if entry.is_file(follow_symlinks=False) and not entry.name.startswith(TEMPORARY_PREFIX):
                try:
                    yield uuid.UUID(hex=entry.name)
                except ValueError:
                    continue

    def stray_files(self) -> list[str]:
        """Names in the store that are not content files (left-over temporaries, foreign files)."""
        strays = []
        for entry in os.scandir(self.root):
            if entry.name == PARTS_DIRECTORY and entry.is_dir(follow_symlinks=False):
                continue
            if entry.name.startswith(TEMPORARY_PREFIX):
                strays.append(entry.name)
                continue
            try:
                if uuid.UUID(hex=entry.name).hex != entry.name:
                    strays.append(entry.name)
            except ValueError:
                strays.append(entry.name)
        return sorted(strays)

    @staticmethod
    def _write_synced(reader: BinaryIO, path: str) -> tuple[int, str]:
        digest = hashlib.md5(usedforsecurity=False)
        size = 0
        with open(path, "wb") as writer:
            while chunk := reader.read(CHUNK_SIZE):
                digest.update(chunk)
                writer.write(chunk)
                size += len(chunk)
            writer.flush()
            os.fsync(writer.fileno())
        return size, digest.hexdigest()


@dataclass(frozen=True)
class SourceFingerprint:
    """A source file's size and MD5, and the identity (inode, device, size, mtime) it had when
    it was hashed, so that placing it can tell whether it changed since. ``synced``: its
    content was flushed to disk when it was written (a verified replication part)."""

    size: int
    md5: str
    identity: tuple[int, int, int, int]
    synced: bool = False


@dataclass(frozen=True)
class VerifiedContent:
    """Content on disk that was hashed and flushed as it was written (a replication part): a
    batch places it by its ``fingerprint``, without reading or flushing it again."""

    path: str
    fingerprint: SourceFingerprint

    def __fspath__(self) -> str:
        return self.path


def verified_content(path: str, size: int, md5: str, status: os.stat_result | None = None) -> VerifiedContent:
    """Describe ``path``, flushed and verified as ``size`` bytes with this MD5 when it was
    written; ``status`` is its ``os.stat`` result if the caller has it."""
    status = os.stat(path) if status is None else status
    identity = (status.st_ino, status.st_dev, status.st_size, status.st_mtime_ns)
    return VerifiedContent(path, SourceFingerprint(size, md5, identity, synced=True))


def fingerprint(path: str) -> SourceFingerprint:
    """Hash ``path`` (size and MD5) and note its identity."""
    with open(path, "rb") as reader:
        before = os.fstat(reader.fileno())
        digest = hashlib.md5(usedforsecurity=False)
        size = 0
        while chunk := reader.read(CHUNK_SIZE):
            digest.update(chunk)
            size += len(chunk)
    return SourceFingerprint(size, digest.hexdigest(),
                             (before.st_ino, before.st_dev, size, before.st_mtime_ns))


def _try_link(source: str, target: str) -> bool:
    """Hard-link ``source`` as ``target``; False when they are on different filesystems (or
    links are not allowed), so the caller copies instead."""
    try:
        os.link(source, target)
    except OSError:
        return False
    return True


def _fsync_file(path: str) -> None:
    with open(path, "rb") as reader:
        os.fsync(reader.fileno())


def fsync_directory(path: str) -> None:
    """Flush a directory's entries (renames into it) to disk."""
    _fsync_directory(path)


def _fsync_directory(path: str) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _remove_quietly(path: str) -> None:
    try:
        os.remove(path)
    except FileNotFoundError:
        pass
