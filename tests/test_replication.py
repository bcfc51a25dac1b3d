"""Replication between two real nodes: exporting events, files and everything, on demand and
on a schedule, then comparing the two nodes' search answers and file content."""

from __future__ import annotations

import threading

import pytest

import meteorpi_model as model
from meteorpi_fdb import MeteorDatabase
from meteorpi_fdb.exporter import ExportSettings
from tests import backends
from tests.replication_helpers import (SOURCE_ID, TARGET_ID, add_import_user, all_events,
                                       all_files, assert_events_replicated,
                                       assert_files_replicated, configure_export, drain_together,
                                       exporter_for, populate, record_answers, RoundRobin, wait_for)
from tests.replication_helpers import protocol, source, start_node, target, target_db_url  # noqa: F401 (fixtures)


@pytest.mark.both_stores
def test_export_all_events(source, target, tmp_path, protocol):
    data = populate(source.db, tmp_path / "in", events=5, files_per_event=3, loose_files=2)
    config = configure_export(source.db, target.import_url, model.EventSearch())
    exporter = exporter_for(source.db, protocol=protocol)

    summary = exporter.run_once()

    assert (summary.marked, summary.complete, summary.failed, summary.confused) == (5, 5, 0, 0)
    assert_events_replicated(source.db, target.db, expected_count=5)
    # Only the events' files went across: the loose files were not part of the search.
    assert {f.file_id for f in all_files(target.db)} == {
        r.file_id for e in data.events for r in e.file_records}
    # What arrived is recorded as imported (and so excluded by exclude_imported).
    assert all_events(target.db, exclude_imported=True) == []
    # Nothing is sent twice.
    again = exporter.run_once()
    assert (again.marked, again.tasks, again.requests) == (0, 0, 0)
    assert source.db.export_status()[0]["completed"] == 5
    assert source.db.get_export_configuration(config.config_id).enabled


def test_export_all_files_leaves_event_files_to_event_exports(source, target, tmp_path, protocol):
    data = populate(source.db, tmp_path / "in", events=3, files_per_event=2, loose_files=4)
    configure_export(source.db, target.import_url, model.FileRecordSearch(exclude_events=True))

    summary = exporter_for(source.db, protocol=protocol).run_once()

    assert (summary.marked, summary.complete, summary.failed) == (4, 4, 0)
    replicated = assert_files_replicated(source.db, target.db, expected_count=4, exclude_events=True)
    assert {f.file_id for f in replicated} == {f.file_id for f in data.loose_files}
    assert all_events(target.db) == []
    assert len(all_files(target.db)) == 4


@pytest.mark.both_stores
def test_export_everything(source, target, tmp_path, protocol):
    populate(source.db, tmp_path / "in", events=4, files_per_event=3, loose_files=3)
    configure_export(source.db, target.import_url, model.EventSearch(), name="events")
    configure_export(source.db, target.import_url, model.FileRecordSearch(exclude_events=True),
                     name="loose files")

    summary = exporter_for(source.db, protocol=protocol).run_once()

    assert (summary.marked, summary.complete, summary.failed) == (7, 7, 0)
    assert_events_replicated(source.db, target.db, expected_count=4)
    assert_files_replicated(source.db, target.db, expected_count=4 * 3 + 3)


def test_export_follows_a_saved_search(source, target, tmp_path, protocol):
    data = populate(source.db, tmp_path / "in", events=6, files_per_event=1, loose_files=0)
    chosen = data.events[2:5]
    search = model.EventSearch(after=data.events[1].event_time, before=data.events[5].event_time)
    configure_export(source.db, target.import_url, search)

    summary = exporter_for(source.db, protocol=protocol).run_once()

    assert summary.complete == 3
    assert {e.event_id for e in all_events(target.db)} == {e.event_id for e in chosen}


