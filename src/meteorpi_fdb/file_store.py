"""The directory store: a local directory holding file content, one flat file per FileRecord
named by its UUID (the default; ``stores`` has the interface and the bucket store).

Durability rule (SPEC section 10): no database row may point at content that is not fully on
disk. Content is written under a temporary name inside the store (a hard link to the source, or
a copy), flushed to disk, verified and renamed into place *before* the row is committed; the
directory is flushed once per batch. A source is removed only after its row commits, and if the
commit fails the placed content is deleted. A crash at any moment therefore leaves at worst an
orphan file or a ``.tmp-*`` file whose source still exists, both of which
``MeteorDatabase.check_file_store()`` reports.
"""

from __future__ import annotations

import glob
import hashlib
import os
import shutil
import uuid
from typing import BinaryIO, Iterator

from meteorpi_fdb.permissions import create_private_directory
from meteorpi_fdb.stores.base import (CHUNK_SIZE, DERIVED_DIRECTORY, PARTS_DIRECTORY, TEMPORARY_PREFIX,
                                      ContentSource, ContentStore, Part, SourceFingerprint, StoredContent,
                                      StoredObject, checked_derived_name, file_identity, fingerprint)

__all__ = ["CHUNK_SIZE", "PARTS_DIRECTORY", "TEMPORARY_PREFIX", "FileStore", "DirectoryStore",
           "SourceFingerprint", "StoredContent", "fingerprint", "fsync_directory"]

_SKIPPED = (PARTS_DIRECTORY, DERIVED_DIRECTORY)


