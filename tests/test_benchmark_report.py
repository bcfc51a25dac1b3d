"""The results file's merge (benchmarks/report.py): rendering some runs replaces their sections,
keeps the others, and drops an older section once newer ones measure everything it measured,
so that the one results file never gives two figures for one benchmark, scale and backend."""

from __future__ import annotations

from benchmarks import report

T1, T2, T3 = "2026-12-01T10:00:00+00:00", "2026-12-01T11:00:00+00:00", "2026-12-01T12:00:00+00:00"


def document(*sections: tuple[str, str, str]) -> str:
    """A results file of (key, time measured, body) sections."""
    return "\n".join(report.HEADER) + "\n" + "".join(f"<!-- section: {key} -->\n## {key}, {when}\n{body}\n"
                                                    for key, when, body in sections)


def test_a_rendered_section_replaces_its_own_key_in_place_and_keeps_the_rest() -> None:
    existing = document(("scale-small-search-sqlite", T1, "old search"), ("replication", T1, "rsync"))
    merged = report.merge(existing, document(("scale-small-search-sqlite", T2, "new search")))
    assert "new search" in merged and "old search" not in merged and "rsync" in merged
    assert merged.index("new search") < merged.index("rsync")


def test_an_older_section_goes_once_newer_ones_measure_all_it_held() -> None:
    existing = document(("scale-small-http+logins-postgresql+sqlite", T1, "old both"), ("registration", T1, "floor"))
    partly = report.merge(existing, document(("scale-small-http-postgresql+sqlite", T2, "new http")))
    assert "old both" in partly  # its login figures are not measured again yet
    fully = report.merge(partly, document(("scale-small-logins-postgresql+sqlite", T3, "new logins")))
    assert "old both" not in fully
    assert {"new http", "new logins", "floor"} <= {line for line in fully.splitlines()}


def test_another_scale_or_backend_does_not_supersede() -> None:
    existing = document(("scale-medium-search-sqlite", T1, "medium"), ("scale-small-search-postgresql", T1, "pg"))
    merged = report.merge(existing, document(("scale-small-search-sqlite", T2, "small sqlite")))
    assert "medium" in merged and "pg" in merged and "small sqlite" in merged


def test_a_newer_section_is_never_dropped_for_an_older_wider_one() -> None:
    existing = document(("scale-small-http-sqlite", T2, "newer narrow"),
                        ("scale-small-http+logins-sqlite", T1, "older wide"))
    merged = report.merge(existing, document(("scale-small-logins-sqlite", T3, "newest logins")))
    assert "newer narrow" in merged and "newest logins" in merged and "older wide" not in merged
