"""Replication: protocol v2 against rsync and the 2015 protocol, interleaved, on loopback and
over an emulated 50 ms / 20 Mbit/s link.

    python -m benchmarks.replication [--events 1000] [--files-per-event 3] [--file-kb 50]
                                     [--repeats 3] [--cases v2,rsync_fsync,2015,rsync]
                                     [--link] [--rss-mb 500] [--json out.json]

Setup (Debian): ``apt-get install rsync iproute2``; ``--link`` needs root (it creates a network
namespace). Cases, each run ``--repeats`` times in interleaved rounds (ABCD ABCD …), medians
reported:

- **v2**: ``MeteorExporter.run_once()`` from a SQLite node to a gunicorn target (2 workers ×
  4 threads, SQLite), every event with its files and camera status;
- **2015**: the same with ``protocol="2015"``;
- **rsync --fsync**: ``rsync -a --fsync`` of the same content files to an rsync daemon (what a
  durable copy costs), and **rsync**: the same without ``--fsync``.

Every run starts from an empty target. The results document (``--json``, default
``benchmarks/results/replication.json``) is rendered into docs/benchmark-results.md by
``python -m benchmarks.report``. Also measured: HTTP requests; a no-op re-sync including
``verify`` against rsync's no-op; with ``--link`` the v2 and rsync cases again over a link made
by the benchmark — a network namespace joined by a veth pair shaped to 20 Mbit/s with ``tc tbf``
and 25 ms each way (``tc netem`` where the kernel has it, else a delaying TCP relay in this
process) — removed afterwards; with ``--rss-mb`` the peak RSS of an exporter process and of the
target's workers while one batch of that many MB goes across. Only loopback and the private
namespace are used.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Iterator

import requests

import meteorpi_model as model
from benchmarks._common import Result, process_peak_rss_mb, write_document
from meteorpi_fdb import MeteorDatabase
from meteorpi_fdb.exporter import ExportSettings, MeteorExporter

SOURCE_ID = "b00000000a01"
TARGET_ID = "b00000000a02"
USER, PASSWORD = "bench-importer", "bench-import-secret"
START = datetime(2026, 1, 1, tzinfo=timezone.utc)
NETNS = f"mpibench{os.getpid()}"
HOST_IP, NS_IP = "10.213.77.1", "10.213.77.2"
ONE_WAY_DELAY = 0.025
#: The loopback cases, in the order of each interleaved round.
CASES = ("v2", "rsync_fsync", "2015", "rsync")
#: Events per v2 batch in the loopback and link cases.
BATCH_ENTITIES = 250
LINK_RATE = "20mbit"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _populate(db: MeteorDatabase, incoming: Path, events: int, files_per_event: int, file_bytes: int) -> None:
    rng = random.Random(42)
    incoming.mkdir(parents=True, exist_ok=True)
    status = model.CameraStatus(
        lens="Computar 4mm", sensor="IMX291", inst_url="https://example.org", inst_name="bench",
        orientation=model.Orientation(60, 180), location=model.Location(52.2, 0.1, True, 5.0),
        camera_id=db.installation_id)
    db.update_camera_status(status, time=START)
    for first in range(0, events, 500):
        with db.batch() as batch:  # setup only: the one-transaction batch path is the quickest
            for index in range(first, min(events, first + 500)):
                when = START + timedelta(minutes=index + 1)
                records = []
                for n in range(files_per_event):
                    path = incoming / f"{index}-{n}.png"
                    path.write_bytes(rng.randbytes(file_bytes))
                    records.append(batch.add_file(
                        str(path), "image/png", model.NSString("meteor_image"), when + timedelta(seconds=n),
                        [model.Meta(model.NSString("exposure"), 0.04), model.Meta(model.NSString("gain"), 12)],
                        file_name=f"{n}.png"))
                batch.add_event(db.installation_id, when, model.NSString("meteor"), records,
                                [model.Meta(model.NSString("duration"), 1.2),
                                 model.Meta(model.NSString("class"), "meteor")])


def _netns_prefix(netns: str | None) -> list[str]:
    return ["ip", "netns", "exec", netns] if netns else []


class Target:
    """A fresh gunicorn target (its own SQLite database and store), optionally in a namespace."""

    def __init__(self, workdir: Path, name: str, netns: str | None = None, host: str = "127.0.0.1") -> None:
        self.dir = workdir / name
        shutil.rmtree(self.dir, ignore_errors=True)
        self.dir.mkdir(parents=True)
        self.db_url = f"sqlite:///{self.dir / 'target.db'}"
        self.store = str(self.dir / "files")
        db = MeteorDatabase(self.db_url, self.store, installation_id=TARGET_ID)
        db.create_or_update_user(USER, PASSWORD, ["import"])
        db.grant_camera(USER, SOURCE_ID)
        db.close()
        self.port = _free_port()
        env = dict(os.environ, MPI_DB=self.db_url, MPI_FILE_STORE=self.store, MPI_INSTALLATION_ID=TARGET_ID,
                   MPI_LOG_LEVEL="WARNING")
        self.process = subprocess.Popen(
            _netns_prefix(netns) + [sys.executable, "-m", "gunicorn", "--workers", "2", "--threads", "4",
                                    "--bind", f"{host}:{self.port}", "--log-level", "warning",
                                    "--no-control-socket", "meteorpi_server.wsgi:create_app()"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.url = f"http://{host}:{self.port}"
        self._wait(netns)

    def _wait(self, netns: str | None) -> None:
        deadline = time.monotonic() + 60
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.process.returncode}")
            check = subprocess.run(_netns_prefix(netns) + [sys.executable, "-c",
                                   f"import urllib.request; urllib.request.urlopen('{self.url}/health', timeout=2)"],
                                   capture_output=True)
            if check.returncode == 0:
                return
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the target did not start")
            time.sleep(0.3)

    def worker_rss_mb(self) -> float | None:
        return max((rss for pid in _children(self.process.pid) if (rss := process_peak_rss_mb(pid))), default=None)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


def _children(parent: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    if int(stat.read().rsplit(")", 1)[1].split()[1]) == parent:
                        found.append(int(entry))
            except (OSError, ValueError, IndexError):
                continue
    return found


class RsyncDaemon:
    """``rsync --daemon`` serving one writable module, optionally inside a namespace."""

    def __init__(self, workdir: Path, netns: str | None = None, host: str = "127.0.0.1") -> None:
        if shutil.which("rsync") is None:
            raise RuntimeError("rsync is not installed (apt-get install rsync)")
        self.dir = workdir / "rsyncd"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = _free_port()
        config = self.dir / "rsyncd.conf"
        config.write_text(f"use chroot = no\nlog file = {self.dir / 'log'}\npid file = {self.dir / 'pid'}\n"
                          f"[bench]\npath = {self.dir / 'data'}\nread only = no\nuid = root\ngid = root\n")
        self.host = host
        self.process = subprocess.Popen(_netns_prefix(netns) + [
            "rsync", "--daemon", "--no-detach", f"--address={host}", f"--port={self.port}", f"--config={config}"])
        time.sleep(0.5)

    def reset(self) -> None:
        shutil.rmtree(self.dir / "data", ignore_errors=True)
        (self.dir / "data").mkdir()

    def copy(self, source: str, fsync: bool, port: int | None = None, host: str | None = None) -> float:
        command = ["rsync", "-a"] + (["--fsync"] if fsync else []) + [
            f"{source}/", f"rsync://{host or self.host}:{port or self.port}/bench/"]
        started = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
        return time.perf_counter() - started

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)


def _replicate(source: MeteorDatabase, url: str, protocol: str) -> tuple[float, int, int]:
    """(seconds, requests, tasks completed) of one replication of everything to ``url``."""
    for config in source.get_export_configurations():
        source.delete_export_configuration(config.config_id)
    stored = source.create_or_update_export_configuration(model.ExportConfiguration(
        f"{url}/import", USER, PASSWORD, model.EventSearch(), "bench", "benchmark", enabled=True))
    source.set_export_settings(stored.config_id, ExportSettings(batch_entities=BATCH_ENTITIES))
    exporter = MeteorExporter(source, protocol=protocol)
    try:
        started = time.perf_counter()
        summary = exporter.run_once()
        seconds = time.perf_counter() - started
    finally:
        exporter.close()
    return seconds, summary.requests, summary.complete


def _noop(source: MeteorDatabase) -> tuple[float, int]:
    """A no-op re-sync with verification: (seconds, requests)."""
    exporter = MeteorExporter(source)
    try:
        started = time.perf_counter()
        summary = exporter.run_once()
        report = exporter.verify(source.get_export_configurations()[0].config_id)
        return time.perf_counter() - started, summary.requests + report.requests
    finally:
        exporter.close()


# --- the emulated link ---------------------------------------------------------------------


@contextmanager
def emulated_link() -> Iterator[bool]:
    """A namespace reached over a shaped veth pair; yields True if netem adds the delay itself."""
    veth = f"mpiv{os.getpid() % 100000}"
    commands = [
        ["ip", "netns", "add", NETNS],
        ["ip", "link", "add", f"{veth}a", "type", "veth", "peer", "name", f"{veth}b"],
        ["ip", "link", "set", f"{veth}b", "netns", NETNS],
        ["ip", "addr", "add", f"{HOST_IP}/30", "dev", f"{veth}a"],
        ["ip", "link", "set", f"{veth}a", "up"],
        ["ip", "netns", "exec", NETNS, "ip", "addr", "add", f"{NS_IP}/30", "dev", f"{veth}b"],
        ["ip", "netns", "exec", NETNS, "ip", "link", "set", f"{veth}b", "up"],
        ["ip", "netns", "exec", NETNS, "ip", "link", "set", "lo", "up"],
    ]
    try:
        for command in commands:
            subprocess.run(command, check=True, capture_output=True)
        netem = True
        for prefix, device in (([], f"{veth}a"), (["ip", "netns", "exec", NETNS], f"{veth}b")):
            delayed = subprocess.run(prefix + ["tc", "qdisc", "add", "dev", device, "root", "handle", "1:",
                                               "netem", "delay", f"{int(ONE_WAY_DELAY * 1000)}ms"],
                                     capture_output=True).returncode == 0
            netem = netem and delayed
            parent = ["parent", "1:", "handle", "2:"] if delayed else ["root", "handle", "2:"]
            subprocess.run(prefix + ["tc", "qdisc", "add", "dev", device, *parent, "tbf", "rate", LINK_RATE,
                                     "burst", "32kbit", "latency", "400ms"], check=True, capture_output=True)
        yield netem
    finally:
        subprocess.run(["ip", "netns", "del", NETNS], capture_output=True)
        subprocess.run(["ip", "link", "del", f"{veth}a"], capture_output=True)


class DelayRelay:
    """A TCP relay on 127.0.0.1 that forwards to ``(host, port)`` and delays every piece of data
    by ``delay`` seconds in each direction (the link's latency when netem is unavailable)."""

    def __init__(self, host: str, port: int, delay: float) -> None:
        self.target, self.delay = (host, port), delay
        self.port = _free_port()
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        self.ready.wait(10)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.server = self.loop.run_until_complete(asyncio.start_server(self._client, "127.0.0.1", self.port))
        self.ready.set()
        self.loop.run_forever()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        try:
            await asyncio.gather(self._pipe(reader, upstream_writer), self._pipe(upstream_reader, writer),
                                 return_exceptions=True)
        except asyncio.CancelledError:
            pass  # the relay is stopping

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        queue: asyncio.Queue = asyncio.Queue()

        async def deliver() -> None:
            while True:
                due, data = await queue.get()
                wait = due - self.loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                if data is None:
                    writer.close()
                    return
                writer.write(data)
                await writer.drain()

        sender = asyncio.ensure_future(deliver())
        try:
            while data := await reader.read(65536):
                queue.put_nowait((self.loop.time() + self.delay, data))
        finally:
            queue.put_nowait((self.loop.time() + self.delay, None))
            await sender

    def stop(self) -> None:
        async def shutdown() -> None:
            self.server.close()
            tasks = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(shutdown(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


# --- the measurements ----------------------------------------------------------------------


def _median(values: list[float]) -> float:
    return statistics.median(values)


def measure(events: int = 1000, files_per_event: int = 3, file_kb: int = 50, repeats: int = 3,
            link: bool = False, rss_mb: int = 0, cases: tuple[str, ...] = CASES) -> dict:
    """Run every case; return the figures as a dict."""
    figures: dict = {"events": events, "files": events * files_per_event, "file_kb": file_kb, "repeats": repeats,
                     "batches": -(-events // BATCH_ENTITIES)}
    with tempfile.TemporaryDirectory(prefix="mpi-replication-") as directory:
        workdir = Path(directory)
        source = MeteorDatabase(str(workdir / "source.db"), str(workdir / "source-files"), installation_id=SOURCE_ID)
        _populate(source, workdir / "incoming", events, files_per_event, file_kb * 1000)
        figures["loopback"] = _loopback(source, workdir, events, repeats, cases)
        if link:
            figures["link"] = _over_link(source, workdir, events, max(1, repeats - 1))
        if rss_mb:
            figures["rss"] = _peak_rss(workdir, rss_mb)
        source.close()
    return figures


def _loopback(source: MeteorDatabase, workdir: Path, events: int, repeats: int, cases: tuple[str, ...] = CASES) -> dict:
    daemon = RsyncDaemon(workdir)
    samples: dict[str, list[float]] = {case: [] for case in CASES if case in cases}
    requests_made: dict[str, int] = {}
    try:
        for _ in range(repeats):
            for case in samples:
                if case.startswith("rsync"):
                    daemon.reset()
                    samples[case].append(daemon.copy(source.file_store_path, fsync=case == "rsync_fsync"))
                    continue
                target = Target(workdir, f"target-{case}")
                try:
                    seconds, made, complete = _replicate(source, target.url, case)
                finally:
                    target.stop()
                if complete != events:
                    raise RuntimeError(f"{case}: {complete} of {events} events replicated")
                samples[case].append(seconds)
                requests_made[case] = made
        noop_target = Target(workdir, "target-noop")
        try:
            _replicate(source, noop_target.url, "auto")
            noop = [_noop(source) for _ in range(repeats)]
        finally:
            noop_target.stop()
        if not any(case.startswith("rsync") for case in samples):  # its no-op needs a copy there first
            daemon.reset()
            daemon.copy(source.file_store_path, fsync=True)
        rsync_noop = [daemon.copy(source.file_store_path, fsync=True) for _ in range(repeats)]
    finally:
        daemon.stop()
    medians = {case: _median(values) for case, values in samples.items()}
    ratio = (lambda a, b: medians[a] / medians[b] if a in medians and b in medians else None)
    return {"seconds": medians, "samples": samples, "requests": requests_made,
            "v2_over_rsync_fsync": ratio("v2", "rsync_fsync"), "v2_over_rsync": ratio("v2", "rsync"),
            "2015_over_v2": ratio("2015", "v2"),
            "noop_seconds": _median([s for s, _ in noop]), "noop_requests": noop[0][1],
            "rsync_noop_seconds": _median(rsync_noop)}


def _over_link(source: MeteorDatabase, workdir: Path, events: int, repeats: int) -> dict:
    samples: dict[str, list[float]] = {"v2": [], "rsync_fsync": []}
    with emulated_link() as netem:
        daemon = RsyncDaemon(workdir / "link", netns=NETNS, host=NS_IP)
        daemon_relay = None if netem else DelayRelay(NS_IP, daemon.port, ONE_WAY_DELAY)
        try:
            for _ in range(repeats):
                target = Target(workdir, "target-link", netns=NETNS, host=NS_IP)
                relay = None if netem else DelayRelay(NS_IP, target.port, ONE_WAY_DELAY)
                try:
                    url = target.url if netem else f"http://127.0.0.1:{relay.port}"
                    seconds, _made, complete = _replicate(source, url, "auto")
                finally:
                    if relay:
                        relay.stop()
                    target.stop()
                if complete != events:
                    raise RuntimeError(f"over the link: {complete} of {events} events replicated")
                samples["v2"].append(seconds)
                daemon.reset()
                if daemon_relay:
                    samples["rsync_fsync"].append(daemon.copy(source.file_store_path, True, daemon_relay.port, "127.0.0.1"))
                else:
                    samples["rsync_fsync"].append(daemon.copy(source.file_store_path, True))
        finally:
            if daemon_relay:
                daemon_relay.stop()
            daemon.stop()
    medians = {case: _median(values) for case, values in samples.items()}
    return {"seconds": medians, "samples": samples, "delay": "netem" if netem else "relay",
            "v2_over_rsync_fsync": medians["v2"] / medians["rsync_fsync"]}


_RSS_EXPORTER = """
import resource, sys
from meteorpi_fdb import MeteorDatabase
from meteorpi_fdb.exporter import MeteorExporter
db = MeteorDatabase(sys.argv[1], sys.argv[2], installation_id=sys.argv[3])
exporter = MeteorExporter(db)
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
summary = exporter.run_once()
print(summary.complete, summary.requests, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, before)
"""


def _peak_rss(workdir: Path, megabytes: int) -> dict:
    """Peak RSS of an exporter process and the target's workers during one batch of ``megabytes``."""
    node = MeteorDatabase(str(workdir / "rss.db"), str(workdir / "rss-files"), installation_id=SOURCE_ID)
    files = max(1, megabytes // 10)
    _populate(node, workdir / "rss-in", 1, files, megabytes * 1_000_000 // files)
    target = Target(workdir, "target-rss")
    try:
        stored = node.create_or_update_export_configuration(model.ExportConfiguration(
            f"{target.url}/import", USER, PASSWORD, model.EventSearch(), "rss", "", enabled=True))
        node.set_export_settings(stored.config_id, ExportSettings(batch_bytes=(megabytes + 10) * 1_000_000))
        node.close()
        script = workdir / "rss_exporter.py"
        script.write_text(_RSS_EXPORTER)
        output = subprocess.run([sys.executable, str(script), str(workdir / "rss.db"), str(workdir / "rss-files"),
                                 SOURCE_ID], check=True, capture_output=True, text=True).stdout.split()
        worker = target.worker_rss_mb()
    finally:
        target.stop()
    if output[0] != "1":
        raise RuntimeError(f"the {megabytes} MB batch was not replicated: {output}")
    return {"megabytes": megabytes, "requests": int(output[1]), "exporter_peak_rss_mb": float(output[2]),
            "exporter_rss_before_mb": float(output[3]), "target_worker_peak_rss_mb": worker}


def run(events: int) -> tuple[list[Result], dict[str, float | None]]:
    """For ``python -m benchmarks``: the replication figures as Results, and peak memory."""
    figures = measure(events, repeats=3, link=os.geteuid() == 0 and shutil.which("tc") is not None, rss_mb=100)
    return results_from(figures)


def results_from(figures: dict) -> tuple[list[Result], dict[str, float | None]]:
    """The figures of :func:`measure` as Results, and peak memory."""
    events = figures["events"]
    case = f"{events} events x {figures['files'] // events} files x {figures['file_kb']} KB, gunicorn target"
    loop = figures["loopback"]
    seconds, made = loop["seconds"], loop["requests"]
    rows = [("v2 vs rsync -a --fsync", "v2", "rsync_fsync", "s",
             "reference: rsync -a --fsync to an rsync daemon (medians, interleaved)"),
            ("v2 vs rsync -a", "v2", "rsync", "s", "reference: rsync -a without --fsync"),
            ("2015 vs v2", "2015", "v2", "s", "reference: v2")]
    results = [Result("replication", f"{case}: {label}", "sqlite", seconds[a], seconds[b], unit, note=note)
               for label, a, b, unit, note in rows if a in seconds and b in seconds]
    if "v2" in made:
        results += [
            Result("replication", f"{case}: v2 requests", "sqlite", made["v2"], made.get("2015"), "requests",
                   note="reference: the 2015 protocol's requests"),
            Result("replication", f"{case}: v2 requests per batch of {BATCH_ENTITIES} events", "sqlite",
                   made["v2"] / figures["batches"], None, "requests",
                   note="the run's requests / its batches")]
    results.append(Result("replication", "no-op re-sync incl. verify", "sqlite", loop["noop_seconds"],
                          loop["rsync_noop_seconds"], "s", note="reference: rsync --fsync no-op"))
    if "link" in figures:
        link = figures["link"]
        results.append(Result("replication", f"{case}: v2 vs rsync -a --fsync over 50 ms / 20 Mbit/s", "sqlite",
                              link["seconds"]["v2"],
                              link["seconds"]["rsync_fsync"], "s",
                              note=f"reference: rsync --fsync over the same link (delay: {link['delay']})"))
    memory = {}
    if "rss" in figures:
        rss = figures["rss"]
        memory = {f"replication exporter ({rss['megabytes']} MB batch)": rss["exporter_peak_rss_mb"],
                  f"replication target worker ({rss['megabytes']} MB batch)": rss["target_worker_peak_rss_mb"]}
    return results, memory


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.replication", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--files-per-event", type=int, default=3)
    parser.add_argument("--file-kb", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--cases", default=",".join(CASES),
                        help="loopback cases, comma-separated (default: all of " + ", ".join(CASES) + ")")
    parser.add_argument("--link", action="store_true", help="also over an emulated 50 ms / 20 Mbit/s link (root)")
    parser.add_argument("--rss-mb", type=int, default=0, help="peak RSS during one batch of this many MB")
    parser.add_argument("--json", type=Path, default=None,
                        help="where to write the results document (default benchmarks/results/replication.json)")
    args = parser.parse_args(argv)
    cases = tuple(case.strip() for case in args.cases.split(",") if case.strip())
    if not set(cases) <= set(CASES):
        parser.error(f"--cases: choose from {', '.join(CASES)}")
    figures = measure(args.events, args.files_per_event, args.file_kb, args.repeats, args.link, args.rss_mb, cases)
    loop = figures["loopback"]
    print(f"{figures['events']:,} events with {figures['files']:,} files of {figures['file_kb']} KB, "
          f"medians of {figures['repeats']} interleaved rounds")
    for case, label in (("v2", "v2"), ("rsync_fsync", "rsync -a --fsync"), ("2015", "2015 protocol"),
                        ("rsync", "rsync -a")):
        if case in loop["seconds"]:
            made = loop["requests"].get(case)
            print(f"  {label:22} {loop['seconds'][case]:8.2f} s" + (f"  {made:,} requests" if made else ""))
    for key, label in (("v2_over_rsync_fsync", "v2 / rsync --fsync"), ("v2_over_rsync", "v2 / rsync"),
                       ("2015_over_v2", "2015 / v2")):
        if loop[key] is not None:
            print(f"  {label + ':':22} {loop[key]:8.2f} x")
    print(f"  no-op incl. verify:    {loop['noop_seconds'] * 1000:8.1f} ms ({loop['noop_requests']} requests); "
          f"rsync no-op {loop['rsync_noop_seconds'] * 1000:.1f} ms")
    if "link" in figures:
        link = figures["link"]
        print(f"  over 50 ms / 20 Mbit/s ({link['delay']}): v2 {link['seconds']['v2']:.2f} s, "
              f"rsync --fsync {link['seconds']['rsync_fsync']:.2f} s, ratio {link['v2_over_rsync_fsync']:.2f} x")
    if "rss" in figures:
        rss = figures["rss"]
        print(f"  {rss['megabytes']} MB batch: exporter peak RSS {rss['exporter_peak_rss_mb']:.0f} MB, "
              f"target worker {rss['target_worker_peak_rss_mb'] or 0:.0f} MB, {rss['requests']} requests")
    results, memory = results_from(figures)
    written = write_document("replication", f"Replication, {figures['events']:,} events x "
                             f"{args.files_per_event} files x {figures['file_kb']} KB",
                             "benchmarks.replication", sys.argv[1:] if argv is None else argv,
                             results, memory, _notes(figures), figures, args.json)
    print(f"wrote {written} (render it with python -m benchmarks.report {written})")
    return 0


def _notes(figures: dict) -> list[str]:
    """What the table does not say: samples, requests, the link's delay, memory."""
    loop = figures["loopback"]
    notes = [f"Loopback, medians of {figures['repeats']} interleaved rounds ({', '.join(loop['samples'])}); "
             "samples in seconds: " + "; ".join(f"{case} " + ", ".join(f"{value:.2f}" for value in values)
                                                for case, values in loop["samples"].items()) + ".",
             f"v2 made {loop['requests'].get('v2')} requests for {figures['batches']} batches of up to "
             f"{BATCH_ENTITIES} events (a manifest and a batch per batch)"
             + (f"; the 2015 protocol {loop['requests']['2015']:,}." if "2015" in loop["requests"] else "."),
             f"No-op re-sync including verify: {loop['noop_seconds'] * 1000:.0f} ms, {loop['noop_requests']} "
             f"requests; rsync --fsync no-op {loop['rsync_noop_seconds'] * 1000:.0f} ms."]
    if "link" in figures:
        link = figures["link"]
        notes.append(f"Link: a network namespace over a veth pair shaped to 20 Mbit/s with tc tbf; 25 ms each way "
                     f"by {'tc netem' if link['delay'] == 'netem' else 'the benchmark relay (the kernel has no netem)'}, "
                     "applied alike to v2 and rsync. Samples: " + "; ".join(
                         f"{case} " + ", ".join(f"{value:.2f}" for value in values)
                         for case, values in link["samples"].items()) + ".")
    if "rss" in figures:
        rss = figures["rss"]
        notes.append(f"Memory: one batch of {rss['megabytes']} MB ({rss['requests']} requests): exporter process "
                     f"peak RSS {rss['exporter_peak_rss_mb']:.0f} MB ({rss.get('exporter_rss_before_mb', 0):.0f} MB "
                     "before the run, after its imports), busiest target worker "
                     f"{rss['target_worker_peak_rss_mb'] or 0:.0f} MB; neither holds the batch.")
    return notes


if __name__ == "__main__":
    sys.exit(main())
