"""``MeteorClient``: a Python client for a MeteorPi node's HTTP API (SPEC section 7)."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import uuid
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any
from urllib.parse import quote, quote_plus

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

import meteorpi_model as model
from meteorpi_client._exceptions import (ChecksumError, HTTPError, NotFound, ResponseError,
                                         TransportError, error_for_status)

logger = logging.getLogger("meteorpi.client")

#: (connect, read) timeouts in seconds for every request
DEFAULT_TIMEOUT = (5.0, 60.0)
#: how often an idempotent request (and an interrupted download) is retried
DEFAULT_RETRIES = 3
#: methods urllib3 may retry after the request was sent; POST never is
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE"})
#: page size of iter_events / iter_files when the search's limit is 0
DEFAULT_PAGE_SIZE = 100
DOWNLOAD_CHUNK_SIZE = 64 * 1024
_UNSAFE_NAME = re.compile(r"[^\w.\-]+")


def encode_search(search: model.EventSearch | model.FileRecordSearch | model.CoincidenceSearch) -> str:
    """A search as the 2015 client sent it: compact JSON, URL-encoded twice."""
    text = json.dumps(search.as_dict(), separators=(",", ":"))
    return quote_plus(quote_plus(text))


def build_session(retries: int = DEFAULT_RETRIES) -> requests.Session:
    """A session that retries idempotent requests on connection errors and 502/503/504."""
    retry = Retry(total=retries, connect=retries, read=retries, status=retries, other=0,
                  backoff_factor=0.2, status_forcelist=(502, 503, 504),
                  allowed_methods=IDEMPOTENT_METHODS, raise_on_status=False)
    session = requests.Session()
    adapter = HTTPAdapter(max_retries=retry)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


class MeteorClient:
    """Talks to one MeteorPi node.

    :param base_url: the node's API root, e.g. ``http://127.0.0.1:8080``
    :param user_id: user for the admin calls (Basic auth); query calls need none
    :param password: that user's password
    :param timeout: seconds, a number or a ``(connect, read)`` pair
    :param retries: retries of idempotent requests and of interrupted downloads
    :param session: a ``requests.Session`` to use instead of a new one
    """

    def __init__(self, base_url: str, user_id: str | None = None, password: str | None = None,
                 *, timeout: float | tuple[float, float] = DEFAULT_TIMEOUT,
                 retries: int = DEFAULT_RETRIES, session: requests.Session | None = None) -> None:
        if not isinstance(base_url, str) or not re.match(r"^https?://[^/\s]+", base_url):
            raise ValueError(f"base_url must be an http:// or https:// URL, got {base_url!r}")
        self.base_url = base_url.rstrip("/")
        self.user_id = user_id
        self._auth = (user_id, password or "") if user_id is not None else None
        self.timeout = timeout
        self.retries = retries
        self.session = session or build_session(retries)

    def __repr__(self) -> str:
        return f"MeteorClient({self.base_url!r}, user_id={self.user_id!r})"

    def close(self) -> None:
        """Close the pooled connections."""
        self.session.close()

    def __enter__(self) -> "MeteorClient":
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    # -- query API -------------------------------------------------------------------------

    def list_cameras(self) -> list[str]:
        """The ids of every camera the node has a status block for."""
        return list(self._get_json("/cameras")["cameras"])

    def get_camera_status(self, camera_id: str,
                          status_time: datetime | None = None) -> model.CameraStatus | None:
        """The camera's status now, or in force at ``status_time``; None if there is none."""
        path = f"/cameras/{_segment(camera_id)}/status"
        if status_time is not None:
            path += f"/{model.utc_datetime_to_milliseconds(status_time)}"
        try:
            answer = self._get_json(path)
        except NotFound:
            return None
        return model.CameraStatus.from_dict(answer["status"])

    def search_events(self, search: model.EventSearch | None = None) -> dict[str, Any]:
        """One page of events: ``{"count": total matches, "events": [Event, ...]}``."""
        search = search if search is not None else model.EventSearch()
        answer = self._get_json(f"/events/{encode_search(search)}")
        return {"count": answer["count"],
                "events": [model.Event.from_dict(e) for e in answer["events"]]}

    def search_files(self, search: model.FileRecordSearch | None = None) -> dict[str, Any]:
        """One page of files: ``{"count": total matches, "files": [FileRecord, ...]}``."""
        search = search if search is not None else model.FileRecordSearch()
        answer = self._get_json(f"/files/{encode_search(search)}")
        return {"count": answer["count"],
                "files": [model.FileRecord.from_dict(f) for f in answer["files"]]}

    def search_coincidences(self, search: model.CoincidenceSearch | None = None) -> dict[str, Any]:
        """One page of multi-station meteors: ``{"count": N, "coincidences": [Coincidence, ...]}``."""
        search = search if search is not None else model.CoincidenceSearch()
        answer = self._get_json(f"/coincidences/{encode_search(search)}")
        return {"count": answer["count"],
                "coincidences": [model.Coincidence.from_dict(c) for c in answer["coincidences"]]}

    def iter_coincidences(self, search: model.CoincidenceSearch | None = None,
                          page_size: int | None = None) -> Iterator[model.Coincidence]:
        """Every coincidence matching ``search`` from its ``skip`` on (see :meth:`iter_events`)."""
        yield from self._iterate(self.search_coincidences, "coincidences",
                                 search if search is not None else model.CoincidenceSearch(),
                                 page_size)

    def iter_events(self, search: model.EventSearch | None = None,
                    page_size: int | None = None) -> Iterator[model.Event]:
        """Every event matching ``search`` from its ``skip`` on, fetched page by page.

        The page size is ``page_size``, else the search's ``limit`` (100 when that is 0). Rows
        added or deleted on the server while iterating may shift pages.
        """
        yield from self._iterate(self.search_events, "events",
                                 search if search is not None else model.EventSearch(), page_size)

    def iter_files(self, search: model.FileRecordSearch | None = None,
                   page_size: int | None = None) -> Iterator[model.FileRecord]:
        """Every file matching ``search`` from its ``skip`` on (see :meth:`iter_events`)."""
        yield from self._iterate(self.search_files, "files",
                                 search if search is not None else model.FileRecordSearch(),
                                 page_size)

    def file_url(self, file_record: model.FileRecord) -> str:
        """The URL of a file's content (with its file name, when it has one)."""
        url = f"{self.base_url}/files/content/{file_record.file_id.hex}"
        if file_record.file_name:
            url += f"/{_segment(file_record.file_name)}"
        return url

    def download_to(self, file_record: model.FileRecord, path: str | os.PathLike) -> str:
        """Download a file's content to ``path`` (a file, or a directory to put it in).

        Data is streamed to ``<path>.part``; an interrupted download (in this call or an earlier
        one) continues from where the part file ends with a Range request. The result is moved
        to ``path`` only once its size and MD5 match the record; otherwise the part file is
        deleted and :class:`ChecksumError` raised. Returns the final path.
        """
        target = os.fspath(path)
        if os.path.isdir(target):
            target = os.path.join(target, _local_name(file_record))
        partial = target + ".part"
        if _matches(target, file_record):
            return target
        failures = 0
        while True:
            before = _size(partial)
            try:
                self._fetch_into(file_record, partial)
                break
            except TransportError:
                # Resume only after progress: the session already retried failed connections.
                failures += 1
                if failures > self.retries or _size(partial) <= before:
                    raise
                logger.info("Download of %s interrupted, resuming", file_record.file_id.hex)
        if not _matches(partial, file_record):
            os.remove(partial)
            raise ChecksumError(f"content of file {file_record.file_id.hex} does not match its "
                                f"record's size {file_record.file_size} and MD5 {file_record.md5}")
        os.replace(partial, target)
        return target

    # -- admin API -------------------------------------------------------------------------

    def login(self) -> model.User:
        """Check the credentials; the logged-in user and its roles."""
        return model.User.from_dict(self._get_json("/login", auth=True)["user"])

    def get_users(self) -> list[model.User]:
        """Every user (needs camera_admin)."""
        return _users(self._get_json("/users", auth=True))

    def create_or_update_user(self, user_id: str, password: str,
                              roles: list[str] | None = None) -> list[model.User]:
        """Create a user or change its password (and roles, when given); the users afterwards.

        A new user without ``roles`` gets the role ``user``.
        """
        body: dict[str, Any] = {"user_id": user_id, "password": password}
        if roles is not None:
            body["roles"] = list(roles)
        return _users(self._json("POST", "/users", body=body))

    def set_roles(self, roles: Mapping[str, list[str]]) -> list[model.User]:
        """Replace the roles of each user in ``{user_id: [role, ...]}``; the users afterwards."""
        body = {"new_roles": [{"user_id": u, "roles": list(r)} for u, r in roles.items()]}
        return _users(self._json("PUT", "/users/roles", body=body))

    def delete_user(self, user_id: str) -> list[model.User]:
        """Delete a user; the users afterwards."""
        return _users(self._json("DELETE", f"/users/{_segment(user_id)}"))

    def get_user_cameras(self, user_id: str) -> list[str]:
        """The camera ids ``user_id`` may import data for."""
        return self._get_json(f"/users/{_segment(user_id)}/cameras", auth=True)["cameras"]

    def grant_camera(self, user_id: str, camera_id: str) -> list[str]:
        """Let ``user_id`` import data for ``camera_id``; its cameras afterwards."""
        return self._json("PUT", f"/users/{_segment(user_id)}/cameras/{_segment(camera_id)}")["cameras"]

    def revoke_camera(self, user_id: str, camera_id: str) -> list[str]:
        """Stop ``user_id`` importing data for ``camera_id``; its cameras afterwards."""
        return self._json("DELETE", f"/users/{_segment(user_id)}/cameras/{_segment(camera_id)}")["cameras"]

    def get_export_configurations(self) -> list[model.ExportConfiguration]:
        """Every export configuration (passwords are never sent back)."""
        answer = self._get_json("/export", auth=True)
        return [model.ExportConfiguration.from_dict(c) for c in answer["configs"]]

    def get_export_configuration(self, config_id: uuid.UUID | str) -> model.ExportConfiguration | None:
        """One export configuration, or None if there is no such id."""
        config_hex = model.parse_uuid(config_id, "config_id").hex
        try:
            answer = self._get_json(f"/export/{config_hex}", auth=True)
        except NotFound:
            return None
        return model.ExportConfiguration.from_dict(answer["config"])

    def create_export_configuration(self, export_type: str, target_url: str, user_id: str,
                                    password: str, name: str, description: str = "",
                                    search: model.EventSearch | model.FileRecordSearch | None = None,
                                    enabled: bool = False) -> model.ExportConfiguration:
        """Create an export configuration (``export_type`` ``"event"`` or ``"file"``).

        The server creates it disabled with an empty search; when ``search`` or ``enabled`` is
        given, a second request stores them.
        """
        body = {"type": export_type, "target_url": target_url, "user_id": user_id,
                "password": password, "name": name, "description": description}
        answer = self._json("POST", "/export", body=body)
        config = model.ExportConfiguration.from_dict(answer["config"])
        if search is not None or enabled:
            config.search = search if search is not None else config.search
            config.enabled = enabled
            self.update_export_configuration(config)
        return config

    def update_export_configuration(self, config: model.ExportConfiguration) -> None:
        """Store every field of ``config``; a ``password`` of None keeps the stored one."""
        if config.config_id is None:
            raise ValueError("config_id is needed to update an export configuration")
        self._json("PUT", f"/export/{config.config_id.hex}", body=config.as_dict())

    def delete_export_configuration(self, config_id: uuid.UUID | str) -> None:
        """Delete an export configuration."""
        config_hex = model.parse_uuid(config_id, "config_id").hex
        self._json("DELETE", f"/export/{config_hex}")

    def set_camera_status(self, camera_id: str, inst_name: str | None = None,
                          inst_url: str | None = None,
                          regions: list | None = None) -> model.CameraStatus:
        """A new status block copying the camera's current one with the given fields changed."""
        body: dict[str, Any] = {}
        if inst_name is not None:
            body["inst_name"] = inst_name
        if inst_url is not None:
            body["inst_url"] = inst_url
        if regions is not None:
            body["regions"] = regions
        answer = self._json("POST", f"/cameras/{_segment(camera_id)}/status", body=body)
        return model.CameraStatus.from_dict(answer["status"])

    # -- plumbing --------------------------------------------------------------------------

    def _iterate(self, search_page, key: str, search, page_size: int | None) -> Iterator[Any]:
        size = page_size or search.limit or DEFAULT_PAGE_SIZE
        if size < 1:
            raise ValueError(f"page_size must be at least 1, got {size}")
        skip = search.skip
        while True:
            page_search = type(search).from_dict({**search.as_dict(), "limit": size, "skip": skip})
            page = search_page(page_search)
            yield from page[key]
            skip += len(page[key])
            if not page[key] or skip >= page["count"]:
                return

    def _request(self, method: str, path: str, *, auth: bool = False, body: Any = None,
                 headers: dict[str, str] | None = None, stream: bool = False) -> requests.Response:
        url = self.base_url + path
        try:
            response = self.session.request(method, url, json=body, headers=headers,
                                            auth=self._auth if auth else None,
                                            timeout=self.timeout, stream=stream)
        except requests.RequestException as e:
            raise TransportError(f"{method} {url} failed: {_reason(e)}") from e
        if response.status_code >= 400:
            error = _http_error(response)
            response.close()
            raise error
        return response

    def _get_json(self, path: str, auth: bool = False) -> dict[str, Any]:
        return _decode(self._request("GET", path, auth=auth))

    def _json(self, method: str, path: str, body: Any = None) -> dict[str, Any]:
        return _decode(self._request(method, path, auth=True, body=body))

    def _fetch_into(self, file_record: model.FileRecord, partial: str) -> None:
        """One GET of the content into ``partial``, continuing it with Range when it exists."""
        offset = _size(partial)
        if offset and file_record.file_size and offset >= file_record.file_size:
            os.remove(partial)  # complete or longer than it should be: start again
            offset = 0
        headers = {"Range": f"bytes={offset}-"} if offset else {}
        path = self.file_url(file_record)[len(self.base_url):]
        response = self._request("GET", path, headers=headers, stream=True)
        with response:
            if offset and response.status_code == 206:
                _check_content_range(response, offset)
                mode = "ab"
            else:
                mode = "wb"
            try:
                with open(partial, mode) as writer:
                    for chunk in response.iter_content(DOWNLOAD_CHUNK_SIZE):
                        writer.write(chunk)
            except requests.RequestException as e:
                raise TransportError(f"download of {response.url} interrupted: {_reason(e)}") from e


