"""Two writers on one row: every backend must end as PostgreSQL does.

PostgreSQL makes the second writer wait and then re-reads the row; SQLite serialises whole
write transactions. Firebird makes the second writer wait and then fails it with an update
conflict, which the data layer turns into "lost the race" (a claim) or a fresh attempt of the
transaction (``meteorpi_fdb.firebird.retry_update_conflicts``). Each test holds a row changed in
an open transaction, starts the contended operation on a second ``MeteorDatabase`` (so, its own
connection), lets it run into the lock, then commits.
"""

from __future__ import annotations

import threading
import time
import uuid
from contextlib import contextmanager
from datetime import timedelta
from typing import Any, Callable, Iterator

from argon2 import PasswordHasher
from sqlalchemy import select, update

import meteorpi_model as model
from meteorpi_fdb import schema
from meteorpi_fdb._users import password_hasher
from tests.helpers import make_event, make_status, utc

T0 = utc(2015, 3, 1)
#: How long the holder keeps its transaction open after the contender started.
HOLD_SECONDS = 0.7


def export_config() -> model.ExportConfiguration:
    return model.ExportConfiguration(target_url="http://central.example.org/import", user_id="exporter",
                                     password="s3cret", search=model.EventSearch(), name="to central",
                                     description="", enabled=True)


@contextmanager
def holding(db, statement) -> Iterator[None]:
    """Run ``statement`` in a transaction of ``db`` that commits only when the block ends."""
    with db.transaction() as connection:
        assert connection.execute(statement).rowcount == 1
        yield


def contend(operation: Callable[[], Any], holder: Callable[[], Any]) -> Any:
    """Start ``operation`` on a thread while ``holder()`` (a :func:`holding` block) is open;
    return what it returned once the holder has committed, re-raising what it raised."""
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["value"] = operation()
        except BaseException as error:  # re-raised in the test's thread
            outcome["error"] = error

    with holder():
        thread = threading.Thread(target=run)
        thread.start()
        time.sleep(HOLD_SECONDS)
        assert thread.is_alive(), "the contender did not wait for the held row"
    thread.join(timeout=30)
    assert not thread.is_alive()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def queue_row(db, event_id: uuid.UUID) -> tuple[int, int]:
    """(export time, state) of an event's queue row."""
    queue, event = schema.t_eventexport, schema.t_event
    with db.connection() as connection:
        return tuple(connection.execute(
            select(queue.c.exporttime, queue.c.exportstate)
            .join(event, event.c.internalid == queue.c.eventid)
            .where(event.c.eventid == event_id.hex)
        ).one())


def queue_update(event_id: uuid.UUID):
    queue, event = schema.t_eventexport, schema.t_event
    internal = select(event.c.internalid).where(event.c.eventid == event_id.hex).scalar_subquery()
    return update(queue).where(queue.c.eventid == internal)


def queued_events(db, count: int) -> tuple[model.ExportConfiguration, list[model.Event]]:
    make_status(db, None, T0)
    events = [make_event(db, T0 + timedelta(seconds=second)) for second in range(count)]
    config = db.create_or_update_export_configuration(export_config())
    assert db.mark_entities_to_export(config) == count
    return config, events


def test_a_claim_that_waited_for_another_claim_of_its_task_takes_the_next_task(make_db):
    first, second = make_db(), make_db()
    _config, events = queued_events(first, 2)
    due_at = queue_row(first, events[0].event_id)[0]
    claimed_until = due_at + 3_600_000

    task = contend(
        second.get_next_entity_to_export,
        lambda: holding(first, queue_update(events[0].event_id)
                        .where(schema.t_eventexport.c.exporttime == due_at)
                        .values(exporttime=claimed_until)),
    )

    assert task is not None and task.entity_id == events[1].event_id
    assert queue_row(first, events[0].event_id) == (claimed_until, 1)
    assert second.get_next_entity_to_export() is None