class FileStore(ContentStore):
    """A flat directory of content files named ``<uuid hex>``."""

    def __init__(self, root: str | os.PathLike) -> None:
        from meteorpi_fdb.part_store import PartStore

        self.root = os.path.abspath(os.fspath(root))
        self.location = self.root
        create_private_directory(self.root)
        self.parts = PartStore(self)

    def path_for_id(self, file_id: uuid.UUID) -> str:
        """The path of a file's content, derived only from its UUID (never from user input)."""
        if not isinstance(file_id, uuid.UUID):
            raise ValueError("file_id must be a UUID")
        return os.path.join(self.root, file_id.hex)

    def local_path(self, file_id: uuid.UUID) -> str:
        return self.path_for_id(file_id)

    def has_content(self, file_id: uuid.UUID) -> bool:
        return os.path.isfile(self.path_for_id(file_id))

    def stat(self, file_id: uuid.UUID) -> StoredObject | None:
        try:
            found = os.stat(self.path_for_id(file_id))
        except FileNotFoundError:
            return None
        return StoredObject(file_id, found.st_size, found.st_mtime)

    def open(self, file_id: uuid.UUID) -> BinaryIO:
        return open(self.path_for_id(file_id), "rb")

    def content_source(self, file_id: uuid.UUID) -> ContentSource:
        path = self.path_for_id(file_id)
        found = os.stat(path)
        return ContentSource(file_id, found.st_size, found.st_mtime, path, self)

    def used_bytes(self) -> int:
        """Bytes of every file directly in the store (content, temporaries, strays)."""
        total = 0
        for entry in os.scandir(self.root):
            try:
                if entry.is_file(follow_symlinks=False):
                    total += entry.stat(follow_symlinks=False).st_size
            except FileNotFoundError:
                continue
        return total

    def capacity(self) -> tuple[int, int] | None:
        stats = os.statvfs(self.root)
        return stats.f_blocks * stats.f_frsize, stats.f_bavail * stats.f_frsize

    def temporary_path(self) -> str:
        """A fresh temporary path inside the store (same filesystem, so a rename is atomic)."""
        return os.path.join(self.root, f"{TEMPORARY_PREFIX}{uuid.uuid4().hex}")

    def place(self, file_id: uuid.UUID, source: str | Part, fingerprint: SourceFingerprint,
              copy: bool = False) -> StoredContent:
        """Put ``source``'s content in the store as ``file_id``'s, leaving ``source`` in place.

        The content goes in under a temporary name: a hard link to ``source`` when ``copy`` is
        false and both are on one filesystem (no bytes copied), else a copy written and hashed
        as it goes. It is flushed to disk, checked against ``fingerprint`` (taken when the
        source was hashed: a link must be the same unchanged inode, a copy must have the same
        size and MD5) and renamed to its final name. A replication part goes through
        :meth:`place_part` (neither read nor flushed again). The directory is *not* flushed: a
        batch calls ``flush()`` once after placing all its content. The caller removes
        ``source`` only after the rows commit, so a crash never leaves the store holding its
        only copy.
        """
        if isinstance(source, Part):
            return self.place_part(file_id, source, fingerprint, copy)
        return self._place_file(file_id, source, fingerprint, copy)

    def place_part(self, file_id: uuid.UUID, part: Part, fingerprint: SourceFingerprint,
                   copy: bool = False) -> StoredContent:
        """Hard-link a verified part straight to its final name (a link never replaces a name):
        it was hashed and flushed as it was received, so it is neither read nor flushed again;
        the link must be that very file (same inode, device, size and mtime as
        ``fingerprint.identity``). Its directory entry is made durable by the batch's one
        ``flush()``. When it cannot be linked (or ``copy``), it is copied and verified as any
        source."""
        source = self.parts.path(part.file_id, part.md5)
        if copy or not fingerprint.identity:
            return self._place_file(file_id, source, fingerprint, copy=True)
        final = self.path_for_id(file_id)
        try:
            os.link(source, final)
        except FileExistsError:
            raise ValueError(f"content for file {file_id.hex} already exists") from None
        except OSError:  # another filesystem, or links not allowed (a missing part: as missing)
            return self._place_file(file_id, source, fingerprint, copy=True)
        if file_identity(os.stat(final)) != fingerprint.identity:
            _remove_quietly(final)
            raise ValueError(f"the part of file {part.file_id.hex} changed since it was verified")
        return StoredContent(final, fingerprint.size, fingerprint.md5)

    def _place_file(self, file_id: uuid.UUID, source: str, fingerprint: SourceFingerprint,
                    copy: bool) -> StoredContent:
        """``place`` for a path: link or copy under a temporary name, flush, check, rename."""
        final = self.path_for_id(file_id)
        if os.path.exists(final):
            raise ValueError(f"content for file {file_id.hex} already exists")
        temporary = self.temporary_path()
        try:
            if not copy and _try_link(source, temporary):
                _fsync_file(temporary)
                if file_identity(os.stat(temporary)) != fingerprint.identity:
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

    def fingerprint_source(self, source: str | Part) -> SourceFingerprint:
        """A path is hashed; a part is not read again: its identity is the one noted when it
        was flushed (or, for a part left by an earlier batch, its file's now)."""
        if isinstance(source, Part):
            identity = source.identity or file_identity(os.stat(self.parts.path(source.file_id, source.md5)))
            return SourceFingerprint(source.size, source.md5, identity)
        return fingerprint(source)

    def remove(self, file_id: uuid.UUID) -> None:
        """Delete a file's content and derived content if they exist."""
        _remove_quietly(self.path_for_id(file_id))
        derived = os.path.join(self.root, DERIVED_DIRECTORY)
        if os.path.isdir(derived):
            for path in glob.glob(os.path.join(derived, f"{file_id.hex}.*")):
                _remove_quietly(path)

    def read_derived(self, file_id: uuid.UUID, name: str) -> bytes | None:
        path = os.path.join(self.root, DERIVED_DIRECTORY, checked_derived_name(file_id, name))
        try:
            with open(path, "rb") as reader:
                return reader.read()
        except FileNotFoundError:
            return None

    def write_derived(self, file_id: uuid.UUID, name: str, data: bytes) -> None:
        directory = os.path.join(self.root, DERIVED_DIRECTORY)
        final = os.path.join(directory, checked_derived_name(file_id, name))
        os.makedirs(directory, exist_ok=True)
        temporary = os.path.join(directory, f"{TEMPORARY_PREFIX}{uuid.uuid4().hex}")
        try:
            with open(temporary, "wb") as writer:
                writer.write(data)
            os.replace(temporary, final)
        finally:
            _remove_quietly(temporary)

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

    def stored_objects(self) -> Iterator[StoredObject]:
        for file_id in self.stored_ids():
            found = self.stat(file_id)
            if found is not None:
                yield found

    def stray_mtime(self, name: str) -> float | None:
        try:
            return os.path.getmtime(self._stray_path(name))
        except FileNotFoundError:
            return None

    def remove_stray(self, name: str) -> None:
        _remove_quietly(self._stray_path(name))

    def _stray_path(self, name: str) -> str:
        if os.sep in name or name in ("", ".", ".."):
            raise ValueError(f"not a name in the store: {name!r}")
        return os.path.join(self.root, name)

    def stray_files(self) -> list[str]:
        """Names in the store that are not content files (left-over temporaries, foreign files)."""
        strays = []
        for entry in os.scandir(self.root):
            if entry.name in _SKIPPED and entry.is_dir(follow_symlinks=False):
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


#: The directory store by the name the ``stores`` package uses.
DirectoryStore = FileStore
