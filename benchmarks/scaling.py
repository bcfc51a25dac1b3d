"""Search at two scales side by side: each case's p99 at the larger scale against the same case
at the smaller, from two runs of the search benchmark (their JSON documents).

    python -m benchmarks.scaling benchmarks/results/small-search-sqlite.json \\
        benchmarks/results/full-search-sqlite.json [more pairs, small then full, ...]

Issue 13's goal: a case bounded by a camera and a night stays within 2x of its small-scale p99;
a case whose result or count is a fixed fraction of the table grows with it, as the
hand-written floor beside it does (the note says why). Writes
``benchmarks/results/search-scaling.json``, which ``python -m benchmarks.report`` renders.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from benchmarks._common import Result, write_document
from benchmarks.search import CASES

_GROWS = {case.name: case.grows for case in CASES}


def compare(smaller: dict, larger: dict) -> list[Result]:
    """A result per p99 row of ``larger`` that ``smaller`` has too: larger p99 against smaller."""
    before = {(row["case"], row["backend"]): row for row in smaller["results"] if row["case"].endswith("[p99]")}
    results = []
    for row in larger["results"]:
        small = before.get((row["case"], row["backend"]))
        if small is None:
            continue
        name = row["case"].removesuffix(" [p99]").removesuffix(", wire")
        grows = _GROWS.get(name, "")
        results.append(Result("search p99", f"{row['case'].removesuffix(' [p99]')}: {larger['scale']} vs "
                              f"{smaller['scale']}", row["backend"], row["figure"], small["figure"], "ms",
                              f"grows: {grows}" if grows else "bounded: must stay within 2x"))
    return results


def main(argv: list[str]) -> int:
    if len(argv) < 2 or len(argv) % 2:
        print(__doc__, file=sys.stderr)
        return 2
    documents = [json.loads(Path(path).read_text()) for path in argv]
    results = [result for smaller, larger in zip(documents[::2], documents[1::2])
               for result in compare(smaller, larger)]
    scales = f"{documents[1]['scale']} against {documents[0]['scale']}"
    bounded = [r for r in results if r.note.startswith("bounded")]
    within = sum(1 for r in bounded if r.ratio is not None and r.ratio <= 2)
    notes = [f"{within} of {len(bounded)} bounded cases within 2x",
             "the runs compared: " + "; ".join(f"`{document.get('command', '?')}`" for document in documents)]
    path = write_document("search-scaling", f"Search p99 at scale `{scales}`", "benchmarks.scaling", argv,
                          results, notes=notes)
    print(f"wrote {path}; {notes[0]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