def _segment(value: str) -> str:
    """One URL path segment (slashes and everything else escaped)."""
    return quote(value, safe="")


def _reason(error: Exception) -> str:
    """A short explanation of a requests failure, e.g. '[Errno 111] Connection refused'."""
    if isinstance(error, requests.Timeout):
        return "timed out"
    text = str(error)
    errno = re.search(r"\[Errno -?\d+\][^'\")\]]*", text)
    if errno:
        return errno.group(0).strip()
    inner = error.args[0] if error.args else error
    inner = getattr(inner, "reason", inner)
    return f"{type(inner).__name__}: {inner}".splitlines()[0][:200]


def _decode(response: requests.Response) -> dict[str, Any]:
    try:
        answer = response.json()
    except ValueError:
        raise ResponseError(f"{response.url} answered with content that is not JSON") from None
    if not isinstance(answer, dict):
        raise ResponseError(f"{response.url} answered with JSON that is not an object")
    return answer


def _http_error(response: requests.Response) -> HTTPError:
    body = None
    try:
        body = response.json()
    except ValueError:
        pass
    message = body.get("message") if isinstance(body, dict) else None
    if not isinstance(message, str) or not message:
        message = response.reason or "error"
    first_line = message.strip().splitlines()[0] if message.strip() else message
    return error_for_status(response.status_code, first_line, response.url,
                            body if isinstance(body, dict) else None)


