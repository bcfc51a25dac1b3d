"""The one piece of I/O in the model: hashing a file's content."""

import hashlib
import os

_CHUNK_SIZE = 1 << 20


def get_md5_hash(path: str | os.PathLike) -> str:
    """The MD5 of the file at ``path`` as 32 lower-case hex digits, read in 1 MiB chunks."""
    md5 = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK_SIZE):
            md5.update(chunk)
    return md5.hexdigest()
