"""Render benchmark JSON files as docs/benchmark-results.md, the one place figures are written
(every other document links to it).

    python -m benchmarks.report benchmarks/results/small.json [more.json …]
    python -m benchmarks.report --stdout benchmarks/results/small.json
    python -m benchmarks.report benchmarks/results/replication.json benchmarks/results/registration.json
    python -m benchmarks.report benchmarks/results/object_store.json

Each document becomes one section of the results file; the sections of documents not given
are kept as they are.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path


def _number(value: float | None) -> str:
    if value is None:
        return ""
    return f"{value:,.2f}" if abs(value) < 100 else f"{value:,.0f}"


HEADER = ["# Benchmark results", "",
          "Produced by `python -m benchmarks` (and the single benchmarks' `--json`) and rendered by",
          "`python -m benchmarks.report`. Each figure stands beside its reference from the same run on",
          "the same machine; ratio = MeteorPi / reference (for latencies lower is better, for rates",
          "higher is). Rendering some documents replaces their sections and keeps the others.", ""]


def render(documents: list[dict]) -> str:
    return "\n".join(HEADER + [line for document in documents for line in render_document(document)])


def render_document(document: dict) -> list[str]:
    """One document's section, opened by a marker naming it (see :func:`merge`)."""
    machine = document["machine"]
    about = [f"Machine: {machine['cpu']}, {machine['cores']} cores, {machine['memory_gb']} GB, "
             f"Python {machine['python']}, {machine['platform']}.", ""]
    if "section" in document:  # one benchmark's own run (its --json): see _single_benchmark
        return _single_benchmark(document, about)
    measured = sorted({result["benchmark"] for result in document["results"]})
    backends = sorted({result["backend"] for result in document["results"]})
    key = f"scale-{document['scale']}-{'+'.join(measured)}-{'+'.join(backends)}"
    title = f"## Scale `{document['scale']}`: {', '.join(measured)} ({', '.join(backends)}), {document['when']}"
    return _with_command_and_notes([_marker(key), title, ""], document, about)


def _single_benchmark(document: dict, about: list[str]) -> list[str]:
    """A section written by one benchmark's ``--json`` (replication, registration): its title,
    the exact command that produced it, the table, then its notes."""
    return _with_command_and_notes([_marker(document["section"]), f"## {document['title']}, {document['when']}", ""],
                                   document, about)


def _with_command_and_notes(heading: list[str], document: dict, about: list[str]) -> list[str]:
    """``heading``, the exact command (when the document names it), the machine, the tables,
    then the document's notes."""
    command = [f"Command: `{document['command']}`", ""] if "command" in document else []
    lines = heading + command + about + _tables(document)
    lines += [f"- {note}" for note in document.get("notes", [])]
    return lines + ([""] if document.get("notes") else [])


def _tables(document: dict) -> list[str]:
    """The results table, then the peak RSS table if any."""
    lines = ["| benchmark | case | backend | MeteorPi | reference | unit | ratio |",
             "| --- | --- | --- | ---: | ---: | --- | ---: |"]
    for result in document["results"]:
        lines.append(
            f"| {result['benchmark']} | {result['case']} | {result['backend']} | "
            f"{_number(result['figure'])} | {_number(result['reference'])} | {result['unit']} | "
            f"{_number(result['ratio'])} |")
    notes = [result for result in document["results"] if result.get("note")]
    if notes:
        lines += ["", "Notes:", ""]
        lines += [f"- {result['benchmark']}, {result['case']} ({result['backend']}): {result['note']}"
                  for result in notes]
    if document.get("peak_rss_mb"):
        lines += ["", "| peak RSS during | MB |", "| --- | ---: |"]
        lines += [f"| {name} | {_number(value)} |" for name, value in document["peak_rss_mb"].items()]
    lines.append("")
    return lines


def _marker(key: str) -> str:
    return f"<!-- section: {key} -->"


def merge(existing: str, rendered: str) -> str:
    """``rendered`` (a header and sections), with every section of ``existing`` whose key it
    does not render kept, in place, unless newer sections measure everything it measured (so
    that no two sections give figures of one benchmark, scale and backend). A section without
    a marker (written before markers) is keyed by its ``## Scale `name``` heading."""
    old = [(key, text) for key, text in _split(existing) if key is not None]
    new = [(key, text) for key, text in _split(rendered) if key is not None]
    replacing = dict(new)
    kept = [(key, replacing.pop(key, text)) for key, text in old]
    kept += [(key, text) for key, text in new if key in replacing]
    facts = [(key, _measured(key, text), _when(text)) for key, text in kept]
    sections = [text for (key, text), (_, measured, when) in zip(kept, facts)
                if not _superseded(key, measured, when, facts)]
    return "\n".join(HEADER) + "\n" + "".join(sections)


def _superseded(key: str, measured: set, when: str, facts: list[tuple[str, set, str]]) -> bool:
    """Whether sections measured later than ``when`` hold every figure ``measured`` (this suite
    section's); ``facts`` is (key, figures, time) of every section."""
    later = [figures for other, figures, other_when in facts if other != key and other_when > when]
    return bool(measured) and measured <= set().union(*later)


def _measured(key: str, text: str) -> set[tuple[str, str, str]]:
    """(scale, benchmark, backend) of every figure in a suite section's tables; empty for other
    sections (one benchmark's own run), which only a section of their key replaces."""
    scale = re.fullmatch(r"scale-(\w+)-.*", key)
    if scale is None:
        return set()
    figures = set()
    for line in text.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if line.startswith("|") and len(cells) == 7 and cells[0] not in ("benchmark", "---"):
            figures.add((scale.group(1), cells[0], cells[2]))
    return figures


def _when(text: str) -> str:
    """The ISO time at the end of a section's heading ('' if none: older than any)."""
    match = re.search(r"^## .*, (\d{4}-\d\d-\d\dT[^\s]+)$", text, re.MULTILINE)
    return match.group(1) if match else ""


def _split(text: str) -> list[tuple[str | None, str]]:
    """(key, text) of the part before the first section (key None) and of each section."""
    parts: list[tuple[str | None, list[str]]] = [(None, [])]
    pending_marker: str | None = None
    for line in text.splitlines(keepends=True):
        marker = re.fullmatch(r"<!-- section: (\S+) -->\s*", line)
        if marker:
            pending_marker = marker.group(1)
            parts.append((pending_marker, [line]))
            continue
        legacy = re.match(r"## Scale `([^`]+)`", line)
        if legacy and pending_marker is None:
            parts.append((f"scale-{legacy.group(1)}", [line]))
        else:
            parts[-1][1].append(line)
        if line.startswith("## "):
            pending_marker = None
    return [(key, "".join(lines)) for key, lines in parts]


RESULTS_FILE = Path(__file__).parent.parent / "docs" / "benchmark-results.md"


def main(argv: list[str] | None = None) -> int:
    arguments = list(argv if argv is not None else sys.argv[1:])
    to_stdout = "--stdout" in arguments
    paths = [Path(argument) for argument in arguments if argument != "--stdout"]
    if not paths:
        print(__doc__, file=sys.stderr)
        return 2
    text = render([json.loads(path.read_text()) for path in paths])
    if to_stdout:
        print(text)
    else:
        existing = RESULTS_FILE.read_text(encoding="utf-8") if RESULTS_FILE.exists() else ""
        RESULTS_FILE.write_text(merge(existing, text + "\n"), encoding="utf-8")
        print(f"wrote {RESULTS_FILE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