def test_completing_a_task_whose_row_another_writer_holds(make_db):
    first, second = make_db(), make_db()
    _config, events = queued_events(first, 1)
    task = second.get_next_entity_to_export()
    deferred_to = queue_row(first, events[0].event_id)[0] + 60_000

    contend(lambda: task.set_status(0),
            lambda: holding(first, queue_update(events[0].event_id).values(exporttime=deferred_to)))

    assert queue_row(first, events[0].event_id) == (deferred_to, 0)


def test_deferring_a_configuration_while_a_task_of_it_is_being_claimed(make_db):
    first, second = make_db(), make_db()
    config, events = queued_events(first, 2)
    due_at = queue_row(first, events[0].event_id)[0]

    moved = contend(
        lambda: second.defer_export_tasks(config.config_id, 3600),
        lambda: holding(first, queue_update(events[0].event_id).values(exporttime=due_at + 1)),
    )

    assert moved == 2
    export_times = {queue_row(first, event.event_id)[0] for event in events}
    assert len(export_times) == 1 and export_times.pop() >= due_at + 3_600_000


def test_failures_counted_by_two_exporters_at_once_add_up(make_db):
    first, second = make_db(), make_db()
    config = first.create_or_update_export_configuration(export_config())
    configs = schema.t_exportconfig

    count = contend(
        lambda: second.record_export_failure(config.config_id),
        lambda: holding(first, update(configs).where(configs.c.exportconfigid == config.config_id.hex)
                        .values(failurecount=configs.c.failurecount + 1)),
    )

    assert count == 2
    assert first.record_export_failure(config.config_id) == 3


def test_deleting_a_user_that_another_writer_is_changing(make_db):
    first, second = make_db(), make_db()
    first.create_or_update_user("observer", "pw-observer", ["user"])
    users = schema.t_user

    deleted = contend(
        lambda: second.delete_user("observer"),
        lambda: holding(first, update(users).where(users.c.userid == "observer").values(rolemask=0)),
    )

    assert deleted
    assert first.get_user_by_id("observer") is None


def test_a_login_upgrades_an_old_hash_while_another_writer_changes_the_user(make_db):
    first, second = make_db(), make_db()
    first.create_or_update_user("observer", "pw-observer", ["user"])
    users = schema.t_user
    old_hash = PasswordHasher(time_cost=2, memory_cost=1024, parallelism=1).hash("pw-observer")
    with first.transaction() as connection:
        connection.execute(update(users).where(users.c.userid == "observer").values(pwhash=old_hash))

    user = contend(
        lambda: second.get_user("observer", "pw-observer"),
        lambda: holding(first, update(users).where(users.c.userid == "observer").values(rolemask=0)),
    )

    assert user.user_id == "observer"
    with first.connection() as connection:
        stored_hash, role_mask = connection.execute(
            select(users.c.pwhash, users.c.rolemask).where(users.c.userid == "observer")
        ).one()
    assert stored_hash != old_hash and not password_hasher().check_needs_rehash(stored_hash)
    assert role_mask == 0
    assert first.get_user("observer", "pw-observer").user_id == "observer"


def test_rolling_back_the_mark_over_an_event_whose_task_is_being_claimed(make_db):
    first, second = make_db(), make_db()
    _config, events = queued_events(first, 2)
    first.set_high_water_mark(T0 + timedelta(minutes=1))
    due_at = queue_row(first, events[1].event_id)[0]

    contend(
        lambda: second.set_high_water_mark(T0 + timedelta(milliseconds=500)),
        lambda: holding(first, queue_update(events[1].event_id).values(exporttime=due_at + 3_600_000)),
    )

    assert first.get_event(events[0].event_id) is not None
    assert first.get_event(events[1].event_id) is None
    assert first.get_next_entity_to_export().entity_id == events[0].event_id
    assert first.get_next_entity_to_export() is None
