"""What every benchmark shares: the result record, timing and percentiles, machine facts."""

from __future__ import annotations

import os
import platform
import resource
import statistics
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable


@dataclass
class Result:
    """One measured figure beside its reference; ``ratio`` = figure / reference."""

    benchmark: str
    case: str
    backend: str
    figure: float
    reference: float | None
    unit: str
    note: str = ""

    @property
    def ratio(self) -> float | None:
        if self.reference in (None, 0):
            return None
        return self.figure / self.reference

    def as_dict(self) -> dict:
        return {**asdict(self), "ratio": self.ratio}


def percentile(samples: list[float], fraction: float) -> float:
    """The ``fraction`` quantile of ``samples`` (nearest rank)."""
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def time_calls(call: Callable[[], object], repeats: int) -> list[float]:
    """Wall-clock milliseconds of ``repeats`` calls."""
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def summarise(samples: list[float]) -> dict[str, float]:
    return {"p50": percentile(samples, 0.5), "p99": percentile(samples, 0.99), "mean": statistics.fmean(samples)}


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, in MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def process_peak_rss_mb(pid: int) -> float | None:
    """Peak RSS (VmHWM) of another live process, in MB; None when it cannot be read."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def _children(pid: int) -> list[int]:
    children = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    parent = int(stat.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            if parent == pid:
                children.append(int(entry))
    return children


def tree_peak_rss_mb(pid: int) -> float:
    """Summed peak RSS of a live process and its children (a gunicorn master and workers), MB."""
    total = 0.0
    for member in [pid, *_children(pid)]:
        total += process_peak_rss_mb(member) or 0.0
    return total


def machine_info() -> dict:
    memory_kb = 0
    try:
        with open("/proc/meminfo") as meminfo:
            memory_kb = int(meminfo.readline().split()[1])
    except OSError:
        pass
    cpu = platform.processor()
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gb": round(memory_kb / 1024 / 1024, 1),
    }


def load_note(when: str) -> str:
    """The machine's load average ``when`` (e.g. "at the end of the run"), for a results note."""
    loads = ", ".join(f"{load:.1f}" for load in os.getloadavg())
    return f"Load average (1, 5, 15 min) {when}: {loads} on {os.cpu_count()} cores."


#: Where single benchmarks write their JSON documents (rendered by ``python -m benchmarks.report``).
RESULTS_DIR = Path(__file__).parent / "results"


def write_document(section: str, title: str, module: str, argv: list[str], results: list[Result],
                   memory: dict[str, float | None] | None = None, notes: list[str] | None = None,
                   figures: dict | None = None, path: Path | None = None) -> Path:
    """Write one benchmark's own run as a document ``benchmarks.report`` renders as a section
    (keyed ``section``), with the exact command that produced it; returns the path."""
    import datetime
    import json
    import shlex

    document = {
        "section": section, "title": title,
        "command": " ".join(["python", "-m", module, *map(shlex.quote, argv)]),
        "when": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": machine_info(), "results": [result.as_dict() for result in results],
        "peak_rss_mb": memory or {}, "figures": figures or {},
        "notes": (notes or []) + [load_note("at the end of the run")],
    }
    path = path or RESULTS_DIR / f"{section}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2))
    return path
