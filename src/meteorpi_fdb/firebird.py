"""Firebird 3 support: locations, database creation, a fixed-up SQLAlchemy dialect, Alembic.

The seed (2015) stored everything in Firebird 2.5 through ``fdb``. This module lets
``MeteorDatabase`` run on Firebird 3 (Debian bookworm's ``firebird3.0-*`` packages) through the
maintained driver stack: ``firebird-driver`` 2.x (ctypes over ``libfbclient.so.2``, the new OO
API) and ``sqlalchemy-firebird`` 2.2 (the ``firebird+firebird://`` dialect). See
``docs/firebird.md`` for set-up, limits and every behaviour the data layer must know about.

Two ways of reaching a database, both through the same client library:

- **Server**: ``firebird+firebird://user:pw@host:3050//abs/path.fdb`` or the seed's
  ``host:/abs/path.fdb`` / ``host/port:/abs/path.fdb``. The file is opened by the server process
  (Debian runs it as user ``firebird``), so the *server* must be able to create and write it.
- **Embedded**: a plain path (``/abs/path/db.fdb``) or ``firebird+firebird:////abs/path.fdb``.
  ``libfbclient`` loads the engine (``plugins/libEngine12.so``, package
  ``firebird3.0-server-core``) into this process; no server, no authentication, the file is
  opened with this process's permissions. In Firebird 3's default SuperServer mode the
  process holds an exclusive lock on the file: one process at a time (many threads are fine),
  and not a file that a server has open ("Database already opened with engine instance,
  incompatible with current").

Why a dialect subclass (:class:`MeteorFirebirdDialect`, installed by :func:`register_firebird`
under the ``firebird`` and ``firebird+firebird`` names, so URLs stay as they are). Each point
was seen with SQLAlchemy 2.1.9, sqlalchemy-firebird 2.2.0, firebird-driver 2.1.0, Firebird 3.0.11:

- upstream's ``dialect.name`` is ``"firebird.firebird"``, so ``dialect.name == "firebird"``
  checks, ``@compiles(..., "firebird")`` and Alembic's per-dialect lookup all miss it; ours is
  ``"firebird"``;
- upstream's ``set_isolation_level`` / ``do_terminate`` call methods that firebird-driver 2.x
  does not have (``AttributeError`` on ``create_engine(isolation_level=...)``, and on every
  pool invalidation or recycle, which then leaks the connection); ours set the transaction
  parameter buffer (TPB) of the connection's main transaction and close the connection
  (twice if need be: on a dead attachment the first close fails in its rollback);
- upstream's reflection reports the index behind each UNIQUE constraint as a separate unique
  index; ours marks it ``duplicates_constraint`` as the PostgreSQL dialect does;
- the default pre-ping leaves a driver transaction open that the checked-out connection then
  uses (so a per-connection isolation level applied one transaction late); ours ends it;
- firebird-driver reports every server error as plain ``DatabaseError``; ours re-raises
  SQLSTATE class 23 as ``IntegrityError`` and class 22 as ``DataError`` so that SQLAlchemy
  raises ``sqlalchemy.exc.IntegrityError`` / ``DataError`` as on the other backends;
- Firebird applies DDL only at commit: a table created in a transaction cannot be used by
  DML in that same transaction ("Table unknown"). Ours issues COMMIT RETAINING after each
  DDL statement (SQLAlchemy DDL constructs, ``metadata.create_all``, Alembic operations and
  its version table, and DDL sent as ``text()``), so a migration that creates a table and
  then inserts into it works. The price: on Firebird, DDL is not rolled back with the
  surrounding transaction;
- upstream renders ``Float`` as 32-bit ``FLOAT`` (and casts Float binds to it) and ``Double``
  as ``DOUBLE``, which Firebird 3 rejects; ours renders both as ``DOUBLE PRECISION``;
- upstream renders ``with_for_update()`` as a bare ``FOR UPDATE``, which locks nothing in
  Firebird; ours renders ``FOR UPDATE WITH LOCK``;
- upstream registers server databases in firebird-driver's global ``driver_config`` under the
  bare path, so equal paths on two servers, or on a server and embedded, redirect each
  other's attachments; ours passes full DSNs, and embedded files get a private entry that
  allows only the in-process engine;
- firebird-driver warns (``ResourceWarning``, an error under ``-W error``) for each cursor
  collected unclosed, e.g. after ``conn.execute(select).fetchone()``; ours close quietly.

Nothing here imports firebird-driver or sqlalchemy-firebird at module import time, so the
module (and :func:`firebird_url`) works on machines without them; the Firebird-specific
functions raise ``ImportError`` there, and :func:`is_firebird_available` returns ``False``.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import random
import re
import socket
import tempfile
import threading
import time
import uuid
from typing import Any, Callable, TypeVar

from sqlalchemy.engine import URL, make_url

logger = logging.getLogger("meteorpi.db")

_T = TypeVar("_T")

DRIVERNAME = "firebird+firebird"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 3050
#: Page size for new databases. Index keys are limited to about a quarter of a page; 16 KiB
#: leaves room for the (metakey VARCHAR(128), stringvalue VARCHAR(255)) UTF8 index (see docs).
PAGE_SIZE = 16384
CHARSET = "UTF8"
#: Seconds a statement waits for a row lock held by another transaction before failing with
#: a lock conflict (instead of waiting forever behind a stuck connection).
DEFAULT_LOCK_TIMEOUT = 10
MAX_IDENTIFIER_LENGTH = 31  # Firebird 3 (63 characters from Firebird 4)

#: GDS codes of the errors a writer gets when another transaction changed the same row:
#: isc_deadlock, isc_update_conflict, isc_lock_conflict, isc_lock_timeout.
UPDATE_CONFLICT_CODES = frozenset({335544336, 335544451, 335544345, 335544510})
_OPEN_FAILED_CODES = frozenset({335544344, 335544734})  # isc_io_error, isc_io_open_err

#: Per-attachment configuration for embedded databases: only the in-process engine. The
#: default provider list (Remote, Engine12, Loopback) would fall back to the local server
#: (Loopback) when the engine cannot open the file, e.g. because a server holds it.
EMBEDDED_CONFIG = "Providers = Engine12"

_ISOLATION_LEVELS = ("READ COMMITTED", "REPEATABLE READ", "SERIALIZABLE", "AUTOCOMMIT")
_SERVER_LOCATION = re.compile(r"^(?P<host>\[[0-9A-Fa-f:.]+\]|[\w.\-]+)(?:/(?P<port>\d+))?:(?P<path>.+)$")
_lock = threading.RLock()
_registered = False


# --------------------------------------------------------------------------------------------
# Locations and URLs
# --------------------------------------------------------------------------------------------


def firebird_url(location: str | os.PathLike | URL, user: str = "SYSDBA", password: str = "masterkey") -> URL:
    """Turn a Firebird location into a ``firebird+firebird`` SQLAlchemy URL.

    Accepted forms:

    - a SQLAlchemy URL (``firebird://`` or ``firebird+firebird://``; ``//`` before an absolute
      path: ``firebird+firebird://u:p@host:3050//var/lib/db.fdb``); user and password in the
      URL win, ``user`` / ``password`` fill in what it lacks;
    - the seed's ``host:/path/db.fdb`` and ``host/port:/path/db.fdb`` (``[::1]/3050:/p`` for
      IPv6): a server; a path without a leading ``/`` is relative to the server or an alias
      from its ``databases.conf``, and is passed on unchanged;
    - a plain path ``/path/db.fdb`` (or a relative path, made absolute here): embedded.

    The result always has ``charset=UTF8`` in its query (unless the URL names another): without
    it the connection character set is NONE and non-ASCII text is not transliterated.
    """
    if isinstance(location, URL):
        url = location
    else:
        text_location = os.fspath(location)
        if not text_location:
            raise ValueError("db_path: empty Firebird location")
        if "://" in text_location:
            url = make_url(text_location)
        else:
            url = _url_from_seed_location(text_location)
    if url.get_backend_name() != "firebird":
        raise ValueError(f"db_path: not a Firebird URL: {url.render_as_string()}")
    if url.drivername == "firebird":
        url = url.set(drivername=DRIVERNAME)
    if not url.database:
        raise ValueError("db_path: the Firebird URL names no database file")
    if not url.host:
        # Embedded: make the path absolute now, so that it does not depend on the working
        # directory of whoever opens it later.
        url = url.set(database=os.path.abspath(url.database))
    if url.username is None and user:
        url = url.set(username=user)
    if url.password is None and password:
        url = url.set(password=password)
    if "charset" not in url.query:
        url = url.update_query_dict({"charset": CHARSET})
    register_firebird()
    return url


def _url_from_seed_location(location: str) -> URL:
    match = _SERVER_LOCATION.match(location)
    # A one-letter "host" followed by a slash is a Windows drive (C:/db.fdb), not a server.
    if match and not (len(match["host"]) == 1 and match["path"][:1] in ("/", "\\")):
        host = match["host"].strip("[]")
        port = int(match["port"]) if match["port"] else None
        return URL.create(DRIVERNAME, host=host, port=port, database=match["path"])
    return URL.create(DRIVERNAME, database=os.path.abspath(location))


def is_embedded(url: URL) -> bool:
    """True when ``url`` opens the file in-process (no host) rather than through a server."""
    return not make_url(url).host


def _embedded_name(path: str) -> str:
    """The firebird-driver database name under which ``path`` opens with :data:`EMBEDDED_CONFIG`.

    firebird-driver can only pass a per-attachment configuration through a database entry in
    its process-wide ``driver_config``. The entry gets its own name rather than the bare path:
    upstream's dialect registers server databases under the bare path (and would redirect an
    embedded path to that server, or the other way round).
    """
    fdb = _driver()
    name = f"meteorpi-embedded:{path}"
    with _lock:
        if fdb.driver_config.get_database(name) is None:
            config = fdb.driver_config.register_database(name)
            config.database.value = path
            config.config.value = EMBEDDED_CONFIG
    return name


def _attach_name(url: URL) -> str:
    """What to pass to firebird-driver's ``connect()``: a server DSN or the embedded name."""
    url = make_url(url)
    return firebird_dsn(url) if url.host else _embedded_name(url.database)


