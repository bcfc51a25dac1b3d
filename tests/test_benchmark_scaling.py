"""benchmarks/scaling.py: each search case's p99 at the larger scale against the smaller, with
the case's reason to grow (or the bound it must keep) taken from the search benchmark's cases."""

from __future__ import annotations

from benchmarks import scaling


def run(scale: str, figures: dict[str, float]) -> dict:
    """A search benchmark document of ``case -> ms`` rows (p50 rows are left out of the comparison)."""
    rows = [{"case": f"{case} [{which}]", "backend": "sqlite", "figure": value}
            for case, value in figures.items() for which in ("p50", "p99")]
    return {"scale": scale, "results": rows}


def test_each_p99_is_set_beside_the_same_case_at_the_smaller_scale() -> None:
    small = run("small", {"events: one night, one camera, wire": 2.0, "events: deep page (skip = half the table)": 10.0})
    full = run("full", {"events: one night, one camera, wire": 3.0, "events: deep page (skip = half the table)": 900.0,
                        "a case the smaller run lacks": 1.0})
    results = {result.case: result for result in scaling.compare(small, full)}
    assert set(results) == {"events: one night, one camera, wire: full vs small",
                            "events: deep page (skip = half the table): full vs small"}
    bounded = results["events: one night, one camera, wire: full vs small"]
    assert (bounded.figure, bounded.reference, bounded.ratio) == (3.0, 2.0, 1.5)
    assert bounded.note == "bounded: must stay within 2x"
    assert results["events: deep page (skip = half the table): full vs small"].note == "grows: skips half the table"
