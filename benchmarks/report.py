"""Render benchmark JSON files as the Markdown tables in docs/benchmarks.md.

    python -m benchmarks.report benchmarks/results/full.json [more.json …] > docs/benchmarks.md
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
        lines += [f"## Scale `{document['scale']}`, {document['when']}", "",
                  f"Machine: {machine['cpu']}, {machine['cores']} cores, {machine['memory_gb']} GB, "
                  f"Python {machine['python']}, {machine['platform']}.", "",
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


def main(argv: list[str] | None = None) -> int:
    paths = [Path(argument) for argument in (argv if argv is not None else sys.argv[1:])]
    if not paths:
        print(__doc__, file=sys.stderr)
        return 2
    print(render([json.loads(path.read_text()) for path in paths]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
