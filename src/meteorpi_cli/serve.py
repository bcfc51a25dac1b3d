"""``meteorpi serve``: run the node's HTTP API (Tornado, as meteorpi_server.MeteorServer)."""

from __future__ import annotations

import logging
import signal
from typing import Any

import click

import meteorpi_model as model
from meteorpi_cli._common import data_options, settings
from meteorpi_cli.demo import print_summary, run_demo
from meteorpi_client import encode_search

logger = logging.getLogger("meteorpi.cli")


def example_urls(base_url: str, camera_ids: list[str]) -> list[tuple[str, str]]:
    """(what, URL) pairs worth opening in a browser."""
    base = base_url.rstrip("/")
    examples = [
        ("browse in a web browser", f"{base}/"),
        ("cameras", f"{base}/cameras"),
        ("latest 10 events", f"{base}/events/{encode_search(model.EventSearch(limit=10))}"),
        ("events of 1 s or longer", f"{base}/events/" + encode_search(model.EventSearch(
            meta_constraints=[model.MetaConstraint("greater", "meteorpi:duration", 1.0)], limit=10))),
        ("multi-station meteors", f"{base}/coincidences/{encode_search(model.CoincidenceSearch(limit=10))}"),
        ("sky-clarity snapshots", f"{base}/files/" + encode_search(
            model.FileRecordSearch(semantic_type="meteorpi:sky_clarity", limit=10))),
    ]
    if camera_ids:
        examples.insert(1, (f"status of {camera_ids[0]}", f"{base}/cameras/{camera_ids[0]}/status"))
    examples.append(("health", f"{base}/health"))
    examples.append(("API description", f"{base}/openapi.json"))
    return examples


def _start_exporter(db) -> Any:
    try:
        from meteorpi_fdb.exporter import MeteorExporter
    except ImportError as e:
        raise click.ClickException(f"the exporter is not available: {e}") from e
    exporter = MeteorExporter(db)
    exporter.start()
    return exporter


def _start_housekeeper(db) -> Any:
    """Keep the disk quota on a schedule when MPI_QUOTA_HIGH_WATER is set (see 'prune')."""
    from meteorpi_cli.prune import housekeeping_policy
    from meteorpi_fdb.housekeeping import Housekeeper

    policy = housekeeping_policy()
    if policy.high_water is None or policy.interval_seconds == 0:
        return None
    return Housekeeper(db, policy).start()


def _start_coincidences(db, every: float) -> Any:
    """The scheduled coincidence updater, or None (off, or the extra is missing: said so)."""
    if every <= 0:
        return None
    from meteorpi_fdb.coincidence_updater import CoincidenceUpdater
    from meteorpi_trajectory import MissingExtraError

    try:
        return CoincidenceUpdater(db, every).start()
    except MissingExtraError as error:
        click.echo(f"Not updating coincidences: {error}")
        return None


def _stop_on_sigterm() -> None:
    """Shut down cleanly (as on Ctrl-C) when a service manager sends SIGTERM."""

    def interrupt(_signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)


@click.command()
@data_options
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Interface to listen on (0.0.0.0 for every interface).")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535),
              help="TCP port (0: any free port).")
@click.option("--demo", "fill_demo", is_flag=True,
              help="First fill an empty node with the demo network (see 'meteorpi demo').")
@click.option("--demo-cameras", default=4, show_default=True, type=click.IntRange(1, 8),
              help="Cameras in the demo network.")
@click.option("--demo-nights", default=3, show_default=True, type=click.IntRange(1, 366),
              help="Nights in the demo network.")
@click.option("--export", "run_exporter", is_flag=True,
              help="Also run the exporter's scheduler (replication to other nodes).")
@click.option("--coincidences-every", default=300.0, show_default=True, type=click.FloatRange(0),
              metavar="SECONDS", help="Find multi-station meteors among new events this often, "
                                      "and soon after imports (0: never).")
@click.option("--threads", default=16, show_default=True, type=click.IntRange(1, 256),
              help="Threads serving requests.")
def serve(host: str, port: int, fill_demo: bool, demo_cameras: int, demo_nights: int,
          run_exporter: bool, coincidences_every: float, threads: int) -> None:
    """Serve the node's HTTP API until interrupted.

    Uses the embedded database in --data-dir (or --db). Server settings (MPI_MAX_PAGE_SIZE,
    MPI_AUTH_CACHE_SECONDS, ...) come from the environment and MPI_CONFIG.
    """
    from meteorpi_server import MeteorServer
    from meteorpi_server.settings import load_settings

    config = settings()
    config.data_dir.mkdir(parents=True, exist_ok=True)
    server = MeteorServer(config.db_path, str(config.file_store_path), port,
                          settings=load_settings(), address=host, threads=threads)
    click.get_current_context().call_on_close(server.db.close)
    server.bind()  # now, so that a busy port fails early and --port 0 shows its real number
    _stop_on_sigterm()  # before any background job starts, so a SIGTERM always stops cleanly
    exporter = housekeeper = updater = None
    try:
        if fill_demo:
            if server.db.get_cameras():
                click.echo("The node already has data; not adding the demo network.")
            else:
                print_summary(run_demo(server.db, 1, demo_cameras, demo_nights, None, "admin", None))
        exporter = _start_exporter(server.db) if run_exporter else None
        housekeeper = _start_housekeeper(server.db)
        updater = _start_coincidences(server.db, coincidences_every)
        click.echo(f"Serving MeteorPi on {server.base_url()}  (Ctrl-C to stop)")
        for what, url in example_urls(server.base_url(), server.db.get_cameras()):
            click.echo(f"  {what}: {url}")
        server.start()
    except KeyboardInterrupt:
        pass  # Ctrl-C or SIGTERM while starting: stop as cleanly as when serving
    finally:
        if exporter is not None:
            exporter.stop(wait=False)
        if housekeeper is not None:
            housekeeper.stop(wait=False)
        if updater is not None:
            updater.stop(timeout=5)
        click.echo("Stopped.")