def firebird_dsn(url: URL) -> str:
    """The firebird-driver connection string for ``url``: ``host/port:path`` or a plain path."""
    url = make_url(url)
    if not url.host:
        return url.database
    host = f"[{url.host}]" if ":" in url.host else url.host
    return f"{host}/{url.port or DEFAULT_PORT}:{url.database}"


# --------------------------------------------------------------------------------------------
# Creating and dropping databases
# --------------------------------------------------------------------------------------------


def ensure_firebird_database(url: URL, *, page_size: int = PAGE_SIZE, forced_writes: bool = True) -> bool:
    """Create the database file named by ``url`` if it does not exist; return True if created.

    The file is created with ``page_size`` (16 KiB) and default character set UTF8, so that
    every ``VARCHAR`` without an explicit character set holds Unicode and the composite index
    keys of our schema fit (Firebird cannot change either later without a backup/restore).
    Firebird's ``CREATE DATABASE`` only exists in isql; firebird-driver's
    ``create_database`` takes page size and charset from a *registered* database
    configuration, so one is registered under a unique name for the call.

    ``forced_writes`` (Firebird's synchronous writes, on by default) makes every commit reach
    the disk before it returns -- what the durability rules of SPEC section 10 need. Test
    databases may turn it off: with it, creating our schema (one commit per DDL statement)
    takes about 4-5 s instead of 0.3 s. It is stored in the database header, so copies of a
    file keep it.

    Embedded: the parent directory is created too. Server: an attach that fails with an I/O
    error is answered by a create; if the create fails as well (e.g. the file exists but the
    server may not open it, or another process created it meanwhile), the attach is retried
    once and its error is what is raised.
    """
    fdb = _driver()
    url = make_url(url)
    dsn = firebird_dsn(url)
    name = _attach_name(url)
    credentials = {"user": url.username, "password": url.password, "charset": CHARSET}
    if is_embedded(url):
        path = url.database
        if os.path.exists(path):
            return False
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    else:
        try:
            fdb.connect(name, **credentials).close()
            return False
        except fdb.DatabaseError as error:
            if not _OPEN_FAILED_CODES & set(error.gds_codes or ()):
                raise
    try:
        _create_database(dsn, credentials, page_size, forced_writes, embedded=is_embedded(url))
    except fdb.DatabaseError:
        # Lost a race with another process, or the file exists but cannot be opened: the
        # attach error says which.
        fdb.connect(name, **credentials).close()
        return False
    logger.info(
        "Created Firebird database %s (page size %d, %s, forced writes %s)",
        dsn, page_size, CHARSET, "on" if forced_writes else "off",
    )
    return True


