"""``meteorpi fsck``: check the file store against the database."""

from __future__ import annotations

import os
import time
from typing import Any, Callable

import click
from rich.table import Table

import meteorpi_model as model
from meteorpi_cli._common import console, data_options, emit_json, json_option, progress, settings

PAGE_SIZE = 500
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
            problem = _check_content(db.file_store, record)
            if problem:
                problems.append({"file_id": record.file_id.hex, **problem})
            advance(1)
        checked += len(page)
        skip += len(page)
        if len(page) < PAGE_SIZE:
            return checked, problems


def _check_content(store, record: model.FileRecord) -> dict[str, str] | None:
    found = store.stat(record.file_id)
    if found is None:
        return {"problem": "missing", "detail": f"no content at {store.path_for_id(record.file_id)}"}
    if found.size != record.file_size:
        return {"problem": "size", "detail": f"{found.size} bytes on disk, {record.file_size} in the record"}
    try:
        _size, md5 = store.hash_content(record.file_id)
    except FileNotFoundError:
        return {"problem": "missing", "detail": f"no content at {store.path_for_id(record.file_id)}"}
    if record.md5 and md5 != record.md5:
        return {"problem": "md5", "detail": f"MD5 {md5} on disk, {record.md5} in the record"}
    return None


def find_orphans(db) -> dict[str, Any]:
    """What no record accounts for: ``pending`` (ids of content uploaded through the import API,
    waiting for its record), ``orphans`` (other content without a row, as data-layer ``Orphan``
    values), ``temporaries`` (left-over partial writes), ``foreign`` (anything else
    in the store) and ``staging`` (left-over ``.register-*`` directories beside the store)."""
    from meteorpi_fdb.stores.base import TEMPORARY_PREFIX

    strays = db.check_file_store()["strays"]
    pending = {upload["file_id"] for upload in db.pending_uploads()}
    orphans = db.find_orphans()
    return {
        "pending": [orphan.file_id.hex for orphan in orphans if orphan.file_id in pending],
        "orphans": [orphan for orphan in orphans if orphan.file_id not in pending],
        "temporaries": [name for name in strays if name.startswith(TEMPORARY_PREFIX)],
        "foreign": [name for name in strays if not name.startswith(TEMPORARY_PREFIX)],
        "staging": db.find_staging_directories(),
    }


def restore(db, found: dict[str, Any], directory: str) -> dict[str, str]:
    """Copy every orphan that is the only copy of its content out to ``directory``;
    ``{file id hex: restored path}``."""
    return {orphan.file_id.hex: db.restore_orphan(orphan, directory)
            for orphan in found["orphans"] if orphan.only_copy}


def repair(db, found: dict[str, Any], restored: dict[str, str], grace_seconds: float) -> list[str]:
    """Delete, when older than ``grace_seconds``: temporaries, orphans that are not the only
    copy of their content (a registered file has the same bytes, or it was just restored) and
    staging directories holding nothing of value. Returns the names removed.

    The grace period spares files a running registration or import is about to commit.
    """
    removed = []
    oldest = time.time() - grace_seconds
    for name in found["temporaries"]:
        mtime = db.file_store.stray_mtime(name)
        if mtime is not None and mtime <= oldest:
            db.file_store.remove_stray(name)
            removed.append(name)
    for orphan in found["orphans"]:
        if orphan.mtime > oldest or (orphan.only_copy and orphan.file_id.hex not in restored):
            continue
        try:
            db.remove_orphan(orphan, restored.get(orphan.file_id.hex))
            removed.append(orphan.file_id.hex)
        except (ValueError, FileNotFoundError):
            continue  # committed or changed meanwhile: leave it
    for staging in found["staging"]:
        if staging.unregistered or os.path.getmtime(staging.path) > oldest:
            continue
        try:
            db.remove_staging_directory(staging)
            removed.append(os.path.basename(staging.path))
        except (ValueError, OSError):
            continue
    return removed


