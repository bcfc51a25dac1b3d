"""Memory of a gunicorn server under concurrent wrong-password logins (issue 11).

    python -m benchmarks --only logins    # guard on vs off, into the results document
    python -m benchmarks.bad_logins [--workers 4] [--threads 4] [--concurrency 96]
                                    [--per-client 2] [--guard on|off] [--src DIR] [--json out.json]

Serves a fresh SQLite node with gunicorn (``--workers`` x ``--threads``) using the production
argon2 profile (64 MiB per hash, ``MPI_ARGON2_PROFILE=default``), then sends ``--concurrency``
clients at once, each making ``--per-client`` logins with wrong passwords (half for an existing
user, half for unknown ones) from 127.0.0.1, while a real user logs in for the first time from
127.0.0.2. The summed resident memory of the master and workers is sampled every 10 ms: the
figure is its peak minus the idle level measured just before.

``--guard off`` turns the login guard's limits off (failure throttling 0, a hash budget of
100 GiB); ``--src`` runs the server from another source tree (e.g. a ``git archive`` of the
code before the guard existed) to measure "before" with the real old code.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

from benchmarks._common import Result, _children

VICTIM = ("victim", "victim-password")
OBSERVER = ("observer", "observer-password")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return 0.0
    return 0.0


def tree_rss_mb(pid: int) -> float:
    """Summed current RSS of a process and its children, in MB."""
    return sum(_rss_mb(member) for member in [pid, *_children(pid)])


def _login(port: int, user: tuple[str, str], source: str = "127.0.0.1") -> tuple[int, float]:
    started = time.perf_counter()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=300, source_address=(source, 0))
    token = base64.b64encode(f"{user[0]}:{user[1]}".encode()).decode()
    try:
        connection.request("GET", "/login", headers={"Authorization": f"Basic {token}",
                                                     "Connection": "close"})
        response = connection.getresponse()
        response.read()
        return response.status, time.perf_counter() - started
    finally:
        connection.close()


def _make_node(workdir: Path, env: dict[str, str]) -> str:
    db_url = f"sqlite:///{workdir / 'node.db'}"
    script = ("from meteorpi_fdb import MeteorDatabase; import sys\n"
              "db = MeteorDatabase(sys.argv[1], sys.argv[2], installation_id='b00000000b01')\n"
              f"db.create_or_update_user({VICTIM[0]!r}, {VICTIM[1]!r}, ['user'])\n"
              f"db.create_or_update_user({OBSERVER[0]!r}, {OBSERVER[1]!r}, ['user'])\n")
    subprocess.run([sys.executable, "-c", script, db_url, str(workdir / "files")], env=env, check=True)
    return db_url


def measure(workers: int = 4, threads: int = 4, concurrency: int = 96, per_client: int = 2,
            guard: bool = True, src: str | None = None) -> dict:
    """Run the attack once; every figure as a dict."""
    workdir = Path(tempfile.mkdtemp(prefix="meteorpi-bad-logins-"))
    env = dict(os.environ, MPI_ARGON2_PROFILE="default", MPI_LOG_LEVEL="WARNING")
    if src:
        env["PYTHONPATH"] = os.pathsep.join([str(Path(src).resolve()), env.get("PYTHONPATH", "")])
    if not guard:
        env.update(MPI_LOGIN_FAILURES_PER_USER="0", MPI_LOGIN_FAILURES_PER_ADDRESS="0",
                   MPI_AUTH_HASH_MEMORY_MB="102400")
    db_url = _make_node(workdir, env)
    port = _free_port()
    env.update(MPI_DB=db_url, MPI_FILE_STORE=str(workdir / "files"), MPI_INSTALLATION_ID="b00000000b01")
    command = [sys.executable, "-m", "gunicorn", "--workers", str(workers), "--threads", str(threads),
               "--bind", f"127.0.0.1:{port}", "--log-level", "warning", "--no-control-socket",
               "--timeout", "300", "meteorpi_server.wsgi:create_app()"]
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError("gunicorn did not start")
            time.sleep(0.2)
        for _ in range(workers * 2):  # every worker has built its app and answered
            requests.get(f"http://127.0.0.1:{port}/health", timeout=10, headers={"Connection": "close"})
        time.sleep(1.0)
        idle = tree_rss_mb(process.pid)
        peak = [idle]
        stop = threading.Event()

        def sample() -> None:
            while not stop.is_set():
                peak[0] = max(peak[0], tree_rss_mb(process.pid))
                time.sleep(0.01)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        started = time.perf_counter()
        with ThreadPoolExecutor(concurrency) as pool:
            attack = [pool.submit(_login, port, (VICTIM[0] if n % 2 else f"nobody-{n}", f"wrong-{n}"))
                      for n in range(concurrency * per_client)]
            time.sleep(0.5)  # the attack is under way
            real_status, real_seconds = _login(port, OBSERVER, source="127.0.0.2")
            answers = Counter(future.result()[0] for future in attack)
        elapsed = time.perf_counter() - started
        stop.set()
        sampler.join()
        return {"workers": workers, "threads": threads, "concurrency": concurrency,
                "requests": concurrency * per_client, "guard": guard, "src": src or "this tree",
                "idle_mb": round(idle, 1), "peak_mb": round(peak[0], 1),
                "above_idle_mb": round(peak[0] - idle, 1),
                "answers": dict(sorted(answers.items())), "seconds": round(elapsed, 1),
                "real_user": {"status": real_status, "seconds": round(real_seconds, 2)}}
    finally:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()


def run(workers: int = 4, threads: int = 4, concurrency: int = 96) -> list[Result]:
    """The attack with the login guard on (defaults) and off, one after the other; figures
    beside the guard-off reference (what the server did before the guard existed)."""
    on = measure(workers, threads, concurrency, per_client=1, guard=True)
    off = measure(workers, threads, concurrency, per_client=1, guard=False)
    setup = (f"{concurrency} concurrent wrong-password logins, gunicorn {workers}x{threads}, "
             "argon2 64 MiB")

    def answers(figures: dict) -> str:
        return ", ".join(f"{count} x {status}" for status, count in figures["answers"].items())

    note = (f"idle {on['idle_mb']:,.0f} MB; answers guard on: {answers(on)}; guard off: {answers(off)}; "
            f"command: python -m benchmarks --only logins")
    return [
        Result("logins", f"{setup}: peak RSS above idle, guard on (defaults) vs guard off", "sqlite",
               on["above_idle_mb"], off["above_idle_mb"], "MB", note),
        Result("logins", "a real user's first login during that attack: its wait, guard on vs guard off",
               "sqlite", on["real_user"]["seconds"], off["real_user"]["seconds"], "s",
               f"status guard on {on['real_user']['status']}, guard off {off['real_user']['status']}"),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--concurrency", type=int, default=96)
    parser.add_argument("--per-client", type=int, default=2)
    parser.add_argument("--guard", choices=("on", "off"), default="on")
    parser.add_argument("--src", help="source tree to serve from (its src/ directory)")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    figures = measure(args.workers, args.threads, args.concurrency, args.per_client,
                      args.guard == "on", args.src)
    print(json.dumps(figures, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