def _create_database(dsn: str, credentials: dict, page_size: int, forced_writes: bool, *, embedded: bool) -> None:
    fdb = _driver()
    name = f"meteorpi-create-{uuid.uuid4().hex}"
    with _lock:  # driver_config is a process-wide registry
        config = fdb.driver_config.register_database(name)
        config.database.value = dsn
        config.page_size.value = page_size
        config.db_charset.value = CHARSET
        config.forced_writes.value = forced_writes
        if embedded:
            config.config.value = EMBEDDED_CONFIG
        try:
            fdb.create_database(name, **credentials).close()
        finally:
            fdb.driver_config.databases.value.remove(config)


def drop_firebird_database(url: URL, *, force: bool = False) -> None:
    """Drop (delete) the database named by ``url``; nothing happens if it does not exist.

    Firebird refuses to drop a database that has other attachments ("object ... is in use"):
    dispose every engine on it first, or pass ``force=True`` (tests' teardown, like
    PostgreSQL's ``DROP DATABASE ... WITH (FORCE)``), which first ends the other attachments
    by deleting their ``MON$ATTACHMENTS`` rows (allowed to SYSDBA and the owner); whoever
    still holds one of them gets "connection shutdown" on its next use.
    """
    fdb = _driver()
    url = make_url(url)
    if is_embedded(url) and not os.path.exists(url.database):
        return
    for attempt in range(50):
        try:
            connection = fdb.connect(_attach_name(url), user=url.username, password=url.password, charset=CHARSET)
        except fdb.DatabaseError as error:
            if _OPEN_FAILED_CODES & set(error.gds_codes or ()):
                return
            raise
        try:
            if force:
                with connection.cursor() as cursor:
                    cursor.execute(
                        "DELETE FROM mon$attachments "
                        "WHERE mon$attachment_id <> CURRENT_CONNECTION AND mon$system_flag = 0"
                    )
                connection.commit()
            connection.drop_database()
            return
        except fdb.DatabaseError:
            connection.close()
            if not force or attempt == 49:
                raise
            time.sleep(0.1)  # the ended attachments are still detaching


