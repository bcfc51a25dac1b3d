"""The hot path's raw reads (meteorpi_fdb._raw): the change stamp and search pages read on a
per-thread DB-API connection must see every committed write, whichever thread or process made
it, survive a connection that died, start afresh in a forked child, and be released by
``close``. On Firebird the same behaviour comes from the pooled path."""

from __future__ import annotations

import multiprocessing
import threading

import meteorpi_model as model
from tests.conftest import INSTALLATION_ID
from tests.helpers import make_event, make_status, utc


def _in_thread(function):
    result = []
    thread = threading.Thread(target=lambda: result.append(function()))
    thread.start()
    thread.join()
    return result[0]


def test_the_stamp_and_pages_follow_writes_from_other_threads(db) -> None:
    make_status(db, INSTALLATION_ID, utc(2015, 1, 1))
    before, page_before = db.change_stamp(), db.search_events_wire(model.EventSearch())
    assert _in_thread(db.change_stamp) == before
    _in_thread(lambda: make_event(db, utc(2015, 1, 2)))
    after = db.change_stamp()
    assert after != before and _in_thread(db.change_stamp) == after
    page_after = db.search_events_wire(model.EventSearch())
    assert page_after != page_before and b'"count":1' in page_after


def _child_stamp(db, queue) -> None:
    db.engine.dispose(close=False)  # as the WSGI factory's after-fork hook does
    queue.put(db.change_stamp())
    make_event(db, utc(2015, 1, 3))
    queue.put(db.change_stamp())


def test_a_forked_child_reads_on_its_own_connections(db) -> None:
    make_status(db, INSTALLATION_ID, utc(2015, 1, 1))
    parent = db.change_stamp()  # the parent's thread has its raw connection now
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=_child_stamp, args=(db, queue))
    child.start()
    first, second = queue.get(timeout=60), queue.get(timeout=60)
    child.join(60)
    assert child.exitcode == 0
    assert first == parent and second != parent
    assert db.change_stamp() == second  # the parent sees the child's write on its own connection


def test_a_read_connection_that_died_is_replaced(db, backend) -> None:
    stamp = db.change_stamp()
    raw_reads = db._raw_reads
    if raw_reads is not None:
        connection = raw_reads._local.connection
        if backend == "postgresql":
            with db.engine.connect() as other:
                from sqlalchemy import text

                other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": connection.info.backend_pid})
                other.commit()
        else:
            connection.close()
    assert db.change_stamp() == stamp
    assert db.search_events_wire(model.EventSearch()).startswith(b'{"events":[]')


def test_close_releases_the_read_connections(db) -> None:
    db.change_stamp()
    _in_thread(db.change_stamp)
    raw_reads = db._raw_reads
    opened = [] if raw_reads is None else [driver for _, driver in raw_reads._opened]
    assert raw_reads is None or len(opened) == 2
    db.close()
    for driver in opened:
        assert getattr(driver, "closed", None) or _sqlite_closed(driver)


def _sqlite_closed(driver) -> bool:
    try:
        driver.execute("SELECT 1")
    except Exception as error:  # sqlite3.ProgrammingError: Cannot operate on a closed database
        return "closed" in str(error)
    return False