def test_scheduled_export_picks_up_new_data(source, target, tmp_path, protocol):
    first = populate(source.db, tmp_path / "in", events=3, files_per_event=2, loose_files=1)
    configure_export(source.db, target.import_url, model.EventSearch(), name="events")
    configure_export(source.db, target.import_url, model.FileRecordSearch(exclude_events=True),
                     name="loose files")
    exporter = exporter_for(source.db, protocol=protocol, mark_interval_seconds=0.2)
    exporter.start()
    try:
        wait_for(lambda: len(all_events(target.db)) == 3 and len(all_files(target.db)) == 7)
        # New data arrives on the source, under a new camera status block.
        populate(source.db, tmp_path / "in2", events=2, files_per_event=2, loose_files=2,
                 seed=7, after=first)
        wait_for(lambda: len(all_events(target.db)) == 5 and len(all_files(target.db)) == 13)
    finally:
        exporter.stop()
    assert not exporter.scheduler.running
    assert_events_replicated(source.db, target.db, expected_count=5)
    assert_files_replicated(source.db, target.db, expected_count=13)
    assert len({e.status_id for e in all_events(target.db)}) == 2


def test_starting_the_scheduler_is_enough_as_in_2015(source, target, tmp_path, protocol):
    populate(source.db, tmp_path / "in", events=2, files_per_event=1, loose_files=0)
    configure_export(source.db, target.import_url, model.EventSearch())
    exporter = exporter_for(source.db, protocol=protocol, mark_interval_seconds=0.2)
    exporter.scheduler.start()
    try:
        wait_for(lambda: len(all_events(target.db)) == 2)
    finally:
        exporter.scheduler.shutdown()
    assert_events_replicated(source.db, target.db, expected_count=2)


def test_stopping_mid_round_neither_hangs_nor_loses_tasks(source, target, tmp_path, protocol):
    populate(source.db, tmp_path / "in", events=40, files_per_event=1, loose_files=0)
    config = configure_export(source.db, target.import_url, model.EventSearch())
    if protocol == "v2":  # stops after the batch in hand
        source.db.set_export_settings(config.config_id, ExportSettings(batch_entities=4))
    for stop in ("scheduler.shutdown", "exporter.stop"):
        exporter = exporter_for(source.db, protocol=protocol, mark_interval_seconds=0.2)
        exporter.scheduler.start()
        already = len(all_events(target.db))
        wait_for(lambda: len(all_events(target.db)) > already, interval=0.02)
        stopper = threading.Thread(
            target=exporter.scheduler.shutdown if stop == "scheduler.shutdown" else exporter.stop)
        stopper.start()
        stopper.join(60)
        assert not stopper.is_alive(), f"{stop} hung"
        assert not exporter.scheduler.running
        assert len(all_events(target.db)) < 40  # stopped after the task (or batch) in hand
    # Whatever was not sent is still queued and goes with the next run.
    exporter_for(source.db, protocol=protocol).run_once()
    assert_events_replicated(source.db, target.db, expected_count=40)


def test_replicates_to_a_target_on_the_other_backend(source, start_node, tmp_path, protocol):
    """Source on the parametrised backend, target on another one: SQLite -> PostgreSQL,
    PostgreSQL -> SQLite, Firebird -> PostgreSQL."""
    other = {"sqlite": "postgresql", "postgresql": "sqlite", "firebird": "postgresql"}[source.db.backend]
    template = backends.create_template(other, tmp_path)
    url = backends.copy_template(other, template, tmp_path / "other.db")
    try:
        node = start_node(url, TARGET_ID)
        add_import_user(node.db)
        assert node.db.backend == other
        populate(source.db, tmp_path / "in", events=3, files_per_event=2, loose_files=2)
        configure_export(source.db, node.import_url, model.EventSearch(), name="events")
        configure_export(source.db, node.import_url, model.FileRecordSearch(exclude_events=True),
                         name="files")
        summary = exporter_for(source.db, protocol=protocol).run_once()
        assert (summary.complete, summary.failed) == (5, 0)
        assert_events_replicated(source.db, node.db, expected_count=3)
        assert_files_replicated(source.db, node.db, expected_count=8)
        node.stop()
    finally:
        backends.drop_copy(other, url)
        backends.drop_template(other, template)