# --------------------------------------------------------------------------------------------
# Engines
# --------------------------------------------------------------------------------------------


def engine_kwargs_for_firebird(url: URL) -> dict[str, Any]:
    """Keyword arguments for ``create_engine(url, **kwargs)`` on Firebird.

    Also calls :func:`register_firebird`, so the engine gets :class:`MeteorFirebirdDialect`.

    - ``isolation_level="READ COMMITTED"``: firebird-driver starts every transaction as
      SNAPSHOT (a connection in a transaction never sees rows committed after it began);
      READ COMMITTED (record version, wait with :data:`DEFAULT_LOCK_TIMEOUT`) matches
      PostgreSQL's default and SQLite's behaviour between statements.
    - ``connect_args={"charset": "UTF8"}`` for URLs that did not come from
      :func:`firebird_url`.
    - server: ``pool_pre_ping`` (survive a server restart) and a pool like PostgreSQL's.
    """
    register_firebird()
    url = make_url(url)
    kwargs: dict[str, Any] = {
        "isolation_level": "READ COMMITTED",
        "lock_timeout": DEFAULT_LOCK_TIMEOUT,
    }
    if "charset" not in url.query:
        kwargs["connect_args"] = {"charset": CHARSET}
    if not is_embedded(url):
        kwargs.update(pool_pre_ping=True, pool_size=5, max_overflow=10)
    return kwargs


def create_firebird_engine(url: URL, **overrides: Any):
    """``create_engine`` with :func:`engine_kwargs_for_firebird`; ``overrides`` win."""
    from sqlalchemy import create_engine

    return create_engine(url, **{**engine_kwargs_for_firebird(url), **overrides})


def is_update_conflict(error: BaseException) -> bool:
    """True if ``error`` (a SQLAlchemy or firebird-driver exception) is a write-write conflict.

    In Firebird 3 even READ COMMITTED raises "deadlock / update conflicts with concurrent
    update" when a row this transaction updates or deletes was changed by a transaction that
    committed after this statement started waiting; PostgreSQL would re-read the row instead.
    Callers retry the whole transaction.
    """
    original = getattr(error, "orig", error)
    return bool(UPDATE_CONFLICT_CODES & set(getattr(original, "gds_codes", None) or ()))


#: How often :func:`retry_update_conflicts` runs a transaction that keeps losing to others.
CONFLICT_ATTEMPTS = 5


def retry_update_conflicts(transaction: Callable[[], _T], attempts: int = CONFLICT_ATTEMPTS) -> _T:
    """Run ``transaction()`` (one whole transaction: begun, committed or rolled back inside it)
    and run it again when it fails with an update conflict (:func:`is_update_conflict`).

    The failed attempt has been rolled back, so the next one starts afresh and sees what the
    winning transaction committed: the outcome is what PostgreSQL gives by re-reading the row.
    Only Firebird reports such conflicts; on the other backends this is one plain call. The
    last attempt's error is raised.
    """
    attempt = 1
    while True:
        try:
            return transaction()
        except Exception as error:
            if attempt >= attempts or not is_update_conflict(error):
                raise
        logger.debug("update conflict: running the transaction again (attempt %d)", attempt + 1)
        time.sleep(random.uniform(0, 0.005 * attempt))  # let the competing transactions drift apart
        attempt += 1


#: The table :func:`firebird_migration_lock` locks a row of (not part of the schema; exclude
#: it from schema comparisons the way ``alembic_version`` is).
MIGRATION_LOCK_TABLE = "meteorpi_lock"


