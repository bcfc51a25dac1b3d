"""One entity the target refuses never blocks the others (issue 10): a NUL byte that an older
SQLite source holds in a metadata value, between two real nodes, on every target backend."""

from __future__ import annotations

from sqlalchemy import text

import meteorpi_model as model
from tests.replication_helpers import (SOURCE_ID, all_events, config_status, configure_export,
                                       exporter_for, populate)
from tests.replication_helpers import start_node, target, target_db_url  # noqa: F401 (fixtures)


def test_a_nul_in_one_event_does_not_stop_the_valid_ones(start_node, target, tmp_path):
    # SQLite is the one backend that stores a NUL; the model refuses one since issue 10, so the
    # bad row goes in by SQL, as written by an older version or by hand.
    source = start_node(f"sqlite:///{tmp_path / 'source.db'}", SOURCE_ID)
    data = populate(source.db, tmp_path / "in", events=3, files_per_event=1, loose_files=0)
    bad, valid = data.events[0], data.events[1:]
    with source.db.transaction() as connection:
        changed = connection.execute(text(
            "UPDATE t_eventMeta SET stringValue = 'meteor' || char(0) || 'x' "
            "WHERE eventID = (SELECT internalID FROM t_event WHERE eventID = :id) "
            "AND stringValue IS NOT NULL"), {"id": bad.event_id.hex}).rowcount
    assert changed == 1
    source.db.generators.cache_clear_all()
    config = configure_export(source.db, target.import_url, model.EventSearch())
    # Strict: the very first counted failure would disable the configuration.
    exporter = exporter_for(source.db, max_failures_before_disable=1, defer_on_failure_seconds=600)
    states = []

    summary = exporter.run_once(progress=states.append)

    assert sorted(e.event_id for e in all_events(target.db)) == sorted(e.event_id for e in valid)
    assert (summary.complete, summary.failed) == (2, 1)
    refused = next(s for s in states if s.state == "failed")
    assert refused.entity_id == bad.event_id and refused.refused and "NUL" in refused.message
    status = config_status(source.db, config.config_id)
    assert (status["enabled"], status["failure_count"], status["pending"]) == (True, 0, 1)
    assert exporter.handle_next_export() is None  # the refused task waits on its own
