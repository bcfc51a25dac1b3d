"""``meteorpi register``: ingest files and events listed in a manifest (see ``manifest``).

Registration goes through the data layer's batch write path (``MeteorDatabase.batch()``): an
event commits with its files or not at all, a moved source is removed only after its row
commits, and what is registered already is skipped, so an interrupted run (even ``kill -9``)
is finished by running the same command again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import click

from meteorpi_cli._common import (data_options, emit_json, format_time, json_option, progress,
                                  settings)
from meteorpi_cli.manifest import Manifest, ManifestEvent, ManifestFile, load_manifest
from meteorpi_fdb import DUPLICATE, FAILED, REGISTERED

DEFAULT_BATCH_SIZE = 200


@dataclass
class RegisterResult:
    """What a registration did: entities stored or found (in manifest order), the count of
    each outcome (over the manifest's stand-alone files and events) and each failure."""

    files: list = field(default_factory=list)
    events: list = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=lambda: {REGISTERED: 0, DUPLICATE: 0, FAILED: 0})
    errors: list[dict[str, str]] = field(default_factory=list)

    def summary(self) -> str:
        return (f"{self.counts[REGISTERED]} registered, {self.counts[DUPLICATE]} already registered, "
                f"{self.counts[FAILED]} failed")

    def as_dict(self) -> dict[str, Any]:
        return {"files": self.files, "events": self.events, "registered": self.counts[REGISTERED],
                "already_registered": self.counts[DUPLICATE], "failed": self.counts[FAILED],
                "errors": self.errors}


def check_statuses(db, manifest: Manifest) -> None:
    """Every file and event needs a camera status in force at its time: check them all first."""
    for item in manifest.all_files() + manifest.events:
        camera = item.camera_id or db.installation_id
        if db.get_camera_status(item.time, camera) is None:
            raise ValueError(f"camera {camera} has no status in force at {format_time(item.time)} "
                             f"(set one with 'meteorpi camera set')")


def make_room(db, manifest: Manifest) -> None:
    """Before registering: prune if the quota's high-water mark is reached, and refuse the
    manifest (StorageFullError, nothing written) if it would take free space below the hard
    floor. Files an interrupted run already moved in count for nothing."""
    from meteorpi_cli.prune import housekeeping_policy

    incoming = sum(item.path.stat().st_size for item in manifest.all_files() if item.path.exists())
    db.enforce_quota(housekeeping_policy(), incoming_bytes=incoming)


def register_manifest(db, manifest: Manifest, copy: bool, advance: Callable[[int], None] = lambda n: None,
                      allow_duplicates: bool = False, batch_size: int = DEFAULT_BATCH_SIZE) -> RegisterResult:
    """Register the manifest's stand-alone files and events, ``batch_size`` entries per batch
    (one transaction each). Files are moved into the store, or with ``copy`` copied."""
    result = RegisterResult()
    entries: list[ManifestFile | ManifestEvent] = [*manifest.files, *manifest.events]
    for start in range(0, len(entries), batch_size):
        chunk = entries[start : start + batch_size]
        with db.batch(allow_duplicates=allow_duplicates, copy=copy) as batch:
            items = [_add(db, batch, entry) for entry in chunk]
        for entry, item in zip(chunk, items):
            result.counts[item.outcome] += 1
            if item.outcome == FAILED:
                result.errors.append({"entry": entry.where, "message": item.error})
            else:
                (result.events if isinstance(entry, ManifestEvent) else result.files).append(item.entity)
        advance(len(chunk))
    return result


def _add(db, batch, entry: ManifestFile | ManifestEvent):
    if isinstance(entry, ManifestFile):
        return _add_file(db, batch, entry)
    files = [_add_file(db, batch, item) for item in entry.files]
    return batch.add_event(entry.camera_id or db.installation_id, entry.time, entry.event_type, files, entry.meta)


def _add_file(db, batch, item: ManifestFile):
    return batch.add_file(str(item.path), item.mime_type, item.semantic_type, item.time, item.meta,
                          camera_id=item.camera_id or db.installation_id, file_name=item.file_name)


@click.command()
@data_options
@json_option
@click.argument("manifest_path", metavar="MANIFEST", type=click.Path(exists=True, dir_okay=False))
@click.option("--camera", "camera_id", help="Default camera id [default: the manifest's, "
                                            "else this node's installation id].")
@click.option("--copy", is_flag=True, help="Copy the files into the store (default: move them).")
@click.option("--allow-duplicates", is_flag=True,
              help="Register entries again even when they are registered already "
                   "(same camera, time, type and MD5s).")
@click.option("--batch-size", default=DEFAULT_BATCH_SIZE, show_default=True, type=click.IntRange(1),
              help="Manifest entries (stand-alone files or events) committed per transaction.")
def register(manifest_path: str, camera_id: str | None, copy: bool, allow_duplicates: bool,
             batch_size: int) -> None:
    """Register the files and events listed in MANIFEST (JSON or YAML).

    The whole manifest is checked first (fields, times, files, camera statuses); nothing is
    registered unless all of it is valid. Each event commits with its files, and a moved file
    leaves its source only once committed; entries registered already are skipped, so running
    the same command again finishes an interrupted run. Before anything is registered the disk
    quota (MPI_QUOTA_*) is kept: old content is pruned at the high-water mark, and below the
    floor nothing is registered. The format is in docs/cli.md. Exit code 1 when any entry failed.
    """
    config = settings()
    # In move mode a listed file may be gone because an interrupted run moved it in already.
    manifest = load_manifest(manifest_path, camera_id, require_files=copy or allow_duplicates)
    db = config.open_db(create=True)
    check_statuses(db, manifest)
    make_room(db, manifest)
    with progress() as bar:
        task = bar.add_task("Registering", total=len(manifest.files) + len(manifest.events))
        result = register_manifest(db, manifest, copy, lambda n: bar.advance(task, n),
                                   allow_duplicates=allow_duplicates, batch_size=batch_size)
    if config.json:
        emit_json(result.as_dict())
    else:
        linked = sum(len(e.file_records) for e in result.events)
        click.echo(f"{result.summary()} ({len(result.files)} files and {len(result.events)} events, "
                   f"with {linked} files)")
        for error in result.errors:
            click.echo(f"{error['entry']}: {error['message']}", err=True)
    if result.errors:
        click.get_current_context().exit(1)