@contextlib.contextmanager
def firebird_migration_lock(engine, timeout: int = 600):
    """Hold a database-wide lock while the block runs (PostgreSQL's advisory lock, for Firebird).

    Firebird has no advisory locks, and its DDL commits as it goes (see the module docstring),
    so two processes upgrading one new database at once interleave their CREATE TABLEs and
    both fail. This takes ``SELECT ... WITH LOCK`` on the one row of
    :data:`MIGRATION_LOCK_TABLE` (created on first use) on a connection of its own, which
    waits up to ``timeout`` seconds for another holder and keeps the lock until the block
    ends, whatever the block's own connections commit meanwhile. Re-read the schema revision
    inside the block.
    """
    from sqlalchemy import exc, inspect, text

    table = MIGRATION_LOCK_TABLE
    for _ in range(20):  # racing creators: the loser sees the table on its next round
        try:
            with engine.begin() as connection:
                if not inspect(connection).has_table(table):
                    connection.execute(text(f"CREATE TABLE {table} (id INTEGER NOT NULL PRIMARY KEY)"))
                if connection.execute(text(f"SELECT COUNT(*) FROM {table}")).scalar() == 0:
                    connection.execute(text(f"INSERT INTO {table} (id) VALUES (1)"))
            break
        except exc.DBAPIError:
            continue
    connection = engine.connect()
    try:
        connection.execution_options(isolation_level="READ COMMITTED")
        transaction = connection.connection.dbapi_connection.main_transaction
        transaction.default_tpb = _driver().TPB(
            isolation=_driver().Isolation.READ_COMMITTED_RECORD_VERSION, lock_timeout=timeout
        ).get_buffer()
        connection.execute(text(f"SELECT id FROM {table} WHERE id = 1 WITH LOCK")).all()
        yield
    finally:
        connection.rollback()
        connection.invalidate()  # its TPB was changed behind SQLAlchemy's back: do not pool it
        connection.close()


# --------------------------------------------------------------------------------------------
# The dialect and the Alembic implementation
# --------------------------------------------------------------------------------------------


def register_firebird() -> None:
    """Install :class:`MeteorFirebirdDialect` and the Alembic implementation (idempotent).

    After this, ``create_engine("firebird+firebird://...")`` and ``create_engine("firebird://...")``
    in this process use :class:`MeteorFirebirdDialect`.
    """
    global _registered
    with _lock:
        if _registered:
            return
        from sqlalchemy.dialects import registry

        registry.register("firebird", __name__, "MeteorFirebirdDialect")
        registry.register("firebird.firebird", __name__, "MeteorFirebirdDialect")
        register_alembic_impl()
        _registered = True


def register_alembic_impl():
    """Register an Alembic implementation for Firebird and return its class.

    Alembic has no Firebird implementation and sqlalchemy-firebird registers none, so
    ``MigrationContext.configure`` fails with ``KeyError: 'firebird.firebird'``. Alembic finds
    implementations by ``dialect.name`` through a metaclass registry: defining a ``DefaultImpl``
    subclass with ``__dialect__`` is all it takes. Two are registered: ``firebird`` (our
    dialect) and ``firebird.firebird`` (upstream's, should an engine be created without
    :func:`register_firebird`). The DDL forms Firebird spells differently (``ADD`` / ``DROP``
    without ``COLUMN``, ``ALTER COLUMN a TO b``) are compiled for ``firebird`` too; renaming a
    table is impossible in Firebird and raises ``CompileError``.
    """
    return _alembic_classes()[0]


@functools.cache
def _alembic_classes():
    from alembic.ddl import base as alembic_base
    from alembic.ddl.impl import DefaultImpl
    from sqlalchemy import exc
    from sqlalchemy.ext.compiler import compiles

    class FirebirdImpl(DefaultImpl):
        """Alembic operations on Firebird 3.

        ``transactional_ddl`` is False: Firebird only applies DDL at commit, and the dialect
        commits (retaining) after each DDL statement anyway.
        """

        __dialect__ = "firebird"
        transactional_ddl = False

    class UpstreamFirebirdImpl(FirebirdImpl):
        __dialect__ = "firebird.firebird"

    @compiles(alembic_base.AddColumn, "firebird")
    def _add_column(element, compiler, **kw):
        return "%s ADD %s" % (
            alembic_base.alter_table(compiler, element.table_name, element.schema),
            compiler.get_column_specification(element.column, **kw),
        )

    @compiles(alembic_base.DropColumn, "firebird")
    def _drop_column(element, compiler, **kw):
        return "%s DROP %s" % (
            alembic_base.alter_table(compiler, element.table_name, element.schema),
            alembic_base.format_column_name(compiler, element.column.name),
        )

    @compiles(alembic_base.ColumnName, "firebird")
    def _rename_column(element, compiler, **kw):
        return "%s ALTER COLUMN %s TO %s" % (
            alembic_base.alter_table(compiler, element.table_name, element.schema),
            alembic_base.format_column_name(compiler, element.column_name),
            alembic_base.format_column_name(compiler, element.newname),
        )

    @compiles(alembic_base.RenameTable, "firebird")
    def _rename_table(element, compiler, **kw):
        raise exc.CompileError(
            f"Firebird cannot rename a table ({element.table_name} -> {element.new_table_name}): "
            "create the new table, copy the rows, drop the old one"
        )

    return FirebirdImpl, UpstreamFirebirdImpl