def _users(answer: dict[str, Any]) -> list[model.User]:
    return [model.User.from_dict(u) for u in answer["users"]]


def _check_content_range(response: requests.Response, offset: int) -> None:
    content_range = response.headers.get("Content-Range", "")
    match = re.match(r"bytes (\d+)-\d+/(\d+|\*)", content_range)
    if not match or int(match.group(1)) != offset:
        raise ResponseError(f"{response.url} answered a Range request from byte {offset} "
                            f"with Content-Range {content_range!r}")


def _size(path: str) -> int:
    return os.path.getsize(path) if os.path.exists(path) else 0


def _matches(path: str, file_record: model.FileRecord) -> bool:
    """Whether ``path`` exists with the record's size and MD5."""
    if not os.path.isfile(path) or os.path.getsize(path) != file_record.file_size:
        return False
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as reader:
        while chunk := reader.read(DOWNLOAD_CHUNK_SIZE):
            digest.update(chunk)
    return file_record.md5 is None or digest.hexdigest() == file_record.md5


def _local_name(file_record: model.FileRecord) -> str:
    """A safe local file name: the record's base name, else its id."""
    name = os.path.basename(file_record.file_name or "")
    name = _UNSAFE_NAME.sub("_", name).strip("._")
    return name or file_record.file_id.hex

