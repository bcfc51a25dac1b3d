"""What a crash can leave beside the file store, and how to dispose of it without losing data
(a mixin of ``MeteorDatabase``, used by ``meteorpi fsck``).

An *orphan* is content in the store with no row. Registration removes a source only after its
row commits, so an orphan it leaves is a copy of a source that still exists; but orphans from
older versions, or from an import whose rows never arrived, may be the only copy there is.
Nothing here deletes such content: an orphan may be removed only when a registered file holds
the same bytes (same size and MD5), or after it has been restored (copied out and verified).
Orphans are not adopted (registered back): the camera, time and type they belong to are not
recorded anywhere but in the lost row, so restoring them for a person to re-register is the
honest choice.

``.register-*`` directories beside the store are staging directories of older ``meteorpi
register --copy`` runs that were killed.
"""

from __future__ import annotations

import os
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from meteorpi_fdb import schema
from meteorpi_fdb._record_rows import ID_BATCH
from meteorpi_fdb.file_store import _fsync_directory, _fsync_file
from meteorpi_fdb.stores.base import CHUNK_SIZE, fingerprint

STAGING_PREFIX = ".register-"


@dataclass(frozen=True)
class Orphan:
    """Content in the store with no row: its id, size, MD5, modification time (epoch seconds)
    and the id (hex) of a registered file with the same bytes, if any."""

    file_id: uuid.UUID
    size: int
    md5: str
    mtime: float
    registered_copy: str | None

    @property
    def only_copy(self) -> bool:
        return self.registered_copy is None


@dataclass(frozen=True)
class StagingDirectory:
    """A left-over ``.register-*`` directory: its path, and the names in it whose content is
    not registered (empty when it holds nothing of value)."""

    path: str
    entries: int
    unregistered: list[str]


class StoreCheckMixin:
    """Orphans and staging left-overs: report, restore, remove safely."""

    def find_orphans(self) -> list[Orphan]:
        """Every orphan in the store, with whether a registered file holds the same bytes."""
        orphans = self.check_file_store()["orphans"]
        facts = {}
        for file_id in orphans:
            stored = self.file_store.stat(file_id)
            try:
                if stored is not None:
                    facts[file_id] = (self.file_store.hash_content(file_id), stored.mtime)
            except FileNotFoundError:
                continue  # committed or removed meanwhile
        registered = self._registered_md5s({found for found, _mtime in facts.values()})
        return [Orphan(file_id, size, md5, mtime, registered.get((size, md5)))
                for file_id, ((size, md5), mtime) in facts.items()]

    def restore_orphan(self, orphan: Orphan, directory: str | os.PathLike) -> str:
        """Copy an orphan's content out to ``directory`` (as ``<file id>``), flushed and
        verified; return the path. The store keeps its copy."""
        os.makedirs(directory, exist_ok=True)
        target = os.path.join(os.fspath(directory), orphan.file_id.hex)
        partial = target + ".part"
        with self.file_store.open(orphan.file_id) as reader, open(partial, "wb") as writer:
            while chunk := reader.read(CHUNK_SIZE):
                writer.write(chunk)
        _fsync_file(partial)
        copied = fingerprint(partial)
        if (copied.size, copied.md5) != (orphan.size, orphan.md5):
            os.remove(partial)
            raise ValueError(f"restoring {orphan.file_id.hex}: the copy does not match the content")
        os.replace(partial, target)
        _fsync_directory(os.fspath(directory))
        return target

    def remove_orphan(self, orphan: Orphan, restored_to: str | None = None) -> None:
        """Delete an orphan's content, which must not be the only copy: a registered file holds
        the same bytes, or it was restored to ``restored_to`` (checked again here)."""
        if orphan.only_copy:
            if restored_to is None:
                raise ValueError(f"{orphan.file_id.hex} is the only copy of its content: restore it first")
            copy = fingerprint(restored_to)
            if (copy.size, copy.md5) != (orphan.size, orphan.md5):
                raise ValueError(f"{restored_to} does not hold the content of {orphan.file_id.hex}")
        current = self.file_store.hash_content(orphan.file_id)
        if current != (orphan.size, orphan.md5) or self.has_file_id(orphan.file_id):
            raise ValueError(f"{orphan.file_id.hex} changed since it was checked")
        self.file_store.remove(orphan.file_id)

    def find_staging_directories(self) -> list[StagingDirectory]:
        """Left-over ``.register-*`` directories beside the store, with their unregistered files."""
        if self.file_store.root is None:
            return []  # registration stages beside a local store only
        parent = Path(self.file_store.root).parent
        found = []
        for directory in sorted(parent.glob(f"{STAGING_PREFIX}*")):
            if not directory.is_dir() or directory.is_symlink():
                continue
            names = sorted(entry.name for entry in directory.iterdir())
            files = {name: fingerprint(str(directory / name)) for name in names if (directory / name).is_file()}
            registered = self._registered_md5s({(f.size, f.md5) for f in files.values()})
            unregistered = [name for name in names
                            if name not in files or (files[name].size, files[name].md5) not in registered]
            found.append(StagingDirectory(str(directory), len(names), unregistered))
        return found

    def remove_staging_directory(self, staging: StagingDirectory) -> None:
        """Delete a staging directory that holds nothing of value (checked again here)."""
        [current] = [s for s in self.find_staging_directories() if s.path == staging.path] or [None]
        if current is None:
            return
        if current.unregistered:
            raise ValueError(f"{staging.path} holds files that are not registered")
        shutil.rmtree(current.path)

    def _registered_md5s(self, keys: set[tuple[int, str]]) -> dict[tuple[int, str], str]:
        """(size, md5) → id (hex) of a registered file with those bytes, for those of ``keys``."""
        md5s = sorted({md5 for _size, md5 in keys})
        found: dict[tuple[int, str], str] = {}
        files = schema.t_file
        with self.connection() as connection:
            for start in range(0, len(md5s), ID_BATCH):
                statement = select(files.c.filesize, files.c.md5hex, files.c.fileid).where(
                    files.c.md5hex.in_(md5s[start : start + ID_BATCH]))
                for row in connection.execute(statement):
                    found.setdefault((row.filesize, row.md5hex), row.fileid)
        return found