@functools.cache
def _dialect_class():
    from firebird.driver import TPB, Cursor, Isolation, StatementType
    from sqlalchemy import text
    from sqlalchemy.engine import reflection
    from firebird.driver import types as fbtypes
    from sqlalchemy_firebird.base import FBCompiler, FBExecutionContext, FBTypeCompiler
    from sqlalchemy_firebird.firebird import FBDialect_firebird

    def _tpb(level: str, lock_timeout: int) -> bytes:
        if level == "READ COMMITTED":
            return TPB(isolation=Isolation.READ_COMMITTED_RECORD_VERSION, lock_timeout=lock_timeout).get_buffer()
        if level == "REPEATABLE READ":
            return TPB(isolation=Isolation.SNAPSHOT, lock_timeout=lock_timeout).get_buffer()
        if level == "SERIALIZABLE":
            return TPB(isolation=Isolation.SERIALIZABLE, lock_timeout=lock_timeout).get_buffer()
        if level == "AUTOCOMMIT":
            return TPB(
                isolation=Isolation.READ_COMMITTED_RECORD_VERSION, lock_timeout=lock_timeout, auto_commit=True
            ).get_buffer()
        raise ValueError(f"isolation level {level!r} is not one of {', '.join(_ISOLATION_LEVELS)}")

    def _translate(error):
        """firebird-driver raises DatabaseError for everything; give SQLAlchemy the DB-API class."""
        state = error.sqlstate or ""
        if type(error) is fbtypes.DatabaseError and state[:2] in ("23", "22"):
            cls = fbtypes.IntegrityError if state.startswith("23") else fbtypes.DataError
            return cls(*error.args, sqlstate=error.sqlstate, sqlcode=error.sqlcode, gds_codes=error.gds_codes)
        return None

    @contextlib.contextmanager
    def _translated_errors():
        try:
            yield
        except fbtypes.DatabaseError as error:
            translated = _translate(error)
            if translated is None:
                raise
            raise translated from error

    class MeteorFirebirdTypeCompiler(FBTypeCompiler):
        """``Float`` / ``Double`` as 64-bit ``DOUBLE PRECISION``.

        Upstream renders ``Float`` as Firebird's 32-bit ``FLOAT`` (51.123456789 comes back as
        51.12345504760742) -- also in the ``CAST(? AS FLOAT)`` it wraps every Float bind in,
        so even a DOUBLE PRECISION column would get single-precision values -- and ``Double``
        as ``DOUBLE``, which Firebird 3 does not accept. PostgreSQL's ``FLOAT`` and SQLite's
        ``REAL`` are 64-bit; so is this. An explicit ``Float(precision=24)`` or less stays FLOAT.
        """

        def visit_FLOAT(self, type_, **kw):
            precision = getattr(type_, "precision", None)
            return "FLOAT" if precision is not None and precision <= 24 else "DOUBLE PRECISION"

        def visit_DOUBLE(self, type_, **kw):
            return "DOUBLE PRECISION"

    class MeteorFirebirdCompiler(FBCompiler):
        def for_update_clause(self, select, **kw):
            """``with_for_update()`` as ``FOR UPDATE WITH LOCK``.

            In Firebird a bare ``FOR UPDATE`` locks nothing (it only fetches row by row);
            upstream adds ``WITH LOCK`` only for ``nowait=True``, which on PostgreSQL means
            something else. Firebird 3 cannot choose waiting per statement (the transaction's
            lock timeout applies) and has no SKIP LOCKED. ``WITH LOCK`` is only allowed on a
            single-table SELECT without aggregates, DISTINCT or GROUP BY.
            """
            return " FOR UPDATE WITH LOCK"

    class QuietCursor(Cursor):
        """A firebird-driver cursor that closes itself quietly when garbage-collected.

        firebird-driver warns (``ResourceWarning``) for every cursor collected unclosed.
        SQLAlchemy closes a cursor once its result is exhausted or closed, but not one whose
        result was dropped part-way, e.g. ``conn.execute(select).fetchone()`` on a one-row
        result. Under ``-W error`` that warning fails the test, so cursors made for SQLAlchemy
        statements get this class.
        """

        __slots__ = ()

        def __del__(self):
            if self._result is not None or self._stmt is not None:
                try:
                    self.close()
                except Exception:  # noqa: BLE001 - the connection may be gone already
                    pass

    class MeteorFirebirdExecutionContext(FBExecutionContext):
        def create_default_cursor(self):
            cursor = super().create_default_cursor()
            if type(cursor) is Cursor:
                cursor.__class__ = QuietCursor
            return cursor

    class MeteorFirebirdDialect(FBDialect_firebird):
        """sqlalchemy-firebird's firebird-driver dialect, fixed for firebird-driver 2.x.

        See the module docstring for what is changed and why.
        """

        name = "firebird"
        supports_statement_cache = True
        type_compiler_cls = MeteorFirebirdTypeCompiler
        type_compiler = MeteorFirebirdTypeCompiler  # upstream sets this legacy name; it wins
        statement_compiler = MeteorFirebirdCompiler
        execution_ctx_cls = MeteorFirebirdExecutionContext

        def __init__(self, lock_timeout: int = DEFAULT_LOCK_TIMEOUT, ddl_commit_retaining: bool = True, **kw):
            super().__init__(**kw)
            self.lock_timeout = lock_timeout
            self.ddl_commit_retaining = ddl_commit_retaining

        def create_connect_args(self, url):
            # Upstream registers every server database in firebird-driver's process-wide
            # driver_config under its bare path, so two servers with the same path (or a
            # server and an embedded file with the same path) redirect each other's
            # attachments. Ours passes the full DSN for servers and a private entry that
            # forces the in-process engine for embedded files.
            opts = url.translate_connect_args(username="user")
            query = dict(url.query)
            client_library = query.pop("fb_client_library", None)
            if client_library:
                _driver().driver_config.fb_client_library.value = client_library
            args = {key: opts[key] for key in ("user", "password") if opts.get(key) is not None}
            args["database"] = _attach_name(url)
            args.update(query)
            return [], args

        @classmethod
        def import_dbapi(cls):
            # Must be in this class's own __dict__: SQLAlchemy 2.x otherwise finds upstream's
            # 1.4-style dbapi() classmethod and emits a deprecation warning (an error in tests).
            return _driver()

        @reflection.cache
        def get_indexes(self, connection, table_name, schema=None, **kw):
            # Firebird backs every UNIQUE constraint with an index; upstream reports it as a
            # plain unique index, so it shows up twice (index and constraint) in reflection
            # and in Alembic's comparisons. Mark it the way the PostgreSQL dialect does.
            indexes = super().get_indexes(connection, table_name, schema=schema, **kw)
            rows = connection.execute(
                text(
                    "SELECT TRIM(rdb$index_name) AS index_name, TRIM(rdb$constraint_name) AS constraint_name "
                    "FROM rdb$relation_constraints "
                    "WHERE rdb$relation_name = :relation AND rdb$constraint_type = 'UNIQUE'"
                ),
                {"relation": self.denormalize_name(table_name)},
            ).all()
            backing = {self.normalize_name(row.index_name): self.normalize_name(row.constraint_name) for row in rows}
            for index in indexes:
                if index["name"] in backing:
                    index["duplicates_constraint"] = backing[index["name"]]
            return indexes

        # -- isolation levels: the TPB of the connection's main transaction ---------------
        def get_isolation_level_values(self, dbapi_connection):
            return list(_ISOLATION_LEVELS)

        def set_isolation_level(self, dbapi_connection, level):
            # The TPB applies from the next transaction start (firebird-driver starts one on
            # the first statement after a commit/rollback). SQLAlchemy only changes the level
            # outside a transaction of its own, so a DBAPI transaction still open here is a
            # leftover (the pool's pre-ping): end it, or the level would apply one
            # transaction late.
            transaction = dbapi_connection.main_transaction
            transaction.default_tpb = _tpb(level, self.lock_timeout)
            if transaction.is_active():
                transaction.rollback()

        def get_isolation_level(self, dbapi_connection):
            tpb = TPB()
            tpb.parse_buffer(dbapi_connection.main_transaction.default_tpb)
            if tpb.auto_commit:
                return "AUTOCOMMIT"
            if tpb.isolation == Isolation.SNAPSHOT:
                return "REPEATABLE READ"
            if tpb.isolation == Isolation.SERIALIZABLE:  # SNAPSHOT TABLE STABILITY
                return "SERIALIZABLE"
            return "READ COMMITTED"

        def do_ping(self, dbapi_connection):
            # The default ping leaves the driver's main transaction open, so the checked-out
            # connection's work would run in the ping's transaction (started before any
            # isolation level of the checkout was applied, and older than the checkout).
            cursor = dbapi_connection.cursor()
            try:
                cursor.execute("SELECT 1 FROM rdb$database")
                cursor.fetchall()
            finally:
                cursor.close()
            transaction = dbapi_connection.main_transaction
            if transaction.is_active():
                transaction.rollback()
            return True

        def do_close(self, dbapi_connection):
            # On a dead attachment (server restarted, attachment ended by a forced drop)
            # close() fails in its rollback; that clears the transaction, so the next
            # close() gets as far as detaching. Give up quietly after that.
            for attempt in range(3):
                try:
                    dbapi_connection.close()
                    return
                except fbtypes.DatabaseError:
                    if attempt == 2:
                        return

        def do_terminate(self, dbapi_connection):
            # firebird-driver has no terminate(); closing is the hardest stop it offers.
            self.do_close(dbapi_connection)

        # -- errors and DDL --------------------------------------------------------------
        def do_execute(self, cursor, statement, parameters, context=None):
            with _translated_errors():
                super().do_execute(cursor, statement, parameters, context)
            self._after_ddl(cursor, context)

        def do_execute_no_params(self, cursor, statement, context=None):
            with _translated_errors():
                super().do_execute_no_params(cursor, statement, context)
            self._after_ddl(cursor, context)

        def do_executemany(self, cursor, statement, parameters, context=None):
            with _translated_errors():
                super().do_executemany(cursor, statement, parameters, context)

        def _after_ddl(self, cursor, context):
            # The driver's prepared-statement type catches DDL sent as text() or
            # exec_driver_sql() too, not only SQLAlchemy DDL constructs.
            if not self.ddl_commit_retaining:
                return
            statement = cursor.statement
            is_ddl = (context is not None and context.isddl) or (
                statement is not None and statement.type in (StatementType.DDL, StatementType.SET_GENERATOR)
            )
            if is_ddl and cursor.transaction.is_active():
                cursor.transaction.commit(retaining=True)

    return MeteorFirebirdDialect


