"""``meteorpi demo``: fill a node with a simulated camera network (see ``demo_network``)."""

from __future__ import annotations

import secrets
import shutil
import tempfile
import uuid
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import click

import meteorpi_model as model
from meteorpi_cli import sky_images
from meteorpi_cli._common import (console, data_options, emit_json, format_time, json_option,
                                  progress, settings)
from meteorpi_cli.demo_network import (DEFAULT_START, EVENT_TYPE, SITES, DemoEvent, DemoFile,
                                       DemoNetwork, plan_network)

ADMIN_ROLES = ["user", "camera_admin", "import"]
RENDER_THREADS = 4


def fill_node(db, network: DemoNetwork, admin_user: str, admin_password: str,
              advance: Callable[[int], None] = lambda n: None) -> dict[str, Any]:
    """Store ``network`` in ``db``, create the admin user and find its coincidences; return the
    network's summary.

    Each camera's status blocks, files and events are stored in time order (so the high water
    mark only ever advances). Images are rendered on a few threads ahead of the writes.
    ``advance(n)`` is called as items are stored, for a progress bar.
    """
    if db.get_cameras():
        raise ValueError("the node already has cameras; the demo needs an empty node "
                         "(choose another --data-dir or --db)")
    beside = Path(db.file_store.root).parent if db.file_store.root else None  # a bucket: anywhere
    staging = Path(tempfile.mkdtemp(prefix=".demo-", dir=beside))
    stored_bytes = 0
    try:
        with ThreadPoolExecutor(RENDER_THREADS, thread_name_prefix="demo-render") as pool:
            for camera in network.cameras:
                items = [item for _time, _order, item in camera.timeline()]
                for item, contents in _rendered_ahead(pool, items, window=4 * RENDER_THREADS):
                    stored_bytes += _store(db, camera.camera_id, item, contents, staging)
                    advance(1)
                # The camera has processed everything it recorded: that much is final.
                last_time = camera.timeline()[-1][0]
                db.set_high_water_mark(last_time, camera.camera_id, allow_rollback=False)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    db.create_or_update_user(admin_user, admin_password, ADMIN_ROLES)
    summary = network.summary()
    # The multi-station meteors, found as the server finds them (see docs/coincidences.md).
    summary["coincidences"] = db.update_coincidences()["groups"]
    summary["content_bytes"] = stored_bytes
    return summary


def total_items(network: DemoNetwork) -> int:
    """How many ``advance`` steps :func:`fill_node` makes."""
    return sum(len(camera.timeline()) for camera in network.cameras)


def _rendered_ahead(pool: ThreadPoolExecutor, items: Iterable[Any],
                    window: int) -> Iterator[tuple[Any, list[bytes] | None]]:
    """``(item, contents)`` in order, rendering up to ``window`` items in advance."""
    pending: deque[tuple[Any, Future | None]] = deque()
    iterator = iter(items)

    def submit_next() -> None:
        item = next(iterator, None)
        if item is not None:
            render = getattr(item, "render", None)
            pending.append((item, pool.submit(render) if render else None))

    for _ in range(window):
        submit_next()
    while pending:
        item, future = pending.popleft()
        submit_next()
        yield item, future.result() if future is not None else None


def _store(db, camera_id: str, item: Any, contents: list[bytes] | None, staging: Path) -> int:
    """Store one timeline item; return the bytes of content it added."""
    if isinstance(item, model.CameraStatus):
        db.update_camera_status(item, time=item.valid_from, camera_id=camera_id)
        return 0
    assert contents is not None
    if isinstance(item, DemoFile):
        _register_file(db, camera_id, item, contents[0], staging)
        return len(contents[0])
    assert isinstance(item, DemoEvent)
    records = [_register_file(db, camera_id, demo_file, content, staging)
               for demo_file, content in zip(item.files, contents)]
    db.register_event(camera_id, item.time, model.NSString.from_string(EVENT_TYPE), records, item.meta)
    return sum(len(content) for content in contents)


