"""``meteorpi register``: ingest files and events listed in a manifest (see ``manifest``)."""

from __future__ import annotations

import shutil
import tempfile
import uuid
from pathlib import Path
from typing import Any

import click

from meteorpi_cli._common import data_options, emit_json, json_option, progress, settings
from meteorpi_cli.manifest import Manifest, ManifestFile, load_manifest


def check_statuses(db, manifest: Manifest) -> None:
    """Every file and event needs a camera status in force at its time: check them all first."""
    for item in manifest.all_files() + manifest.events:
        camera = item.camera_id or db.installation_id
        if db.get_camera_status(item.time, camera) is None:
            raise ValueError(f"camera {camera} has no status in force at {item.time.isoformat()} "
                             f"(set one with 'meteorpi camera set')")


def make_room(db, manifest: Manifest) -> None:
    """Before a batch: prune if the quota's high-water mark is reached, and refuse the batch
    (StorageFullError, nothing written) if it would take free space below the hard floor."""
    from meteorpi_cli.prune import housekeeping_policy

    incoming = sum(item.path.stat().st_size for item in manifest.all_files())
    db.enforce_quota(housekeeping_policy(), incoming_bytes=incoming)


def register_manifest(db, manifest: Manifest, copy: bool, advance=lambda n: None) -> dict[str, Any]:
    """Register the manifest's files, then its events; ``{"files": [...], "events": [...]}``.

    Files are moved into the store, or with ``copy`` copied first (originals stay).
    """
    staging = Path(tempfile.mkdtemp(prefix=".register-", dir=Path(db.file_store_path).parent)) if copy else None
    try:
        files = [_register_file(db, item, staging) for item in _advancing(manifest.files, advance)]
        events = []
        for event in _advancing(manifest.events, advance):
            records = [_register_file(db, item, staging) for item in event.files]
            events.append(db.register_event(event.camera_id or db.installation_id, event.time,
                                            event.event_type, records, event.meta))
    finally:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
    return {"files": files, "events": events}


def _advancing(items: list, advance):
    for item in items:
        yield item
        advance(1)


def _register_file(db, item: ManifestFile, staging: Path | None):
    source = item.path
    if staging is not None:
        source = staging / uuid.uuid4().hex
        shutil.copyfile(item.path, source)
    return db.register_file(str(source), item.mime_type, item.semantic_type, item.time, item.meta,
                            camera_id=item.camera_id or db.installation_id, file_name=item.file_name)


@click.command()
@data_options
@json_option
@click.argument("manifest_path", metavar="MANIFEST", type=click.Path(exists=True, dir_okay=False))
@click.option("--camera", "camera_id", help="Default camera id [default: the manifest's, "
                                            "else this node's installation id].")
@click.option("--copy", is_flag=True, help="Copy the files into the store (default: move them).")
def register(manifest_path: str, camera_id: str | None, copy: bool) -> None:
    """Register the files and events listed in MANIFEST (JSON or YAML).

    The whole manifest is checked first (fields, times, files, camera statuses); nothing is
    registered unless all of it is valid. Then the disk quota (MPI_QUOTA_*) is kept: old content
    is pruned at the high-water mark, and below the floor nothing is registered. The format is
    described in docs/cli.md.
    """
    config = settings()
    manifest = load_manifest(manifest_path, camera_id)
    db = config.open_db(create=True)
    check_statuses(db, manifest)
    make_room(db, manifest)
    with progress() as bar:
        task = bar.add_task("Registering", total=len(manifest.files) + len(manifest.events))
        result = register_manifest(db, manifest, copy, lambda n: bar.advance(task, n))
    if config.json:
        emit_json(result)
    else:
        linked = sum(len(e.file_records) for e in result["events"])
        click.echo(f"Registered {len(result['files'])} files and {len(result['events'])} events "
                   f"(with {linked} files)")