def __getattr__(name: str):
    # PEP 562: SQLAlchemy's registry imports this module and asks for the class by name;
    # building it lazily keeps the module importable without the Firebird packages.
    if name == "MeteorFirebirdDialect":
        return _dialect_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _driver():
    import firebird.driver as fdb

    return fdb


# --------------------------------------------------------------------------------------------
# Schema checks
# --------------------------------------------------------------------------------------------


def firebird_identifier_problems(metadata) -> list[str]:
    """Names in ``metadata`` that Firebird 3 would reject or that raw unquoted SQL cannot reach.

    Reported: names longer than 31 characters, and names SQLAlchemy would quote on Firebird
    (upper-case letters, a Firebird reserved word, a leading ``_`` or ``$``, other characters):
    a quoted name is case-sensitive, so ``SELECT e.eventTime`` would not find it.
    """
    from sqlalchemy_firebird.fb_info30 import RESERVED_WORDS

    def check(label: str, name) -> None:
        if name is None:
            return
        name = str(name)
        if len(name) > MAX_IDENTIFIER_LENGTH:
            problems.append(f"{label} {name!r} is longer than {MAX_IDENTIFIER_LENGTH} characters")
        if name.lower() in RESERVED_WORDS or not re.fullmatch(r"[a-z][a-z0-9_$]*", name):
            problems.append(f"{label} {name!r} would be quoted on Firebird (reserved word or not lower-case)")

    problems: list[str] = []
    for table in metadata.tables.values():
        check("table", table.name)
        for column in table.columns:
            check(f"column of {table.name}", column.name)
        for constraint in table.constraints:
            check(f"constraint on {table.name}", constraint.name)
        for index in table.indexes:
            check(f"index on {table.name}", index.name)
    return problems


