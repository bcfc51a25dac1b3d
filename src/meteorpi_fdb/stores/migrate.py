"""Copy a file store's content to another store (a directory to a bucket, or back), verifying
every object; run again after an interruption, it skips what is already there and verified.

Every content object of the source is copied with its MD5 checked on the way in (the bucket
store checks ``Content-MD5`` per part) and read back from the target to check size and MD5
again. The MD5 expected is the file record's when there is one, so content that rotted in the
source is reported, not copied. Replication parts and derived content (thumbnails, made again
on demand) are not copied; the source is never changed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Callable, Mapping

from meteorpi_fdb.stores.base import ContentStore, StoredObject

logger = logging.getLogger("meteorpi.db")


@dataclass
class MigrationResult:
    """What a migration did: ids (hex) copied, already present and verified, and failed (with
    why)."""

    copied: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    bytes_copied: int = 0

    def as_dict(self) -> dict:
        return {"copied": len(self.copied), "skipped": len(self.skipped), "failed": self.failed,
                "bytes_copied": self.bytes_copied}


def migrate_store(source: ContentStore, target: ContentStore, md5s: Mapping[str, str | None],
                  advance: Callable[[int], None] = lambda n: None) -> MigrationResult:
    """Copy every content object of ``source`` to ``target``; ``md5s`` maps file ids (hex) of
    registered files to their recorded MD5. ``advance(bytes)`` is called as objects are done."""
    result = MigrationResult()
    for found in sorted(source.stored_objects(), key=lambda o: o.file_id.hex):
        name = found.file_id.hex
        try:
            if _copy(source, target, found, md5s.get(name)):
                result.copied.append(name)
                result.bytes_copied += found.size
            else:
                result.skipped.append(name)
        except (ValueError, OSError) as error:
            logger.warning("store migrate: %s: %s", name, error)
            result.failed[name] = str(error)
        advance(found.size)
    return result


def _copy(source: ContentStore, target: ContentStore, found: StoredObject, recorded: str | None) -> bool:
    """Copy one object unless the target holds it verified already; True when copied."""
    expected = recorded or source.hash_content(found.file_id)[1]
    present = target.stat(found.file_id)
    if present is not None:
        if present.size == found.size and target.hash_content(found.file_id) == (found.size, expected):
            return False
        target.remove(found.file_id)  # a partial or different copy from an earlier attempt
    with source.open(found.file_id) as reader:
        target.put_stream(found.file_id, reader, expected)
    if target.hash_content(found.file_id) != (found.size, expected):
        target.remove(found.file_id)
        raise ValueError(f"the copy of {found.file_id.hex} does not read back as written")
    return True
