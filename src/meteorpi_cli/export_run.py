"""``meteorpi export run``: one export round, and a summary that names every state a task or
configuration can be left in (complete, failed, confused, deferred, held by a disabled
configuration)."""

from __future__ import annotations

from collections import Counter
from typing import Any, Callable

import click

from meteorpi_cli._common import data_options, emit_json, format_time, json_option, settings

#: the outcomes of one task's export (MeteorExporter.ExportStateCache.state)
OUTCOMES = ("complete", "failed", "confused")


def export_due(db, deadline=None) -> tuple[int, dict[str, int], set, Any]:
    """Queue what the enabled configurations match, then run export tasks until none is due (in
    v2 batches where the target speaks v2), with a progress display: the number of tasks
    queued, how many ended in each state (every state present), the ids of the configurations
    that this run's failures disabled, and the exporter's summary (bytes, requests, seconds)."""
    from meteorpi_cli.export_v2 import RunProgress

    try:
        from meteorpi_fdb.exporter import MeteorExporter
    except ImportError as e:
        raise click.ClickException(f"the exporter is not available: {e}") from e
    exporter = MeteorExporter(db)
    outcomes: Counter[str] = Counter({state: 0 for state in OUTCOMES})
    disabled = set()
    try:
        marked = exporter.mark_entities()
        backlog = db.export_backlog()
        with RunProgress(backlog["entities"], backlog["bytes"]) as shown:
            def done(result) -> None:
                outcomes[result.state] += 1
                if result.config_disabled:
                    disabled.add(result.config_id)
                shown.on_state(result)

            summary = exporter.run_once(progress=done, deadline=deadline, on_bytes=shown.on_bytes)
    finally:
        exporter.close()
    return marked + summary.marked, dict(outcomes), disabled, summary


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
@click.option("--until", "until", help="Stop by this deadline: HH:MM (local) or an ISO date-time; "
              "an upload in flight stops there and resumes next time.")
def run(until: str | None) -> None:
    """Export once: queue what the enabled configurations match, then send everything due
    (in v2 batches to targets that speak v2; see ``export settings``).

    A failing target has its tasks deferred (see SPEC section 8), so a run always ends.
    Configurations outside their upload window wait for a later run. The summary counts the
    tasks that completed, failed and confused the target, the tasks left deferred, and the
    disabled configurations. Exit code 1 when any export failed.
    """
    from meteorpi_cli.export_v2 import parse_deadline

    config = settings()
    db = config.open_db()
    deadline = parse_deadline(until) if until else None
    marked, outcomes, disabled_now, sent = export_due(db, deadline)
    summary = run_summary(db, marked, outcomes, disabled_now)
    if config.json:
        emit_json(summary)
    else:
        lines = summary_lines(summary)
        rate = sent.bytes_sent / sent.seconds / 1e6 if sent.seconds else 0.0
        if sent.bytes_sent:
            lines.append(f"Sent {sent.bytes_sent:,} bytes in {sent.requests} requests, "
                         f"{sent.seconds:.1f} s, {rate:.1f} MB/s")
        click.echo("\n".join(lines))
    if outcomes["failed"] or outcomes["confused"]:
        click.get_current_context().exit(1)