def test_two_exporters_draining_one_source_never_send_a_task_twice(source, target, db_url, tmp_path, protocol):
    populate(source.db, tmp_path / "in", events=12, files_per_event=2, loose_files=6)
    configure_export(source.db, target.import_url, model.EventSearch(), name="events")
    configure_export(source.db, target.import_url, model.FileRecordSearch(exclude_events=True),
                     name="files")
    exporters = [exporter_for(source.db, protocol=protocol)]
    exporters[0].mark_entities()
    # The second exporter works on its own connection pool, as another process would.
    second_db = MeteorDatabase(db_url, source.file_store, installation_id=SOURCE_ID)
    exporters.append(exporter_for(second_db, protocol=protocol))
    handled = drain_together(exporters, _next_export)
    second_db.close()

    tasks = [(config, entity) for config, entity, _ in handled[0] + handled[1]]
    assert len(tasks) == 18 and len(set(tasks)) == 18
    assert handled[0] and handled[1], "both exporters should have taken part"
    assert {state for *_, state in handled[0] + handled[1]} == {"complete"}
    assert_events_replicated(source.db, target.db, expected_count=12)
    assert_files_replicated(source.db, target.db, expected_count=30)


def _next_export(exporter) -> list | None:
    state = exporter.handle_next_export()
    return None if state is None else [state]


@pytest.mark.both_stores
def test_the_same_entity_from_two_exporters_at_once_is_imported_once(source, target, db_url, tmp_path, protocol):
    """Two configurations queue every event twice; two exporters send both copies concurrently."""
    populate(source.db, tmp_path / "in", events=8, files_per_event=3, loose_files=0)
    configure_export(source.db, target.import_url, model.EventSearch(), name="first")
    configure_export(source.db, target.import_url, model.EventSearch(), name="second")
    second_db = MeteorDatabase(db_url, source.file_store, installation_id=SOURCE_ID)
    exporters = [exporter_for(source.db, protocol=protocol), exporter_for(second_db, protocol=protocol)]
    exporters[0].mark_entities()
    handled = drain_together(exporters, _next_export)
    second_db.close()

    assert [state for *_, state in handled[0] + handled[1]] == ["complete"] * 16
    assert_events_replicated(source.db, target.db, expected_count=8)
    assert len(all_files(target.db)) == 24
    assert target.db.check_file_store() == {"orphans": [], "missing": [], "strays": []}


def test_a_cache_miss_in_another_server_process_costs_exactly_one_round_trip(
        source, target_db_url, start_node, tmp_path):
    """Two server processes share the target's database and file store behind one address;
    the balancer sends requests to A, B, B, A, B, B, ... so every short-form message lands on
    B, which never saw the entity in full."""
    worker_a = start_node(target_db_url, TARGET_ID)
    worker_b = start_node(target_db_url, TARGET_ID, file_store=worker_a.file_store)
    add_import_user(worker_a.db)
    populate(source.db, tmp_path / "in", events=1, files_per_event=2, loose_files=0)
    configure_export(source.db, worker_a.import_url, model.EventSearch())
    exporter = exporter_for(source.db)
    exporter._session(worker_a.import_url).mount(
        f"{worker_a.base_url}/", RoundRobin([worker_a.port, worker_b.port, worker_b.port]))
    answers = record_answers(exporter, worker_a.import_url)

    summary = exporter.run_once()

    assert (summary.complete, summary.failed) == (1, 0)
    assert answers == ["need_status", "continue", "continue-nocache",
                       "need_file_data", "continue", "continue-nocache",
                       "need_file_data", "continue", "continue-nocache",
                       "complete"]
    assert_events_replicated(source.db, worker_a.db, expected_count=1)
