"""``meteorpi coincidences``: find multi-station meteors and list them with their trajectories.

``update`` computes (the ``trajectory`` extra is needed); ``search`` lists, from the local
database or from a node over HTTP (``--url``), as a table or the API's JSON (``--json``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import click
from rich.table import Table

import meteorpi_model as model
from meteorpi_cli._common import (TIME, console, data_options, emit_json, format_time,
                                  json_option, progress, settings)


@click.group()
def coincidences() -> None:
    """Multi-station meteors: events of several cameras that saw one meteor."""


@coincidences.command("update")
@data_options
@json_option
@click.option("--window", default=2.0, show_default=True, type=click.FloatRange(0, 60),
              help="Seconds between events of different cameras that may be one meteor.")
@click.option("--after", type=TIME, help="Recompute events from this time (ISO 8601 or epoch ms).")
@click.option("--before", type=TIME, help="Recompute events up to this time.")
@click.option("--all", "everything", is_flag=True, help="Recompute every event.")
def update(window: float, after: datetime | None, before: datetime | None,
           everything: bool) -> None:
    """Find coincidences among new events (or a time range, or all) and solve trajectories.

    Idempotent: groups whose events are unchanged keep their ids; nothing is duplicated.
    """
    from meteorpi_trajectory import MissingExtraError

    db = settings().open_db()
    try:
        with progress() as bar:
            bar.add_task("Finding coincidences", total=None)
            counts = db.update_coincidences(window, after, before, everything)
    except MissingExtraError as error:
        raise click.ClickException(str(error)) from error
    if settings().json:
        emit_json(counts)
    else:
        console().print(f"{counts['groups']} groups among {counts['events']} events "
                        f"({counts['created']} new, {counts['kept']} unchanged, "
                        f"{counts['removed']} removed), {counts['solved']} trajectories solved")


@coincidences.command("search")
@data_options
@json_option
@click.option("--url", metavar="URL", help="Search this node over HTTP instead of the local database.")
@click.option("--after", type=TIME, help="First event after this time.")
@click.option("--before", type=TIME, help="First event before this time.")
@click.option("--camera", "camera_ids", multiple=True, help="With an event of this camera; repeat for several.")
@click.option("--event", "event_ids", multiple=True, help="Containing this event id; repeat for several.")
@click.option("--min-stations", type=click.IntRange(2, 1000), help="At least this many cameras.")
@click.option("--solved/--unsolved", default=None, help="With or without a solved trajectory.")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(0), help="Most results (0: all).")
@click.option("--skip", default=0, show_default=True, type=click.IntRange(0), help="Results to skip.")
def search(url: str | None, camera_ids: tuple[str, ...], event_ids: tuple[str, ...],
           **options: Any) -> None:
    """List coincidences, newest first, with their trajectories."""
    query = model.CoincidenceSearch(camera_ids=list(camera_ids) or None,
                                    event_ids=list(event_ids) or None, **options)
    result = _run(url, query)
    if settings().json:
        emit_json({"count": result["count"],
                   "coincidences": [c.as_dict() for c in result["coincidences"]]})
    else:
        _print(result, query.skip)


def _run(url: str | None, query: model.CoincidenceSearch) -> dict[str, Any]:
    if url is None:
        return settings().open_db().search_coincidences(query)
    from meteorpi_client import MeteorClient

    with MeteorClient(url) as client:
        if query.limit:
            return client.search_coincidences(query)
        rows = list(client.iter_coincidences(query))
        return {"count": query.skip + len(rows), "coincidences": rows}


def _print(result: dict[str, Any], skip: int) -> None:
    table = Table("time", "cameras", "begin km", "end km", "radiant RA/Dec", "speed km/s", "Q°",
                  "group id", box=None, header_style="bold")
    for group in result["coincidences"]:
        t = group.trajectory
        if t is not None and t.ok:
            speed = "-" if t.speed_km_s is None else f"{t.speed_km_s:.1f}"
            solved = [f"{t.begin['height_km']:.1f}", f"{t.end['height_km']:.1f}",
                      f"{t.radiant['ra']:.1f} {t.radiant['dec']:+.1f}", speed,
                      f"{t.convergence_deg:.0f}"]
        else:
            solved = ["-", "-", "refused: " + (t.reason if t is not None else "not computed"), "-", "-"]
        table.add_row(format_time(group.time), " ".join(group.camera_ids), *solved,
                      group.group_id.hex)
    out = console()
    out.print(table)
    rows = result["coincidences"]
    shown = f"{skip + 1}-{skip + len(rows)}" if rows else "none"
    out.print(f"{shown} of {result['count']} coincidences")
