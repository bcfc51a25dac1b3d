"""Owner-only permissions for what holds secrets at rest: the SQLite database (export target
passwords, password hashes) with its ``-wal`` / ``-shm`` files, and the file store.

New ones are created owner-only (files 0600, directories 0700) whatever the umask; existing ones
are left as they are (an administrator may have opened them up on purpose), and
:func:`permission_problems` says which are readable by others (``meteorpi db info`` warns).
SQLite creates its ``-wal`` and ``-shm`` files with the database file's permissions.
"""

from __future__ import annotations

import os
import stat

__all__ = ["create_private_directory", "create_private_file", "permission_problems", "sqlite_files"]

OWNER_ONLY_FILE = 0o600
OWNER_ONLY_DIRECTORY = 0o700


def create_private_directory(path: str | os.PathLike) -> None:
    """Create ``path`` (and missing parents, with the usual permissions) if it does not exist;
    the directory itself is made owner-only."""
    path = os.fspath(path)
    if os.path.isdir(path):
        return
    parent = os.path.dirname(os.path.abspath(path))
    os.makedirs(parent, exist_ok=True)
    try:
        os.mkdir(path, OWNER_ONLY_DIRECTORY)
    except FileExistsError:  # made meanwhile by another process: theirs to set
        return
    os.chmod(path, OWNER_ONLY_DIRECTORY)  # mkdir's mode is filtered by the umask


def create_private_file(path: str | os.PathLike) -> None:
    """Create ``path`` empty and owner-only if it does not exist (an empty file is a valid new
    SQLite database)."""
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, OWNER_ONLY_FILE)
    except FileExistsError:
        return
    try:
        os.fchmod(descriptor, OWNER_ONLY_FILE)
    finally:
        os.close(descriptor)


def sqlite_files(database: str) -> list[str]:
    """The database file and the ``-wal`` / ``-shm`` files beside it."""
    return [database, database + "-wal", database + "-shm"]


def permission_problems(files: list[str], directories: list[str]) -> list[str]:
    """One message per existing file or directory that other users can read, write or enter."""
    problems = []
    for path, kind, wanted in [(f, "file", OWNER_ONLY_FILE) for f in files] + [
            (d, "directory", OWNER_ONLY_DIRECTORY) for d in directories]:
        try:
            mode = stat.S_IMODE(os.stat(path).st_mode)
        except FileNotFoundError:
            continue
        if mode & 0o077:
            problems.append(f"{kind} {path} is accessible to other users (mode {mode:04o}; "
                            f"it holds secrets: chmod {wanted:o} {path})")
    return problems
