"""``meteorpi export settings`` and ``meteorpi export verify``: replication v2 per configuration
(protocol, bandwidth limit, upload window, batch bounds, verification), and the progress
display of ``meteorpi export run``."""

from __future__ import annotations

import re
import time
from datetime import datetime, timedelta
from typing import Any

import click
from rich.progress import (BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn,
                           TransferSpeedColumn)

from meteorpi_cli._common import console, data_options, emit_json, err_console, json_option, settings

_RATE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmg]?)(?:i?b)?(?:/s)?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "k": 1024, "m": 1024 ** 2, "g": 1024 ** 3}


def parse_rate(text: str) -> int | None:
    """``"2M"`` → 2 MiB/s in bytes; ``"0"``, ``"none"`` or ``"off"`` → no limit."""
    if text.strip().lower() in ("0", "none", "off", ""):
        return None
    match = _RATE.match(text)
    if not match:
        raise click.BadParameter(f"{text!r} is not a rate like 500K, 2M or 1048576")
    value = int(float(match.group(1)) * _UNITS[match.group(2).lower()])
    if value < 1:
        raise click.BadParameter("a rate must be at least 1 byte per second")
    return value


def parse_size(text: str) -> int:
    value = parse_rate(text)
    if value is None:
        raise click.BadParameter("a size must be positive")
    return value


def parse_deadline(text: str) -> datetime:
    """``HH:MM`` (the next such local time) or an ISO date-time, as an aware datetime."""
    now = datetime.now().astimezone()
    match = re.match(r"^\s*(\d{1,2}):(\d{2})\s*$", text)
    if match:
        hour, minute = int(match.group(1)), int(match.group(2))
        if hour > 23 or minute > 59:
            raise click.BadParameter(f"{text!r} is not a time of day")
        moment = now.replace(hour=hour, minute=minute, second=0, microsecond=0)
        return moment if moment > now else moment + timedelta(days=1)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(f"{text!r} is neither HH:MM nor an ISO date-time") from None
    return moment if moment.tzinfo else moment.astimezone()


def register(export: click.Group, find_config: Any) -> None:
    """Add ``settings`` and ``verify`` to the ``export`` group."""

    @export.command("settings")
    @data_options
    @json_option
    @click.argument("config")
    @click.option("--protocol", type=click.Choice(["auto", "2015", "v2"]),
                  help="auto: v2 when the target offers it (default).")
    @click.option("--bwlimit", help="Upload rate limit, e.g. 500K or 2M (bytes/s; K/M = KiB/MiB); 0 = none.")
    @click.option("--window", help="Upload only between these local times, e.g. 09:00-17:00; 'any' = always.")
    @click.option("--batch-entities", type=click.IntRange(1, 2000), help="Most tasks per v2 batch.")
    @click.option("--batch-bytes", help="Most content per v2 batch, e.g. 64M.")
    @click.option("--verify-hours", type=int, help="Verify from the scheduled exporter this often; 0 = never.")
    def export_settings(config: str, protocol: str | None, bwlimit: str | None, window: str | None,
                        batch_entities: int | None, batch_bytes: str | None, verify_hours: int | None) -> None:
        """Show or change how CONFIG replicates (protocol, bandwidth, window, batches)."""
        cli = settings()
        db = cli.open_db()
        found = find_config(db, config)
        current = db.get_export_settings(found.config_id)
        changes: dict[str, Any] = {}
        if protocol is not None:
            changes["protocol"] = protocol
        if bwlimit is not None:
            changes["bwlimit"] = parse_rate(bwlimit)
        if window is not None:
            changes["window"] = window
        if batch_entities is not None:
            changes["batch_entities"] = batch_entities
        if batch_bytes is not None:
            changes["batch_bytes"] = parse_size(batch_bytes)
        if verify_hours is not None:
            changes["verify_hours"] = verify_hours or None
        if changes:
            current = db.set_export_settings(found.config_id, current.updated(changes))
        if cli.json:
            emit_json({"config_id": found.config_id.hex, "settings": current.as_dict()})
            return
        shown = {"protocol": None, "bwlimit": None, "window": None, "batch_entities": None,
                 "batch_bytes": None, "verify_hours": None, "last_verified": None, **current.as_dict()}
        shown["bwlimit"] = "none" if current.bwlimit is None else f"{current.bwlimit:,} bytes/s"
        shown["window"] = shown["window"] or "any time"
        for key, value in shown.items():
            click.echo(f"{key:15} {'' if value is None else value}")

    @export.command("verify")
    @data_options
    @json_option
    @click.argument("config")
    def verify(config: str) -> None:
        """Check that CONFIG's target holds what was exported to it; re-queue what it lacks.

        Compares per-night digests of entity ids first and lists ids only for nights that
        differ. Exit code 1 when something was lacking (it is then sent by the next run).
        """
        from meteorpi_fdb.exporter import MeteorExporter

        cli = settings()
        db = cli.open_db()
        found = find_config(db, config)
        exporter = MeteorExporter(db)
        try:
            report = exporter.verify(found.config_id)
        finally:
            exporter.close()
        if cli.json:
            emit_json(report.as_dict())
        else:
            console().print(f"{found.name}: {report.entities} exported entities in {report.nights} night(s); "
                            f"{report.nights_differing} night(s) differ; the target lacks {report.lacking}, "
                            f"{report.requeued} re-queued ({report.requests} requests)")
        if report.lacking:
            click.get_current_context().exit(1)


class RunProgress:
    """A progress display for ``export run``: entities, bytes, rate and time left."""

    def __init__(self, entities: int, total_bytes: int) -> None:
        stderr = err_console()
        self.progress = Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(),
                                 TransferSpeedColumn(), TimeRemainingColumn(), console=stderr,
                                 transient=True, disable=not stderr.is_terminal)
        self.entities, self.done = entities, 0
        self.task = self.progress.add_task(self._describe(), total=max(total_bytes, 1))
        self.started = time.monotonic()

    def _describe(self) -> str:
        return f"Exporting {self.done}/{self.entities} entities"

    def on_bytes(self, count: int) -> None:
        self.progress.advance(self.task, count)

    def on_state(self, state: Any) -> None:
        self.done += 1
        self.progress.update(self.task, description=self._describe())

    def __enter__(self) -> "RunProgress":
        self.progress.__enter__()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.progress.__exit__(*exc_info)
