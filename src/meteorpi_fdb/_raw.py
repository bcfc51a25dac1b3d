"""Per-thread raw DB-API connections for single-statement reads on the hot path (SQLite,
PostgreSQL): the change stamp and search pages, read on every search request.

Each thread keeps its own connection (taken out of the engine's pool, so configured like the
others; autocommit on PostgreSQL) that only runs single read statements, outside a transaction
(a statement is its own snapshot), without SQLAlchemy's pool, execution and result machinery.
A connection that fails is dropped and the statement repeated once on a new one; a forked
child opens its own.
"""

from __future__ import annotations

import os
import threading
from typing import Any, Callable, Sequence

from sqlalchemy import Engine


class ThreadConnections:
    """One raw read connection per thread of this process, for ``engine``."""

    def __init__(self, engine: Engine, prepare: Callable[[Any], None] | None = None) -> None:
        """``prepare`` is called with each new DB-API connection (e.g. to register functions)."""
        self.engine = engine
        self.prepare = prepare
        self.postgresql = engine.dialect.name == "postgresql"
        self._local = threading.local()
        self._lock = threading.Lock()
        self._opened: list[tuple[int, Any]] = []

    def fetch(self, sql: str, args: Sequence[Any]) -> list[tuple]:
        """Every row of one read statement (DB-API placeholders: ``?`` on SQLite, ``%s`` on
        PostgreSQL)."""
        try:
            return self._fetch(sql, args)
        except self.engine.dialect.loaded_dbapi.Error:
            if not self._broken():
                raise
            self._local.connection = None
            return self._fetch(sql, args)

    def _broken(self) -> bool:
        connection = getattr(self._local, "connection", None)
        if connection is None:
            return True
        if self.postgresql:
            return bool(connection.closed) or connection.broken
        try:
            connection.execute("SELECT 1").fetchall()
            return False
        except self.engine.dialect.loaded_dbapi.Error:
            return True

    def _fetch(self, sql: str, args: Sequence[Any]) -> list[tuple]:
        local = self._local
        connection = getattr(local, "connection", None)
        if connection is None or local.pid != os.getpid():
            connection = local.connection = self._open()
            local.pid = os.getpid()
        cursor = connection.cursor()
        try:
            cursor.execute(sql, args)
            return cursor.fetchall()  # read to the end: no read snapshot stays open
        finally:
            cursor.close()

    def _open(self) -> Any:
        pooled = self.engine.raw_connection()
        driver = pooled.driver_connection
        pooled.detach()  # ours until closed; the pool opens another in its place
        if self.postgresql:
            driver.autocommit = True
        if self.prepare is not None:
            self.prepare(driver)
        with self._lock:
            self._opened.append((os.getpid(), driver))
        return driver

    def close(self) -> None:
        """Close this process's connections (a forked parent's belong to the parent)."""
        with self._lock:
            opened, self._opened = self._opened, []
        self._local = threading.local()
        for pid, driver in opened:
            if pid == os.getpid():
                try:
                    driver.close()
                except Exception:  # already broken: nothing left to release
                    pass