def _register_file(db, camera_id: str, demo_file: DemoFile, content: bytes,
                   staging: Path) -> model.FileRecord:
    path = staging / uuid.uuid4().hex
    path.write_bytes(content)
    return db.register_file(str(path), demo_file.mime_type,
                            model.NSString.from_string(demo_file.semantic_type), demo_file.time,
                            demo_file.meta, camera_id=camera_id, file_name=demo_file.file_name)


def run_demo(db, seed: int, cameras: int, nights: int, start: datetime | None,
             admin_user: str, admin_password: str | None) -> dict[str, Any]:
    """Plan and store a demo network with a progress bar; the summary plus the admin login."""
    sky_images.require_pillow()  # before anything is written
    from meteorpi_trajectory import MissingExtraError

    try:
        network = plan_network(seed, cameras, nights, start.date() if start else DEFAULT_START)
    except MissingExtraError as error:
        raise click.ClickException(f"the demo network needs the trajectory extra: {error}") from error
    password = admin_password or secrets.token_urlsafe(12)
    with progress(transient=True) as bar:
        task = bar.add_task("Simulating the camera network", total=total_items(network))
        summary = fill_node(db, network, admin_user, password, lambda n: bar.advance(task, n))
    summary["admin_user"] = admin_user
    summary["admin_password"] = password
    return summary


def print_summary(summary: dict[str, Any]) -> None:
    """The demo summary as a few readable lines."""
    out = console()
    out.print(f"[bold]Demo network[/bold] (seed {summary['seed']}): "
              f"{_plural(summary['cameras'], 'camera')}, {_plural(summary['nights'], 'night')} "
              f"from {summary['start_night']}")
    out.print(f"  {summary['status_blocks']} status blocks, {summary['events']} events "
              f"({', '.join(f'{k} {v}' for k, v in summary['by_shower'].items())}), "
              f"{summary['files']} files ({summary['event_files']} with events, "
              f"{summary['standalone_files']} stand-alone), "
              f"{summary['content_bytes'] / 1e6:.1f} MB")
    out.print(f"  {summary['multi_station_events']} events of meteors that several cameras saw; "
              f"{_plural(summary['coincidences'], 'coincidence')} found")
    out.print(f"  from {format_time(summary['first_time'])} to {format_time(summary['last_time'])}")
    for camera_id, counts in summary["per_camera"].items():
        out.print(f"  {camera_id}  {counts['site']}: {counts['events']} events, {counts['files']} files")
    out.print(f"  admin user [bold]{summary['admin_user']}[/bold] "
              f"password [bold]{summary['admin_password']}[/bold] (roles {', '.join(ADMIN_ROLES)})")


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


@click.command()
@data_options
@json_option
@click.option("--cameras", default=4, show_default=True, type=click.IntRange(1, len(SITES)),
              help="Number of cameras (each at a different observatory).")
@click.option("--nights", default=3, show_default=True, type=click.IntRange(1, 366),
              help="Number of nights of observations.")
@click.option("--seed", default=1, show_default=True, type=int,
              help="Random seed: the same seed gives the same network.")
@click.option("--start", type=click.DateTime(["%Y-%m-%d"]), default=None,
              help=f"Evening of the first night [default: {DEFAULT_START.isoformat()}].")
@click.option("--admin-user", default="admin", show_default=True, help="Admin user to create.")
@click.option("--admin-password", default=None, help="Its password [default: random, printed].")
def demo(cameras: int, nights: int, seed: int, start: datetime | None, admin_user: str,
         admin_password: str | None) -> None:
    """Fill an empty node with a simulated camera network.

    Cameras at real observatory sites with their status history, nights of meteor events with
    images and previews, hourly sky-clarity snapshots and nightly summaries, and an admin user
    holding every role.
    """
    config = settings()
    db = config.open_db(create=True)
    summary = run_demo(db, seed, cameras, nights, start, admin_user, admin_password)
    if config.json:
        emit_json(summary)
    else:
        print_summary(summary)
