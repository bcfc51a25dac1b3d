"""How many bytes the database itself takes (a mixin of ``MeteorDatabase``), for monitoring:
the file (and its write-ahead log) on SQLite, ``pg_database_size`` on PostgreSQL, pages times
page size on Firebird."""

from __future__ import annotations

import os

from sqlalchemy import text


class DatabaseSizeMixin:
    """See the module docstring."""

    def database_bytes(self) -> int | None:
        """The database's size in bytes; None where it cannot be told (an in-memory SQLite)."""
        if self.backend == "sqlite":
            path = self.engine.url.database
            if not path or path == ":memory:":
                return None
            return sum(os.path.getsize(name) for name in (path, f"{path}-wal") if os.path.exists(name))
        sql = ("SELECT pg_database_size(current_database())" if self.backend == "postgresql"
               else "SELECT MON$PAGES * MON$PAGE_SIZE FROM MON$DATABASE")
        with self.single_statement() as connection:
            value = connection.execute(text(sql)).scalar()
        return None if value is None else int(value)