# --------------------------------------------------------------------------------------------
# Availability (for the test suite)
# --------------------------------------------------------------------------------------------


def firebird_server_available(
    host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, user: str = "SYSDBA", password: str = "masterkey"
) -> bool:
    """True if a Firebird server answers on ``host:port`` and accepts ``user`` / ``password``.

    The attach goes to a database name that does not exist: a server that checked the
    credentials answers with an I/O error, a wrong password with a login error.
    """
    try:
        with socket.create_connection((host, port), timeout=2):
            pass
    except OSError:
        return False
    try:
        fdb = _driver()
        fdb.connect(
            f"{host}/{port}:/nonexistent/meteorpi-probe-{uuid.uuid4().hex}.fdb", user=user, password=password
        ).close()
        return True
    except ImportError:
        return False
    except Exception as error:  # noqa: BLE001 - any failure means "not usable"
        return bool(_OPEN_FAILED_CODES & set(getattr(error, "gds_codes", None) or ()))


def firebird_embedded_available() -> bool:
    """True if this process can load the embedded engine: creates and drops a scratch database."""
    try:
        fdb = _driver()
        with tempfile.TemporaryDirectory(prefix="meteorpi-fb-probe-") as directory:
            connection = fdb.create_database(os.path.join(directory, "probe.fdb"))
            connection.drop_database()
        return True
    except Exception:  # noqa: BLE001 - ImportError, missing libfbclient or engine plugin, ...
        return False


@functools.cache
def is_firebird_available() -> bool:
    """True if the Firebird packages import and a local server or the embedded engine works."""
    try:
        import firebird.driver  # noqa: F401
        import sqlalchemy_firebird  # noqa: F401
    except ImportError:
        return False
    return firebird_server_available() or firebird_embedded_available()
