"""Every setting of the HTTP server, declared once with its default and help text.

Values come, lowest precedence first, from the defaults below, a configuration file (JSON or
YAML; named by ``MPI_CONFIG`` or passed as a path to :func:`load_settings`), environment
variables of the same names, and finally a dict passed by the caller (tests, embedding code).
docs/http-api.md documents each one; a test checks that none is missing there.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Mapping, NamedTuple

ROUTE_SETS = ("query", "admin", "import", "browse")
CONTENT_OFFLOAD_MODES = ("", "x-accel-redirect", "x-sendfile")
METRICS_MODES = ("off", "public", "admin")
ROUTE_SETS = ("query", "admin", "import", "browse", "coincidences")


class Setting(NamedTuple):
    name: str
    default: Any
    help: str


SETTINGS: tuple[Setting, ...] = (
    Setting("MPI_CONFIG", "", "Path of a JSON or YAML file of settings (keys are these names); "
            "environment variables override it."),
    Setting("MPI_DB", "meteorpi.db", "Database: a SQLAlchemy URL (sqlite:///..., "
            "postgresql+psycopg://..., firebird+firebird://...) or a SQLite file path."),
    Setting("MPI_DB_USER", "meteorpi", "Database user for the 2015 Firebird 'host:/path' form."),
    Setting("MPI_DB_PASSWORD", "meteorpi", "Database password for the Firebird 'host:/path' form."),
    Setting("MPI_FILE_STORE", "meteorpi_files", "Directory holding file content (shared by every "
            "server process and host using the same database), or s3://bucket/prefix for an "
            "S3-compatible bucket (docs/object-storage.md)."),
    Setting("MPI_INSTALLATION_ID", "", "This node's camera id (12 lower-case hex digits); "
            "empty means derived from the MAC address."),
    Setting("MPI_ROUTES", ",".join(ROUTE_SETS), "Comma-separated route sets to serve: any of "
            "query, admin, import, browse (the website at /web/, which reads the query and admin routes), "
            "coincidences (multi-station meteors). "
            "/health and /openapi.json are always served."),
    Setting("MPI_MAX_PAGE_SIZE", 1000, "Largest page a search returns; a search asking for "
            "limit 0 (no limit) or more gets this many."),
    Setting("MPI_MAX_UPLOAD_BYTES", 1 << 30, "Largest request body accepted (file uploads to the "
            "import API); larger bodies are answered 413."),
    Setting("MPI_MAX_JSON_BYTES", 1 << 20, "Largest JSON request body accepted by the admin "
            "and import APIs; larger bodies are answered 413."),
    Setting("MPI_AUTH_CACHE_SECONDS", 60, "How long a verified password is remembered by one "
            "process (0 = verify on every request); also how long a revoked password can still "
            "work in another process."),
    Setting("MPI_AUTH_RECHECK_SECONDS", 1, "How old a cached verified password may be before it "
            "is checked against the user's row again: a deleted user, new password or lost role "
            "stops working in every process within this many seconds (0 = on every request)."),
    Setting("MPI_AUTH_HASH_MEMORY_MB", 64, "Memory one server process may spend on password "
            "checks at once, in MiB; the number of concurrent checks is this divided by the "
            "argon2 memory cost (64 MiB in production: one at a time), at least 1."),
    Setting("MPI_AUTH_HASH_WAIT_SECONDS", 10, "Longest wait for a free password-check slot "
            "before a login is answered 429."),
    Setting("MPI_LOGIN_FAILURES_PER_USER", 10, "Failed logins for one user id, per process and "
            "window, after which its logins are answered 429 until the window ends (0 = no "
            "limit); already verified (cached) credentials still work."),
    Setting("MPI_LOGIN_FAILURES_PER_ADDRESS", 50, "Failed logins from one client address, per "
            "process and window, after which its logins are answered 429 (0 = no limit)."),
    Setting("MPI_LOGIN_FAILURE_WINDOW_SECONDS", 300, "Length of the window in which failed "
            "logins are counted, and the longest Retry-After."),
    Setting("MPI_IMPORT_MAX_FUTURE_SECONDS", 86400, "How far in the future (beyond the server's "
            "clock) an imported status block, event or file may be dated; later ones are "
            "answered 400."),
    Setting("MPI_UPLOAD_EXPIRY_SECONDS", 3600, "Content uploaded to the import API whose record "
            "has not arrived after this long is removed (checked on uploads, at most once a "
            "minute per process, and by fsck --repair)."),
    Setting("MPI_UPLOAD_QUOTA_BYTES", 4 << 30, "Bytes of uploaded content awaiting its record "
            "that one import user may have at once; an upload beyond it is answered 429 (413 "
            "if it alone is larger)."),
    Setting("MPI_SEARCH_CACHE_BYTES", 32 << 20, "Bytes of recent search answers one process keeps, "
            "keyed by search and the database's change counter (0 = none)."),
    Setting("MPI_CONTENT_OFFLOAD", "", "Let the web server in front send file content: "
            "'x-accel-redirect' (nginx) or 'x-sendfile' (Apache, lighttpd); empty = the app sends it."),
    Setting("MPI_CONTENT_OFFLOAD_PREFIX", "/_meteorpi_content/", "With x-accel-redirect: the URI "
            "prefix of nginx's internal location whose alias is MPI_FILE_STORE."),
    Setting("MPI_S3_PRESIGN_SECONDS", 0, "With a bucket file store (MPI_FILE_STORE=s3://...): answer "
            "content downloads with a redirect to a presigned URL valid this many seconds, after "
            "the app's access checks (0 = stream the content through the app)."),
    Setting("MPI_COINCIDENCE_SECONDS", 0, "Seconds between scheduled coincidence updates by "
            "the WSGI app (0 = none; run them from one process only). Each imported event also "
            "triggers an update soon after. Needs the 'trajectory' extra."),
    Setting("MPI_COINCIDENCE_WINDOW_MS", 2000, "Largest time difference (ms) between events of "
            "different cameras that may be one meteor (allows for clock error)."),
    Setting("MPI_METRICS", "admin", "Who may read GET /metrics (Prometheus text format; needs "
            "prometheus-client, from the 'server' extra): 'off' (no route), 'public' (anyone: "
            "only where the network keeps strangers out) or 'admin' (Basic auth, camera_admin "
            "role). With several gunicorn workers set PROMETHEUS_MULTIPROC_DIR (docs/http-api.md)."),
    Setting("MPI_LOG_LEVEL", "INFO", "Level of the 'meteorpi' loggers (DEBUG, INFO, WARNING, ...)."),
    # Housekeeping (meteorpi_fdb.housekeeping): read by 'meteorpi serve', 'register' and 'prune'.
    Setting("MPI_RETAIN_NIGHTS", 0, "Nights of data always kept (noon to noon UTC, the current "
            "one included); older content may be pruned. 0 = never prune."),
    Setting("MPI_PRUNE_ORDER", "*", "Semantic types to prune, comma-separated, first pruned "
            "first; '*' stands for every type not listed; a type matching neither is never pruned."),
    Setting("MPI_PRUNE_RECORDS", 0, "1 = also delete the records of pruned files; 0 = records "
            "stay searchable (with size and MD5) and their content answers 410 Gone."),
    Setting("MPI_QUOTA_HIGH_WATER", "", "Storage use (bytes such as 28GB, or a percentage such "
            "as 85%) at which old content is pruned automatically (down to 90% of this), by "
            "'meteorpi serve' and before each 'meteorpi register' batch; empty = never."),
    Setting("MPI_QUOTA_FLOOR", "", "Free space (bytes or a percentage) below which registration "
            "refuses with an error instead of filling the disk; empty = no floor."),
    Setting("MPI_STORAGE_BYTES", "", "Capacity the quota is measured against: empty = the file "
            "store's filesystem; else a budget in bytes of which the file store's content is the "
            "used part (for a disk shared with other things)."),
    Setting("MPI_HOUSEKEEPING_SECONDS", 600, "How often 'meteorpi serve' checks the quota "
            "(with MPI_QUOTA_HIGH_WATER set); 0 = only before registration batches."),
)

SETTINGS_BY_NAME = {setting.name: setting for setting in SETTINGS}
#: String settings that hold an amount of storage, which a settings file may give as a number.
_AMOUNTS = frozenset({"MPI_QUOTA_HIGH_WATER", "MPI_QUOTA_FLOOR", "MPI_STORAGE_BYTES"})


def defaults() -> dict[str, Any]:
    """Every setting at its default value."""
    return {setting.name: setting.default for setting in SETTINGS}


def _parse(name: str, value: Any) -> Any:
    setting = SETTINGS_BY_NAME.get(name)
    if setting is None:
        raise ValueError(f"unknown setting {name!r}")
    if isinstance(setting.default, int):
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            value = int(value.strip())
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"setting {name} must be a non-negative integer, got {value!r}")
        return value
    if value is None:
        return setting.default
    if name in _AMOUNTS and isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)  # e.g. MPI_STORAGE_BYTES: 32000000000 in a YAML file
    if not isinstance(value, str):
        raise ValueError(f"setting {name} must be a string, got {value!r}")
    return value


def _read_file(path: str | os.PathLike) -> dict[str, Any]:
    text = Path(path).read_text(encoding="utf-8")
    if str(path).lower().endswith(".json"):
        data = json.loads(text)
    else:
        import yaml

        data = yaml.safe_load(text)
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ValueError(f"settings file {path} must hold a mapping of setting names to values")
    return data


def _check(values: dict[str, Any]) -> dict[str, Any]:
    routes = route_sets(values)
    unknown = set(routes) - set(ROUTE_SETS)
    if unknown:
        raise ValueError(f"MPI_ROUTES: unknown route sets {sorted(unknown)}; "
                         f"expected any of {', '.join(ROUTE_SETS)}")
    if values["MPI_MAX_PAGE_SIZE"] < 1:
        raise ValueError("MPI_MAX_PAGE_SIZE must be at least 1")
    if values["MPI_METRICS"] not in METRICS_MODES:
        raise ValueError(f"MPI_METRICS must be one of {', '.join(METRICS_MODES)}, got {values['MPI_METRICS']!r}")
    if values["MPI_CONTENT_OFFLOAD"] not in CONTENT_OFFLOAD_MODES:
        raise ValueError("MPI_CONTENT_OFFLOAD must be empty, 'x-accel-redirect' or 'x-sendfile', "
                         f"got {values['MPI_CONTENT_OFFLOAD']!r}")
    from meteorpi_fdb.housekeeping import HousekeepingPolicy

    HousekeepingPolicy.from_settings(values)  # ValueError naming a bad MPI_QUOTA_* or MPI_PRUNE_*
    return values


def route_sets(values: Mapping[str, Any]) -> list[str]:
    """The route sets named by MPI_ROUTES, in order, without blanks."""
    return [part.strip() for part in str(values["MPI_ROUTES"]).split(",") if part.strip()]


def resolve(overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The defaults with ``overrides`` applied and checked; reads no file and no environment."""
    values = defaults()
    for name, value in (overrides or {}).items():
        values[name] = _parse(name, value)
    return _check(values)


def load_settings(config: Mapping[str, Any] | str | os.PathLike | None = None,
                  environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Resolve every setting: defaults < settings file < environment < ``config`` dict.

    ``config`` is either a dict of overrides or the path of a settings file (which then takes
    the place of ``MPI_CONFIG``). Unknown names and badly typed values raise ``ValueError``.
    """
    environ = os.environ if environ is None else environ
    values = defaults()
    overrides: Mapping[str, Any] = {}
    if isinstance(config, Mapping):
        overrides = config
        path = overrides.get("MPI_CONFIG") or environ.get("MPI_CONFIG")
    elif config is not None:
        path = config
    else:
        path = environ.get("MPI_CONFIG")
    if path:
        values["MPI_CONFIG"] = os.fspath(path)
        for name, value in _read_file(path).items():
            values[name] = _parse(name, value)
    for setting in SETTINGS:
        if setting.name in environ and setting.name != "MPI_CONFIG":
            values[setting.name] = _parse(setting.name, environ[setting.name])
    for name, value in overrides.items():
        values[name] = _parse(name, value)
    return _check(values)
