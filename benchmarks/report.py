"""Render benchmark JSON files as docs/benchmark-results.md, the one place figures are written
(every other document links to it).

    python -m benchmarks.report benchmarks/results/small.json [more.json …]
    python -m benchmarks.report --stdout benchmarks/results/small.json
    python -m benchmarks.report --merge benchmarks/results/object_store.json   # add or replace its
                                                                               # section, keep the rest
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def _number(value: float | None) -> str:
    if value is None:
        return ""
    return f"{value:,.2f}" if abs(value) < 100 else f"{value:,.0f}"


def render(documents: list[dict]) -> str:
    lines = ["# Benchmark results", "",
             "Produced by `python -m benchmarks` and rendered by `python -m benchmarks.report`.",
             "Each figure stands beside its reference from the same run on the same machine;",
             "ratio = MeteorPi / reference (for latencies lower is better, for rates higher is).", ""]
    for document in documents:
        machine = document["machine"]
        lines += [_heading(document), "",
                  f"Machine: {machine['cpu']}, {machine['cores']} cores, {machine['memory_gb']} GB, "
                  f"Python {machine['python']}, {machine['platform']}.", "",
                  *([document["description"], ""] if document.get("description") else []),
                  "| benchmark | case | backend | MeteorPi | reference | unit | ratio |",
                  "| --- | --- | --- | ---: | ---: | --- | ---: |"]
        for result in document["results"]:
            lines.append(
                f"| {result['benchmark']} | {result['case']} | {result['backend']} | "
                f"{_number(result['figure'])} | {_number(result['reference'])} | {result['unit']} | "
                f"{_number(result['ratio'])} |")
        if document.get("peak_rss_mb"):
            lines += ["", "| peak RSS during | MB |", "| --- | ---: |"]
            lines += [f"| {name} | {_number(value)} |" for name, value in document["peak_rss_mb"].items()]
        lines.append("")
    return "\n".join(lines)


RESULTS_FILE = Path(__file__).parent.parent / "docs" / "benchmark-results.md"


def _heading(document: dict) -> str:
    title = document.get("title") or f"Scale `{document['scale']}`"
    return f"## {title}, {document['when']}"


def merged(existing: str, documents: list[dict]) -> str:
    """``existing`` with the sections of ``documents`` added, or replacing those of the same title."""
    head, *sections = [part.rstrip("\n") for part in existing.split("\n## ")]
    fresh = [part.rstrip("\n") for part in render(documents).split("\n## ")[1:]]
    titles = {_title(section) for section in fresh}
    kept = [section for section in sections if _title(section) not in titles]
    return "\n\n## ".join([head, *kept, *fresh]) + "\n"


def _title(section: str) -> str:
    """A section's title: its heading without the time of the run."""
    return section.split("\n", 1)[0].rsplit(", ", 1)[0]


def main(argv: list[str] | None = None) -> int:
    arguments = list(argv if argv is not None else sys.argv[1:])
    to_stdout, merge = "--stdout" in arguments, "--merge" in arguments
    paths = [Path(argument) for argument in arguments if argument not in ("--stdout", "--merge")]
    if not paths:
        print(__doc__, file=sys.stderr)
        return 2
    documents = [json.loads(path.read_text()) for path in paths]
    text = render(documents)
    if merge:
        text = merged(RESULTS_FILE.read_text(encoding="utf-8"), documents).rstrip("\n")
    if to_stdout:
        print(text)
    else:
        RESULTS_FILE.write_text(text + "\n", encoding="utf-8")
        print(f"wrote {RESULTS_FILE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
