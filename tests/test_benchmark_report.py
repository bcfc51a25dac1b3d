"""The results file's merge (benchmarks/report.py): rendering some runs replaces their sections,
keeps the others, and drops an older section once later ones hold every figure it held (every
benchmark and backend of its tables, at its scale), so that the one results file never gives
two figures for one benchmark, scale and backend."""

from __future__ import annotations

from benchmarks import report

T1, T2, T3 = "2026-12-01T10:00:00+00:00", "2026-12-01T11:00:00+00:00", "2026-12-01T12:00:00+00:00"


def section(key: str, when: str, note: str, *figures: tuple[str, str]) -> str:
    """A section measured at ``when`` holding a row per (benchmark, backend), and ``note``."""
    rows = "".join(f"| {benchmark} | a case | {backend} | 1 | 2 | ms | 0.50 |\n" for benchmark, backend in figures)
    return (f"<!-- section: {key} -->\n## {key}, {when}\n\n| benchmark | case | backend | MeteorPi | "
            f"reference | unit | ratio |\n| --- | --- | --- | ---: | ---: | --- | ---: |\n{rows}\n{note}\n\n")


def document(*sections: str) -> str:
    return "\n".join(report.HEADER) + "\n" + "".join(sections)


def test_a_rendered_section_replaces_its_own_key_in_place_and_keeps_the_rest() -> None:
    existing = document(section("scale-small-search-sqlite", T1, "old search", ("search", "sqlite")),
                        section("replication", T1, "rsync"))
    merged = report.merge(existing, document(section("scale-small-search-sqlite", T2, "new search",
                                                     ("search", "sqlite"))))
    assert "new search" in merged and "old search" not in merged and "rsync" in merged
    assert merged.index("new search") < merged.index("rsync")


def test_an_older_section_goes_once_later_ones_hold_every_figure_it_held() -> None:
    existing = document(section("scale-small-http+logins-postgresql+sqlite", T1, "old both", ("http", "sqlite"),
                                ("http", "postgresql"), ("logins", "sqlite")),
                        section("registration", T1, "floor"))
    partly = report.merge(existing, document(section("scale-small-http-postgresql+sqlite", T2, "new http",
                                                     ("http", "sqlite"), ("http", "postgresql"))))
    assert "old both" in partly  # its login figure is not measured again yet
    fully = report.merge(partly, document(section("scale-small-logins-sqlite", T3, "new logins",
                                                  ("logins", "sqlite"))))
    assert "old both" not in fully
    assert {"new http", "new logins", "floor"} <= set(fully.splitlines())


def test_another_scale_or_backend_does_not_supersede() -> None:
    existing = document(section("scale-medium-search-sqlite", T1, "medium", ("search", "sqlite")),
                        section("scale-small-search-postgresql", T1, "pg", ("search", "postgresql")))
    merged = report.merge(existing, document(section("scale-small-search-sqlite", T2, "small sqlite",
                                                     ("search", "sqlite"))))
    assert {"medium", "pg", "small sqlite"} <= set(merged.splitlines())


def test_a_newer_section_is_never_dropped_for_an_older_wider_one() -> None:
    existing = document(section("scale-small-http-sqlite", T2, "newer narrow", ("http", "sqlite")),
                        section("scale-small-http+logins-sqlite", T1, "older wide", ("http", "sqlite"),
                                ("logins", "sqlite")))
    merged = report.merge(existing, document(section("scale-small-logins-sqlite", T3, "newest logins",
                                                     ("logins", "sqlite"))))
    assert {"newer narrow", "newest logins"} <= set(merged.splitlines())
    assert "older wide" not in merged
