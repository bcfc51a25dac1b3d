"""HTTP load with wrk (Debian's ``wrk``, installed by scripts/services), measured interleaved.

wrk is a C load generator (epoll, one thread per core): unlike a Python client it is not the
bottleneck on a small machine, which the benchmark shows by pointing it at nginx serving a
static file. Every figure is measured interleaved with its reference (A B A B ...) and reported
as the median of its rounds, so that a noisy neighbour slows both sides alike.
"""

from __future__ import annotations

import re
import shutil
import statistics
import subprocess

THREADS = 2
CONNECTIONS = 8
_RATE = re.compile(r"^Requests/sec:\s+([\d.]+)", re.MULTILINE)
_TRANSFER = re.compile(r"^Transfer/sec:\s+([\d.]+)([KMG]?B)", re.MULTILINE)
_UNITS = {"B": 1e-6, "KB": 1024 / 1e6, "MB": 1024**2 / 1e6, "GB": 1024**3 / 1e6}
_ERRORS = re.compile(r"Non-2xx or 3xx responses:\s+(\d+)")


def wrk_path() -> str:
    path = shutil.which("wrk")
    if path is None:
        raise RuntimeError("wrk is missing: run scripts/services (installs Debian's wrk)")
    return path


def measure(url: str, seconds: float, headers: dict[str, str] | None = None) -> dict[str, float]:
    """Requests/s and MB/s of ``url`` under wrk (THREADS threads, CONNECTIONS connections)."""
    command = [wrk_path(), "-t", str(THREADS), "-c", str(CONNECTIONS), "-d", f"{seconds:g}s"]
    for name, value in (headers or {}).items():
        command += ["-H", f"{name}: {value}"]
    output = subprocess.run([*command, url], check=True, capture_output=True, text=True,
                            timeout=seconds + 60).stdout
    errors = _ERRORS.search(output)
    if errors:
        raise RuntimeError(f"{url}: {errors.group(1)} error responses under load:\n{output}")
    rate, transfer = _RATE.search(output), _TRANSFER.search(output)
    if rate is None or transfer is None:
        raise RuntimeError(f"unexpected wrk output:\n{output}")
    return {"requests_per_s": float(rate.group(1)),
            "mb_per_s": float(transfer.group(1)) * _UNITS[transfer.group(2)]}


def interleaved(subject: tuple[str, dict], reference: tuple[str, dict], seconds: float,
                rounds: int = 3) -> tuple[dict[str, float], dict[str, float]]:
    """Medians of ``rounds`` alternating measurements of (url, headers) ``subject`` and
    ``reference``: A B A B ..."""
    ours, theirs = [], []
    for _ in range(rounds):
        ours.append(measure(subject[0], seconds, subject[1]))
        theirs.append(measure(reference[0], seconds, reference[1]))
    return _median(ours), _median(theirs)


def _median(samples: list[dict[str, float]]) -> dict[str, float]:
    return {key: statistics.median(sample[key] for sample in samples) for key in samples[0]}
