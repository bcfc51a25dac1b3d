"""``meteorpi export run``: one export round, and a summary that names every state a task or
configuration can be left in (complete, failed, confused, deferred, held by a disabled
configuration)."""

from __future__ import annotations

from collections import Counter
from typing import Any, Callable

import click

from meteorpi_cli._common import data_options, emit_json, format_time, json_option, progress, settings

#: the outcomes of one task's export (MeteorExporter.ExportStateCache.state)
OUTCOMES = ("complete", "failed", "confused")


def mark_enabled(db) -> int:
    """Queue what every enabled configuration matches; the number of new tasks."""
    return sum(db.mark_entities_to_export(c) for c in db.get_export_configurations() if c.enabled)


def export_due(db, advance: Callable[[int], None] = lambda n: None) -> tuple[dict[str, int], set]:
    """Run export tasks until none is due: how many ended in each state (every state present),
    and the ids of the configurations that this run's failures disabled."""
    try:
        from meteorpi_fdb.exporter import MeteorExporter
    except ImportError as e:
        raise click.ClickException(f"the exporter is not available: {e}") from e
    exporter = MeteorExporter(db)
    outcomes: Counter[str] = Counter({state: 0 for state in OUTCOMES})
    disabled = set()
    try:
        while (result := exporter.handle_next_export()) is not None:
            outcomes[result.state] += 1
            if result.config_disabled:
                disabled.add(result.config_id)
            advance(1)
    finally:
        exporter.close()
    return dict(outcomes), disabled


def run_summary(db, marked: int, outcomes: dict[str, int], disabled_now: set) -> dict[str, Any]:
    """What the run did and what it left: tasks still pending in enabled configurations (deferred
    after a failure, or claimed elsewhere) with the earliest time one is due, and every disabled
    configuration with the tasks it holds."""
    rows = db.export_status()
    enabled = [row for row in rows if row["enabled"]]
    times = [row["next_export_time"] for row in enabled if row["pending"] and row["next_export_time"]]
    return {
        "marked": marked,
        "outcomes": outcomes,
        "deferred": sum(row["pending"] for row in enabled),
        "next_export_time": min(times) if times else None,
        "disabled_configs": [{"config_id": row["config_id"], "name": row["name"],
                              "pending": row["pending"],
                              "disabled_by_this_run": row["config_id"] in disabled_now}
                             for row in rows if not row["enabled"]],
    }


def summary_lines(summary: dict[str, Any]) -> list[str]:
    """The summary as a few lines of text, every state named even when its count is 0."""
    outcomes = summary["outcomes"]
    disabled = summary["disabled_configs"]
    held = sum(config["pending"] for config in disabled)
    deferred = f"{summary['deferred']} deferred"
    if summary["next_export_time"] is not None:
        deferred += f" until {format_time(summary['next_export_time'])}"
    lines = [f"Queued {summary['marked']} new tasks",
             "Exported: " + ", ".join(f"{outcomes[state]} {state}" for state in OUTCOMES),
             f"Pending: {deferred}, {held} held by disabled configurations"]
    if disabled:
        lines.append("Disabled configurations: " + ", ".join(
            f"{config['name']} ({config['pending']} pending"
            f"{', disabled by this run after repeated failures' if config['disabled_by_this_run'] else ''})"
            for config in disabled))
    else:
        lines.append("Disabled configurations: none")
    return lines


@click.command("run")
@data_options
@json_option
def run() -> None:
    """Export once: queue what the enabled configurations match, then send everything due.

    A failing target has its tasks deferred (see SPEC section 8), so a run always ends. The
    summary counts the tasks that completed, failed and confused the target, the tasks left
    deferred, and the disabled configurations. Exit code 1 when any export failed.
    """
    config = settings()
    db = config.open_db()
    marked = mark_enabled(db)
    due = sum(r["pending"] for r in db.export_status() if r["enabled"])
    with progress() as bar:
        task = bar.add_task("Exporting", total=due)
        outcomes, disabled_now = export_due(db, lambda n: bar.advance(task, n))
    summary = run_summary(db, marked, outcomes, disabled_now)
    if config.json:
        emit_json(summary)
    else:
        click.echo("\n".join(summary_lines(summary)))
    if outcomes["failed"] or outcomes["confused"]:
        click.get_current_context().exit(1)
