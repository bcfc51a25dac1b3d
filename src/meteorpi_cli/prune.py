"""``meteorpi prune``: apply the node's retention policy (see ``meteorpi_fdb.housekeeping``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click
from rich.table import Table

from meteorpi_cli._common import (console, data_options, emit_json, format_time, json_option, progress,
                                  settings)

if TYPE_CHECKING:
    from meteorpi_fdb._housekeeping import PruneResult
    from meteorpi_fdb.housekeeping import HousekeepingPolicy


def housekeeping_policy(**overrides: Any) -> "HousekeepingPolicy":
    """The node's HousekeepingPolicy from the MPI_* settings (environment, MPI_CONFIG), with
    command-line ``overrides`` (None means "as configured")."""
    from meteorpi_fdb.housekeeping import HousekeepingPolicy, parse_prune_order
    from meteorpi_server.settings import load_settings

    if overrides.get("prune_order") is not None:
        overrides["prune_order"] = parse_prune_order(overrides["prune_order"])
    return HousekeepingPolicy.from_settings(load_settings(), **overrides)


def prune_report(result: "PruneResult") -> dict[str, Any]:
    """A prune's result in JSON form."""
    return {
        "dry_run": result.dry_run,
        "files": [{"file_id": f.file_id, "camera_id": f.camera_id, "semantic_type": f.semantic_type,
                   "file_time": f.file_time, "file_size": f.file_size, "had_content": f.had_content}
                  for f in result.files],
        "count": len(result.files),
        "bytes_freed": result.bytes_freed,
        "by_semantic_type": result.by_semantic_type(),
        "kept_for_export": result.protected,
        "records_removed": result.records_removed,
    }


@click.command()
@data_options
@json_option
@click.option("--retain-nights", type=click.IntRange(1), default=None,
              help="Nights always kept [default: MPI_RETAIN_NIGHTS].")
@click.option("--order", "prune_order", metavar="TYPES", default=None,
              help="Semantic types to prune, comma-separated, first pruned first; '*' = any other "
                   "type [default: MPI_PRUNE_ORDER].")
@click.option("--records/--keep-records", "remove_records", default=None,
              help="Also delete the pruned files' records [default: MPI_PRUNE_RECORDS].")
@click.option("--to-quota", is_flag=True,
              help="Only free what gets the storage under the high-water mark (MPI_QUOTA_HIGH_WATER).")
@click.option("--dry-run", is_flag=True, help="List what would go and the bytes it frees; change nothing.")
def prune(retain_nights: int | None, prune_order: str | None, remove_records: bool | None,
          to_quota: bool, dry_run: bool) -> None:
    """Remove the content of files older than the kept nights, in the prune order.

    Records stay searchable (their content answers 410 Gone) unless --records. Files an export
    configuration has not yet delivered to its target are always kept.
    """
    config = settings()
    policy = housekeeping_policy(retain_nights=retain_nights, prune_order=prune_order,
                                 remove_records=remove_records)
    db = config.open_db()
    bytes_to_free = None
    if to_quota:
        if policy.high_water is None:
            raise click.ClickException("--to-quota needs a high-water mark (MPI_QUOTA_HIGH_WATER)")
        bytes_to_free = db.bytes_over_quota(policy)
    with progress() as bar:
        task = bar.add_task("Pruning", total=None)
        result = db.prune(policy, bytes_to_free=bytes_to_free, dry_run=dry_run,
                          advance=lambda n: bar.advance(task, n))
    if config.json:
        emit_json(prune_report(result))
    else:
        _print(result)


def _print(result: "PruneResult") -> None:
    out = console()
    if result.dry_run and result.files:
        table = Table("time", "camera", "semantic type", "bytes", "file id", box=None, header_style="bold")
        for f in result.files:
            table.add_row(format_time(f.file_time), f.camera_id, f.semantic_type,
                          f"{f.file_size:,}" if f.had_content else "(pruned)", f.file_id.hex)
        out.print(table)
    verb = "Would prune" if result.dry_run else "Pruned"
    records = " and their records" if result.records_removed else ""
    out.print(f"{verb} {len(result.files)} files{records}, {result.bytes_freed:,} bytes")
    for semantic_type, entry in result.by_semantic_type().items():
        out.print(f"  {semantic_type}: {entry['files']} files, {entry['bytes']:,} bytes")
    if result.protected:
        out.print(f"Kept {result.protected} old files that an export has not yet delivered")
