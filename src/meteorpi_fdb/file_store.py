"""The directory that holds file content, one flat file per FileRecord named by its UUID.

Durability rule (SPEC section 10): no database row may point at content that is not fully on
disk. Content is written under a temporary name inside the store, flushed to disk, verified and
renamed into place *before* the row is committed; if the commit fails, the content is taken out
again (moved back to where it came from, or deleted). A crash at any moment leaves at worst an
orphan file or a ``.tmp-*`` file, both of which
``MeteorDatabase.check_file_store()`` reports.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Iterator

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
        os.makedirs(self.root, exist_ok=True)

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

    @contextmanager
    def adding(self, file_id: uuid.UUID, source_path: str | os.PathLike) -> Iterator[StoredContent]:
        """Move ``source_path`` into the store as ``file_id``'s content for the body of the block.

        If the block raises (the row's transaction failed), the content goes back where it came
        from and the error propagates. On success the source no longer exists.
        """
        source = os.path.abspath(os.fspath(source_path))
        if not os.path.isfile(source):
            raise ValueError(f"file_path {source_path!s} is not a readable file")
        final = self.path_for_id(file_id)
        if os.path.exists(final):
            raise ValueError(f"content for file {file_id.hex} already exists")
        size, md5 = _size_and_md5(source)
        moved = _try_rename(source, final)
        if moved:
            _fsync_file(final)
        else:
            temporary = self.temporary_path()
            try:
                with open(source, "rb") as reader:
                    size, md5 = self._write_synced(reader, temporary)
                os.replace(temporary, final)
            finally:
                _remove_quietly(temporary)
        _fsync_directory(self.root)
        try:
            yield StoredContent(final, size, md5)
        except BaseException:
            if moved:
                os.replace(final, source)
            else:
                _remove_quietly(final)
            raise
        if not moved:
            os.remove(source)

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


def _size_and_md5(path: str) -> tuple[int, str]:
    digest = hashlib.md5(usedforsecurity=False)
    size = 0
    with open(path, "rb") as reader:
        while chunk := reader.read(CHUNK_SIZE):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


def _try_rename(source: str, target: str) -> bool:
    """Rename when source and target share a filesystem; False when they do not."""
    try:
        os.link(source, target)
    except OSError:
        return False
    os.remove(source)
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
