"""``meteorpi store``: the file store itself (moving it between a directory and a bucket)."""

from __future__ import annotations

import click

from meteorpi_cli._common import console, data_options, emit_json, json_option, progress, settings


@click.group("store")
def store() -> None:
    """The node's file store: a directory or an S3-compatible bucket (docs/object-storage.md)."""


@store.command("migrate")
@data_options
@json_option
@click.option("--to", "target", required=True, metavar="LOCATION",
              help="Where to copy the content: a directory or s3://bucket/prefix.")
def migrate(target: str) -> None:
    """Copy every stored file to another store (directory → bucket or back), verifying each.

    Resumable: run it again after an interruption and it skips what the target holds verified.
    The source is left as it is; point MPI_FILE_STORE at the target once it reports no failures.
    Exit code 1 when any file failed.
    """
    from meteorpi_fdb.stores import open_file_store
    from meteorpi_fdb.stores.migrate import migrate_store

    config = settings()
    db = config.open_db()
    destination = open_file_store(target)
    if destination.location == db.file_store.location:
        raise click.ClickException("the target is the store itself")
    md5s = db.recorded_md5s()
    total = db.file_store.used_bytes()
    with progress() as bar:
        task = bar.add_task(f"Copying to {destination.location}", total=total)
        result = migrate_store(db.file_store, destination, md5s, lambda n: bar.advance(task, n))
    if config.json:
        emit_json({"target": destination.location, **result.as_dict()})
    else:
        out = console()
        out.print(f"Copied {len(result.copied)} files ({result.bytes_copied} bytes) to {destination.location}; "
                  f"{len(result.skipped)} were there already, verified")
        for name, why in result.failed.items():
            out.print(f"failed: {name}: {why}")
    if result.failed:
        click.get_current_context().exit(1)
