"""``meteorpi fsck``: check the file store against the database."""

from __future__ import annotations

import hashlib
import os
import time
from typing import Any, Callable

import click
from rich.table import Table

import meteorpi_model as model
from meteorpi_cli._common import console, data_options, emit_json, json_option, progress, settings

PAGE_SIZE = 500
CHUNK_SIZE = 1024 * 1024
DEFAULT_GRACE_SECONDS = 3600


def check_records(db, advance: Callable[[int], None] = lambda n: None) -> tuple[int, list[dict[str, Any]]]:
    """Check every file record's content for presence, size and MD5 (records whose content
    was pruned are skipped).

    Returns ``(records checked, problems)``; each problem is ``{"file_id", "problem", "detail"}``
    with ``problem`` one of ``missing``, ``size``, ``md5``.
    """
    problems: list[dict[str, Any]] = []
    checked, skip = 0, 0
    pruned = db.pruned_file_ids()  # content removed on purpose by 'meteorpi prune'
    while True:
        page = db.search_files(model.FileRecordSearch(limit=PAGE_SIZE, skip=skip))["files"]
        for record in page:
            if record.file_id in pruned:
                advance(1)
                continue
            problem = _check_content(db.file_path_for_id(record.file_id), record)
            if problem:
                problems.append({"file_id": record.file_id.hex, **problem})
            advance(1)
        checked += len(page)
        skip += len(page)
        if len(page) < PAGE_SIZE:
            return checked, problems


def _check_content(path: str, record: model.FileRecord) -> dict[str, str] | None:
    if not os.path.isfile(path):
        return {"problem": "missing", "detail": f"no content at {path}"}
    size = os.path.getsize(path)
    if size != record.file_size:
        return {"problem": "size", "detail": f"{size} bytes on disk, {record.file_size} in the record"}
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as reader:
        while chunk := reader.read(CHUNK_SIZE):
            digest.update(chunk)
    if record.md5 and digest.hexdigest() != record.md5:
        return {"problem": "md5", "detail": f"MD5 {digest.hexdigest()} on disk, {record.md5} in the record"}
    return None


def find_orphans(db) -> dict[str, list[str]]:
    """Names in the store no record accounts for: ``orphans`` (content without a row),
    ``temporaries`` (left-over partial writes) and ``foreign`` (anything else)."""
    from meteorpi_fdb.file_store import TEMPORARY_PREFIX

    found = db.check_file_store()
    strays = found["strays"]
    return {
        "orphans": [file_id.hex for file_id in found["orphans"]],
        "temporaries": [name for name in strays if name.startswith(TEMPORARY_PREFIX)],
        "foreign": [name for name in strays if not name.startswith(TEMPORARY_PREFIX)],
    }


def repair(db, orphans: dict[str, list[str]], grace_seconds: float) -> list[str]:
    """Delete orphan content and temporaries older than ``grace_seconds``; the names removed.

    The grace period spares files a running registration or import is about to commit.
    """
    removed = []
    oldest = time.time() - grace_seconds
    for name in orphans["orphans"] + orphans["temporaries"]:
        path = os.path.join(db.file_store_path, name)
        try:
            if os.path.getmtime(path) <= oldest:
                os.remove(path)
                removed.append(name)
        except FileNotFoundError:
            continue
    return removed


@click.command()
@data_options
@json_option
@click.option("--repair", "do_repair", is_flag=True,
              help="Delete orphan content and left-over temporary files (nothing else).")
@click.option("--grace", default=DEFAULT_GRACE_SECONDS, show_default=True, type=click.IntRange(0),
              help="With --repair, only delete files older than this many seconds.")
def fsck(do_repair: bool, grace: int) -> None:
    """Check every stored file against its record's size and MD5, and list orphans.

    Exit code 1 when any problem remains.
    """
    config = settings()
    db = config.open_db()
    total = db.search_files(model.FileRecordSearch(limit=1))["count"]
    with progress() as bar:
        task = bar.add_task("Checking files", total=total)
        checked, problems = check_records(db, lambda n: bar.advance(task, n))
    orphans = find_orphans(db)
    removed = repair(db, orphans, grace) if do_repair else []
    for key in ("orphans", "temporaries"):
        orphans[key] = [name for name in orphans[key] if name not in removed]
    remaining = len(problems) + sum(len(names) for names in orphans.values())
    if config.json:
        emit_json({"checked": checked, "problems": problems, **orphans, "removed": removed})
    else:
        _report(checked, problems, orphans, removed)
    if remaining:
        click.get_current_context().exit(1)


def _report(checked: int, problems: list[dict[str, Any]], orphans: dict[str, list[str]],
            removed: list[str]) -> None:
    out = console()
    out.print(f"Checked {checked} files: {len(problems)} with problems")
    if problems:
        table = Table("file id", "problem", "detail", box=None, header_style="bold")
        for problem in problems:
            table.add_row(problem["file_id"], problem["problem"], problem["detail"])
        out.print(table)
    for key, label in (("orphans", "orphan content (no record)"),
                       ("temporaries", "left-over temporary files"),
                       ("foreign", "foreign files (left alone)")):
        if orphans[key]:
            out.print(f"{len(orphans[key])} {label}: {', '.join(orphans[key])}")
    if removed:
        out.print(f"Removed {len(removed)}: {', '.join(removed)}")
