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
            "server process and host using the same database)."),
    Setting("MPI_INSTALLATION_ID", "", "This node's camera id (12 lower-case hex digits); "
            "empty means derived from the MAC address."),
    Setting("MPI_ROUTES", ",".join(ROUTE_SETS), "Comma-separated route sets to serve: any of "
            "query, admin, import, browse (the HTML page at /, which reads the query routes), "
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
    Setting("MPI_COINCIDENCE_SECONDS", 0, "Seconds between scheduled coincidence updates by "
            "the WSGI app (0 = none; run them from one process only). Each imported event also "
            "triggers an update soon after. Needs the 'trajectory' extra."),
    Setting("MPI_COINCIDENCE_WINDOW_MS", 2000, "Largest time difference (ms) between events of "
            "different cameras that may be one meteor (allows for clock error)."),
    Setting("MPI_LOG_LEVEL", "INFO", "Level of the 'meteorpi' loggers (DEBUG, INFO, WARNING, ...)."),
)

SETTINGS_BY_NAME = {setting.name: setting for setting in SETTINGS}


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