@click.command()
@data_options
@json_option
@click.option("--repair", "do_repair", is_flag=True,
              help="Delete left-over temporary files, orphan content that is not the only copy of "
                   "its bytes, empty .register-* directories and uploads whose record never "
                   "arrived (nothing else).")
@click.option("--restore", "restore_dir", type=click.Path(file_okay=False),
              help="Copy orphan content that is the only copy of its bytes out to this directory "
                   "(as <file id>); with --repair it then leaves the store.")
@click.option("--grace", default=DEFAULT_GRACE_SECONDS, show_default=True, type=click.IntRange(0),
              help="With --repair, only delete files (and pending uploads) older than this many "
                   "seconds.")
def fsck(do_repair: bool, restore_dir: str | None, grace: int) -> None:
    """Check every stored file against its record's size and MD5, and list orphans.

    Orphan content that is the only copy of its bytes is never deleted: --restore copies it
    out first. Content uploaded through the import API whose record has not arrived yet is
    listed as pending, apart from true orphans, and is not a problem. Exit code 1 when any
    problem remains.
    """
    config = settings()
    db = config.open_db()
    total = db.search_files(model.FileRecordSearch(limit=1))["count"]
    with progress() as bar:
        task = bar.add_task("Checking files", total=total)
        checked, problems = check_records(db, lambda n: bar.advance(task, n))
    expired = [file_id.hex for file_id in db.remove_expired_uploads(grace)] if do_repair else []
    found = find_orphans(db)
    restored = restore(db, found, restore_dir) if restore_dir else {}
    removed = expired + (repair(db, found, restored, grace) if do_repair else [])
    report = {
        "pending": found["pending"],
        "orphans": [o.file_id.hex for o in found["orphans"] if o.file_id.hex not in removed],
        "only_copies": [o.file_id.hex for o in found["orphans"] if o.only_copy and o.file_id.hex not in removed],
        "temporaries": [name for name in found["temporaries"] if name not in removed],
        "foreign": found["foreign"],
        "staging": [{"path": s.path, "entries": s.entries, "unregistered": s.unregistered}
                    for s in found["staging"] if os.path.basename(s.path) not in removed],
    }
    remaining = len(problems) + sum(len(report[key]) for key in ("orphans", "temporaries", "foreign", "staging"))
    if config.json:
        emit_json({"checked": checked, "problems": problems, **report, "restored": restored, "removed": removed})
    else:
        _report(checked, problems, report, restored, removed)
    if remaining:
        click.get_current_context().exit(1)


def _report(checked: int, problems: list[dict[str, Any]], report: dict[str, Any],
            restored: dict[str, str], removed: list[str]) -> None:
    out = console()
    out.print(f"Checked {checked} files: {len(problems)} with problems")
    if problems:
        table = Table("file id", "problem", "detail", box=None, header_style="bold")
        for problem in problems:
            table.add_row(problem["file_id"], problem["problem"], problem["detail"])
        out.print(table)
    for key, label in (("pending", "pending uploads (content waiting for its record)"),
                       ("orphans", "orphan content (no record)"),
                       ("temporaries", "left-over temporary files"),
                       ("foreign", "foreign files (left alone)")):
        if report[key]:
            out.print(f"{len(report[key])} {label}: {', '.join(report[key])}")
    if report["only_copies"]:
        out.print(f"{len(report['only_copies'])} of the orphans are the only copy of their content and "
                  f"are never deleted: copy them out with --restore DIR (then --repair may remove them)")
    for staging in report["staging"]:
        held = (f"{len(staging['unregistered'])} unregistered files (left alone)" if staging["unregistered"]
                else "nothing of value (--repair removes it)")
        out.print(f"left-over registration directory {staging['path']}: {staging['entries']} entries, {held}")
    if restored:
        out.print(f"Restored {len(restored)} to: {', '.join(restored.values())}")
    if removed:
        out.print(f"Removed {len(removed)}: {', '.join(removed)}")
