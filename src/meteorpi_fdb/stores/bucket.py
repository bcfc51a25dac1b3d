"""The bucket store: file content in an S3-compatible bucket (AWS S3, MinIO, Ceph RGW, ...).

``s3://bucket/prefix`` lays content out as the directory store does: ``<prefix><id hex>`` for a
file's content, ``<prefix>.parts/<id hex>.<md5>`` for replication parts and
``<prefix>.derived/<id hex>.<name>`` for derived content (thumbnails), so that moving a store
between a directory and a bucket (``meteorpi store migrate``) maps names one to one.

Durability: an upload is one PUT with ``Content-MD5`` (at most one part's worth of bytes), or a
multipart upload whose every part carries ``Content-MD5``, read from the source one part at a
time (never the whole file in memory). The server checks each digest; the store checks the
ETag it answers (MD5, or MD5 of the part MD5s for a multipart upload) and the whole content's
size and MD5 against what is expected *before* completing the upload, so an object only ever
appears complete and verified, and only then does the caller commit its row. A crash leaves at
worst an orphan object or an incomplete multipart upload, which ``check_file_store`` reports
(the upload as a ``.tmp-`` stray, aborted by ``meteorpi fsck --repair`` after the grace period).

``file_path_for_id`` (the 2015 contract: a local path) is a read-through cache: the content is
fetched into ``MPI_S3_CACHE_DIR`` on first use, and the least recently used copies are evicted
beyond ``MPI_S3_CACHE_MB`` (:mod:`meteorpi_fdb.stores.cache`; docs/object-storage.md).
"""

from __future__ import annotations

import base64
import hashlib
import io
import logging
import os
import tempfile
import threading
import time
import uuid
from typing import Any, BinaryIO, Iterator

from meteorpi_fdb.stores.base import (CHUNK_SIZE, DERIVED_DIRECTORY, PART_MAX_AGE_SECONDS, PARTS_DIRECTORY,
                                      TEMPORARY_PREFIX, ContentSource, ContentStore, IncompleteContent, Part,
                                      PartStore, SourceFingerprint, StoredContent, StoredObject,
                                      checked_derived_name, checked_part_name)
from meteorpi_fdb.stores.cache import DEFAULT_CACHE_MB, ReadCache, remove_quietly

logger = logging.getLogger("meteorpi.db")

#: Bytes per multipart-upload part (S3's minimum is 5 MiB, except for the last part).
DEFAULT_PART_BYTES = 8 * 1024 * 1024
#: How long ``used_bytes`` (a listing of the whole prefix) is remembered.
USAGE_SECONDS = 300
#: Largest object CopyObject copies in one request; larger ones are copied in parts.
_COPY_LIMIT = 5 * 1024 ** 3


#: Requests one client may have open at once (threads of a server share it).
_MAX_CONNECTIONS = 50
_CLIENTS: dict[tuple, Any] = {}
_CLIENTS_LOCK = threading.Lock()


def _make_client(arguments: dict[str, Any]) -> Any:
    """A boto3 S3 client: path-style addressing, standard retries, checksums only where S3
    requires them (the store sends and checks ``Content-MD5`` itself)."""
    import boto3
    from botocore.config import Config

    config = Config(retries={"max_attempts": 5, "mode": "standard"}, s3={"addressing_style": "path"},
                    request_checksum_calculation="when_required", response_checksum_validation="when_required",
                    max_pool_connections=_MAX_CONNECTIONS)
    return boto3.session.Session().client("s3", config=config, **arguments)


def _setting(*names: str, default: str | None = None) -> str | None:
    for name in names:
        value = os.environ.get(name)
        if value:
            return value
    return default


def _whole_number(name: str, default: int) -> int:
    """The whole-number setting ``name`` from the environment, else ``default``."""
    value = _setting(name, default=str(default))
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"{name} must be a whole number, got {value!r}") from None


def parse_location(location: str) -> tuple[str, str]:
    """``s3://bucket/prefix`` → (bucket, prefix ending in '/' or empty)."""
    if not location.startswith("s3://"):
        raise ValueError(f"a bucket location looks like s3://bucket/prefix, not {location!r}")
    bucket, _, prefix = location[5:].partition("/")
    if not bucket:
        raise ValueError(f"no bucket in {location!r}")
    prefix = prefix.strip("/")
    return bucket, f"{prefix}/" if prefix else ""


class BucketStore(ContentStore):
    """Content in ``bucket`` under ``prefix``, through boto3 (see the module docstring)."""

    def __init__(self, bucket: str, prefix: str = "", *, endpoint_url: str | None = None,
                 region: str | None = None, access_key: str | None = None, secret_key: str | None = None,
                 cache_dir: str | None = None, cache_mb: int = DEFAULT_CACHE_MB,
                 part_bytes: int = DEFAULT_PART_BYTES) -> None:
        if part_bytes < 5 * 1024 * 1024:
            raise ValueError("MPI_S3_PART_BYTES must be at least 5 MiB (S3's smallest part)")
        self.bucket, self.prefix = bucket, prefix
        self.location = f"s3://{bucket}/{prefix}"
        self.root = None
        self.part_bytes = part_bytes
        self._client_args = {"endpoint_url": endpoint_url, "region_name": region or "us-east-1",
                             "aws_access_key_id": access_key, "aws_secret_access_key": secret_key}
        self.cache_dir = cache_dir or os.path.join(
            tempfile.gettempdir(), f"meteorpi-cache-{os.getuid()}",
            hashlib.sha256(f"{endpoint_url}|{self.location}".encode()).hexdigest()[:16])
        self.cache = ReadCache(self.cache_dir, cache_mb * 1024 * 1024)
        self._usage: tuple[float, int] | None = None
        self.parts = BucketPartStore(self)

    @classmethod
    def from_location(cls, location: str) -> "BucketStore":
        """The store at ``s3://bucket/prefix``, configured from the environment: endpoint
        ``MPI_S3_ENDPOINT_URL`` / ``AWS_ENDPOINT_URL_S3`` / ``AWS_ENDPOINT_URL``, region
        ``MPI_S3_REGION`` / ``AWS_REGION`` / ``AWS_DEFAULT_REGION``, credentials
        ``MPI_S3_ACCESS_KEY_ID`` / ``MPI_S3_SECRET_ACCESS_KEY`` (else boto3's usual chain:
        ``AWS_*`` variables, profiles, instance roles), ``MPI_S3_CACHE_DIR``,
        ``MPI_S3_CACHE_MB`` and ``MPI_S3_PART_BYTES``."""
        bucket, prefix = parse_location(location)
        return cls(bucket, prefix,
                   endpoint_url=_setting("MPI_S3_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"),
                   region=_setting("MPI_S3_REGION", "AWS_REGION", "AWS_DEFAULT_REGION"),
                   access_key=_setting("MPI_S3_ACCESS_KEY_ID"), secret_key=_setting("MPI_S3_SECRET_ACCESS_KEY"),
                   cache_dir=_setting("MPI_S3_CACHE_DIR"),
                   cache_mb=_whole_number("MPI_S3_CACHE_MB", DEFAULT_CACHE_MB),
                   part_bytes=_whole_number("MPI_S3_PART_BYTES", DEFAULT_PART_BYTES))

    # --- the client -----------------------------------------------------------------------

    @property
    def client(self) -> Any:
        """The boto3 S3 client for these settings in this process, shared by every thread and
        every store with the same settings: boto3 clients are thread-safe, and making one takes
        a few hundred milliseconds, too long to pay for each request thread of a threaded
        server. Clients do not survive a fork, so each process makes its own."""
        key = (os.getpid(), *sorted(self._client_args.items()))
        client = _CLIENTS.get(key)
        if client is None:
            with _CLIENTS_LOCK:
                client = _CLIENTS.get(key)
                if client is None:
                    client = _CLIENTS[key] = _make_client(self._client_args)
        return client

    def key_for_id(self, file_id: uuid.UUID) -> str:
        if not isinstance(file_id, uuid.UUID):
            raise ValueError("file_id must be a UUID")
        return f"{self.prefix}{file_id.hex}"

    def _head(self, key: str) -> dict | None:
        from botocore.exceptions import ClientError

        try:
            return self.client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as error:
            if _status(error) == 404:
                return None
            raise _os_error(error, key) from error

    # --- reading --------------------------------------------------------------------------

    def path_for_id(self, file_id: uuid.UUID) -> str:
        return self.cache.path(self.key_for_id(file_id)[len(self.prefix):])

    def local_path(self, file_id: uuid.UUID) -> str:
        """The file's copy in the bounded read-through cache (fetched if need be; see
        :mod:`meteorpi_fdb.stores.cache`), or where it would be when there is no content."""
        name = self.key_for_id(file_id)[len(self.prefix):]
        found = self.stat(file_id)
        if found is None:
            self.cache.discard(name)
            return self.cache.path(name)
        return self.cache.get(name, found.size, lambda: self.open(file_id))

    def stat(self, file_id: uuid.UUID) -> StoredObject | None:
        head = self._head(self.key_for_id(file_id))
        if head is None:
            return None
        return StoredObject(file_id, int(head["ContentLength"]), head["LastModified"].timestamp())

    def open(self, file_id: uuid.UUID) -> BinaryIO:
        found = self.stat(file_id)
        if found is None:
            raise FileNotFoundError(f"no content for file {file_id.hex} in {self.location}")
        return ObjectFile(ObjectReader(self, self.key_for_id(file_id), found.size), CHUNK_SIZE)

    def content_source(self, file_id: uuid.UUID) -> ContentSource:
        found = self.stat(file_id)
        if found is None:
            raise FileNotFoundError(f"no content for file {file_id.hex} in {self.location}")
        return ContentSource(file_id, found.size, found.mtime, None, self)

    def presigned_url(self, file_id: uuid.UUID, seconds: int, **headers: str) -> str | None:
        params = {"Bucket": self.bucket, "Key": self.key_for_id(file_id), **headers}
        return self.client.generate_presigned_url("get_object", Params=params, ExpiresIn=int(seconds))

    def _listing(self, prefix: str, delimiter: bool = False) -> Iterator[dict]:
        """Pages of ``list_objects_v2`` under ``prefix``."""
        arguments = {"Bucket": self.bucket, "Prefix": prefix}
        if delimiter:
            arguments["Delimiter"] = "/"
        yield from self.client.get_paginator("list_objects_v2").paginate(**arguments)

    def _top_level(self) -> Iterator[tuple[str, dict]]:
        for page in self._listing(self.prefix, delimiter=True):
            for item in page.get("Contents", []):
                yield item["Key"][len(self.prefix):], item

    def stored_objects(self) -> Iterator[StoredObject]:
        for name, item in self._top_level():
            file_id = _content_id(name)
            if file_id is not None:
                yield StoredObject(file_id, int(item["Size"]), item["LastModified"].timestamp())

    def _uploads(self) -> Iterator[dict]:
        """Multipart uploads under the prefix that were never completed nor aborted."""
        paginator = self.client.get_paginator("list_multipart_uploads")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix):
            yield from page.get("Uploads", [])

    def stray_files(self) -> list[str]:
        strays = [name for name, _item in self._top_level() if _content_id(name) is None]
        strays += [f"{TEMPORARY_PREFIX}{upload['UploadId']}" for upload in self._uploads()]
        return sorted(strays)

    def _stray(self, name: str) -> tuple[str, str | None, float] | None:
        """(key, upload id or None, mtime) of a stray named by ``stray_files``."""
        if name.startswith(TEMPORARY_PREFIX):
            upload_id = name[len(TEMPORARY_PREFIX):]
            for upload in self._uploads():
                if upload["UploadId"] == upload_id:
                    return upload["Key"], upload_id, self._upload_activity(upload)
        head = self._head(self.prefix + name) if "/" not in name else None
        return None if head is None else (self.prefix + name, None, head["LastModified"].timestamp())

    def _upload_activity(self, upload: dict) -> float:
        """When an incomplete upload last made progress: its start or its latest part, so that
        an upload still going up is never taken for an abandoned one."""
        latest = upload["Initiated"].timestamp()
        pages = self.client.get_paginator("list_parts").paginate(
            Bucket=self.bucket, Key=upload["Key"], UploadId=upload["UploadId"])
        for page in pages:
            for part in page.get("Parts", []):
                latest = max(latest, part["LastModified"].timestamp())
        return latest

    def stray_mtime(self, name: str) -> float | None:
        found = self._stray(name)
        return None if found is None else found[2]

    def remove_stray(self, name: str) -> None:
        found = self._stray(name)
        if found is None:
            return
        key, upload_id, _mtime = found
        if upload_id is not None:
            self.client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)
        else:
            self.client.delete_object(Bucket=self.bucket, Key=key)

    def used_bytes(self) -> int:
        """Bytes under the prefix; a listing of the whole prefix, so remembered for
        :data:`USAGE_SECONDS` (``/health`` asks often) unless this process wrote meanwhile."""
        now = time.monotonic()
        if self._usage is None or now - self._usage[0] > USAGE_SECONDS:
            total = sum(int(item["Size"]) for page in self._listing(self.prefix) for item in page.get("Contents", []))
            self._usage = (now, total)
        return self._usage[1]

    # --- writing --------------------------------------------------------------------------

    def place(self, file_id: uuid.UUID, source: str | Part, fingerprint: SourceFingerprint,
              copy: bool = False) -> StoredContent:
        """Upload ``source`` (a path: read once, hashed on the way, checked against
        ``fingerprint`` before the upload completes); a part goes through :meth:`place_part`."""
        if isinstance(source, Part):
            return self.place_part(file_id, source, fingerprint, copy)
        key = self.key_for_id(file_id)
        if self._head(key) is not None:
            raise ValueError(f"content for file {file_id.hex} already exists")
        with open(source, "rb") as reader:
            size, md5 = self._upload(key, reader, fingerprint.md5, changed=f"file_path {source} changed "
                                                                          "while it was being registered")
        if size != fingerprint.size:
            self.remove(file_id)
            raise ValueError(f"file_path {source} changed while it was being registered")
        return StoredContent(self.location + file_id.hex, size, md5)

    def place_part(self, file_id: uuid.UUID, part: Part, fingerprint: SourceFingerprint,
                   copy: bool = False) -> StoredContent:
        """Copy a part's object server side (no bytes through this host, nothing hashed again):
        the part was uploaded with every byte's MD5 checked by the bucket, and the copy must
        have its size and the MD5 it was uploaded as. ``copy`` changes nothing here."""
        key = self.key_for_id(file_id)
        if self._head(key) is not None:
            raise ValueError(f"content for file {file_id.hex} already exists")
        self._copy(self.parts.key(part.file_id, part.md5), key, fingerprint.size, fingerprint.md5)
        return StoredContent(self.location + file_id.hex, fingerprint.size, fingerprint.md5)

    def put_stream(self, file_id: uuid.UUID, stream: BinaryIO, expected_md5: str | None = None) -> StoredContent:
        key = self.key_for_id(file_id)
        size, md5 = self._upload(key, stream, expected_md5.lower() if expected_md5 else None)
        return StoredContent(self.location + file_id.hex, size, md5)

    def _copy(self, source_key: str, key: str, size: int, md5: str) -> None:
        """Copy ``source_key`` (uploaded as ``md5``, see ``_upload``'s metadata) to ``key``."""
        head = self._head(source_key)
        if head is None or int(head["ContentLength"]) != size or _uploaded_md5(head) not in (None, md5):
            raise ValueError(f"the part {source_key} is gone or not {size} bytes with MD5 {md5}")
        source = {"Bucket": self.bucket, "Key": source_key}
        try:
            if size <= _COPY_LIMIT:
                self.client.copy_object(Bucket=self.bucket, Key=key, CopySource=source, MetadataDirective="COPY")
            else:
                self.client.copy(source, self.bucket, key)
        except Exception as error:
            raise _os_error(error, key) from error
        copied = self._head(key)
        if copied is None or int(copied["ContentLength"]) != size or _uploaded_md5(copied) not in (None, md5):
            self.client.delete_object(Bucket=self.bucket, Key=key)
            raise OSError(f"copying {source_key} to {key} did not give {size} bytes with MD5 {md5}")

    def _upload(self, key: str, reader: BinaryIO, expected_md5: str | None,
                changed: str | None = None, limit: int | None = None) -> tuple[int, str]:
        """Upload ``reader`` to ``key`` a part at a time; return (size, MD5).

        Nothing appears under ``key`` unless every byte arrived with its MD5 checked and the
        whole content's MD5 is ``expected_md5`` (when given); else ValueError (``changed`` as
        its message), and an incomplete multipart upload is aborted."""
        self._usage = None
        digest = hashlib.md5(usedforsecurity=False)
        metadata = {"md5": expected_md5} if expected_md5 else {}
        first = _read_exactly(reader, self.part_bytes)
        if len(first) < self.part_bytes:
            digest.update(first)
            _check_md5(digest.hexdigest(), expected_md5, key, changed)
            try:
                answer = self.client.put_object(Bucket=self.bucket, Key=key, Body=first, Metadata=metadata,
                                                ContentMD5=_b64(digest.digest()))
            except Exception as error:
                raise _os_error(error, key) from error
            _check_etag(answer, digest.hexdigest(), key)
            return len(first), digest.hexdigest()
        try:
            upload = self.client.create_multipart_upload(Bucket=self.bucket, Key=key, Metadata=metadata)
        except Exception as error:
            raise _os_error(error, key) from error
        upload_id, parts, part_digests, size = upload["UploadId"], [], [], 0
        try:
            chunk = first
            while chunk:
                digest.update(chunk)
                part = hashlib.md5(chunk, usedforsecurity=False)
                answer = self.client.upload_part(Bucket=self.bucket, Key=key, UploadId=upload_id,
                                                 PartNumber=len(parts) + 1, Body=chunk,
                                                 ContentMD5=_b64(part.digest()))
                _check_etag(answer, part.hexdigest(), key)
                parts.append({"PartNumber": len(parts) + 1, "ETag": answer["ETag"]})
                part_digests.append(part.digest())
                size += len(chunk)
                chunk = _read_exactly(reader, self.part_bytes)
            _check_md5(digest.hexdigest(), expected_md5, key, changed)
            answer = self.client.complete_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id,
                                                           MultipartUpload={"Parts": parts})
        except BaseException as error:
            try:
                self.client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)
            except Exception:
                logger.warning("could not abort the upload of %s; fsck reports it", key)
            if isinstance(error, (ValueError, OSError)) or not isinstance(error, Exception):
                raise
            raise _os_error(error, key) from error
        expected_etag = hashlib.md5(b"".join(part_digests), usedforsecurity=False).hexdigest()
        _check_etag(answer, f"{expected_etag}-{len(parts)}", key)
        return size, digest.hexdigest()

    def remove(self, file_id: uuid.UUID) -> None:
        keys = [self.key_for_id(file_id)]
        for page in self._listing(f"{self.prefix}{DERIVED_DIRECTORY}/{file_id.hex}."):
            keys += [item["Key"] for item in page.get("Contents", [])]
        self._delete(keys)
        remove_quietly(self.path_for_id(file_id))

    def _delete(self, keys: list[str]) -> None:
        self._usage = None
        for start in range(0, len(keys), 1000):
            batch = keys[start:start + 1000]
            if len(batch) == 1:
                self.client.delete_object(Bucket=self.bucket, Key=batch[0])
                continue
            answer = self.client.delete_objects(Bucket=self.bucket, Delete={
                "Objects": [{"Key": key} for key in batch], "Quiet": True})
            if answer.get("Errors"):
                raise OSError(f"could not delete {answer['Errors'][0].get('Key')}: "
                              f"{answer['Errors'][0].get('Message')}")

    def clear(self) -> None:
        for upload in self._uploads():
            self.client.abort_multipart_upload(Bucket=self.bucket, Key=upload["Key"], UploadId=upload["UploadId"])
        keys = [item["Key"] for page in self._listing(self.prefix) for item in page.get("Contents", [])]
        self._delete(keys)
        self.cache.clear()

    # --- derived content ------------------------------------------------------------------

    def _derived_key(self, file_id: uuid.UUID, name: str) -> str:
        return f"{self.prefix}{DERIVED_DIRECTORY}/{checked_derived_name(file_id, name)}"

    def read_derived(self, file_id: uuid.UUID, name: str) -> bytes | None:
        from botocore.exceptions import ClientError

        try:
            answer = self.client.get_object(Bucket=self.bucket, Key=self._derived_key(file_id, name))
        except ClientError as error:
            if _status(error) == 404:
                return None
            raise _os_error(error, name) from error
        with answer["Body"] as body:
            return body.read()

    def write_derived(self, file_id: uuid.UUID, name: str, data: bytes) -> None:
        self._upload(self._derived_key(file_id, name), io.BytesIO(data), hashlib.md5(
            data, usedforsecurity=False).hexdigest())


class BucketPartStore(PartStore):
    """Replication parts as objects under ``<prefix>.parts/``: verified on upload, so a batch cut
    off on one server host resumes on any other."""

    def __init__(self, store: BucketStore) -> None:
        self.store = store
        self._last_prune = 0.0

    def key(self, file_id: uuid.UUID, md5: str) -> str:
        return f"{self.store.prefix}{PARTS_DIRECTORY}/{checked_part_name(file_id, md5)}"

    def held(self, file_id: uuid.UUID, md5: str, size: int) -> bool:
        head = self.store._head(self.key(file_id, md5))
        return head is not None and int(head["ContentLength"]) == size

    def write(self, file_id: uuid.UUID, md5: str, size: int, reader: BinaryIO) -> Part:
        key = self.key(file_id, md5)
        limited = _Exactly(reader, size, file_id)
        try:
            self.store._upload(key, limited, md5, changed=f"MD5 mismatch for file {file_id.hex}: announced {md5}")
        except ValueError:
            limited.drain()
            raise
        return Part(file_id, md5, size)

    def remove(self, file_id: uuid.UUID, md5: str) -> None:
        self.store.client.delete_object(Bucket=self.store.bucket, Key=self.key(file_id, md5))

    def prune(self, max_age_seconds: float = PART_MAX_AGE_SECONDS, every_seconds: float = 3600) -> int:
        now = time.time()
        if now - self._last_prune < every_seconds:
            return 0
        self._last_prune = now
        old = [item["Key"] for page in self.store._listing(f"{self.store.prefix}{PARTS_DIRECTORY}/")
               for item in page.get("Contents", []) if now - item["LastModified"].timestamp() > max_age_seconds]
        self.store._delete(old)
        return len(old)


class ObjectReader(io.RawIOBase):
    """A seekable reader of one object: each read continues a ranged GET from the position, so
    a Range request fetches only the bytes it needs."""

    def __init__(self, store: BucketStore, key: str, size: int) -> None:
        self.store, self.key, self.size = store, key, size
        self.position = 0
        self._body: Any = None

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.position, io.SEEK_END: self.size}[whence]
        position = max(0, base + offset)
        if position != self.position:
            self._close_body()
            self.position = position
        return self.position

    def readinto(self, buffer: Any) -> int:
        if self.position >= self.size or len(buffer) == 0:
            return 0
        if self._body is None:
            answer = self.store.client.get_object(Bucket=self.store.bucket, Key=self.key,
                                                  Range=f"bytes={self.position}-{self.size - 1}")
            self._body = answer["Body"]
        data = self._body.read(len(buffer))
        if not data:
            raise OSError(f"{self.key} ended at {self.position} of {self.size} bytes")
        buffer[:len(data)] = data
        self.position += len(data)
        return len(data)

    def _close_body(self) -> None:
        if self._body is not None:
            self._body.close()
            self._body = None

    def close(self) -> None:
        self._close_body()
        super().close()


class ObjectFile(io.BufferedReader):
    """An object's buffered reader that tells its size as ``len``, as an HTTP body: requests and
    requests_toolbelt size a local file by ``fstat`` and anything else by ``len``, so without it
    content read from a bucket could not be sent as a 2015 upload (a multipart body)."""

    raw: ObjectReader

    @property
    def len(self) -> int:
        return self.raw.size


class _Exactly:
    """Exactly ``size`` bytes of ``reader``; :class:`IncompleteContent` if it ends sooner."""

    def __init__(self, reader: BinaryIO, size: int, file_id: uuid.UUID) -> None:
        self.reader, self.left, self.file_id = reader, size, file_id

    def read(self, size: int = -1) -> bytes:
        if self.left <= 0:
            return b""
        wanted = self.left if size is None or size < 0 else min(size, self.left)
        chunk = self.reader.read(min(wanted, CHUNK_SIZE))
        if not chunk:
            raise IncompleteContent(f"the stream ended {self.left} bytes before the end of file {self.file_id.hex}")
        self.left -= len(chunk)
        return chunk

    def drain(self) -> None:
        """Consume what is left of this file's bytes, so the stream stays in step."""
        while self.left > 0 and self.read(CHUNK_SIZE):
            pass


def _read_exactly(reader: Any, size: int) -> bytes:
    """Up to ``size`` bytes: fewer only at the end of the stream."""
    pieces, left = [], size
    while left > 0:
        chunk = reader.read(min(left, CHUNK_SIZE))
        if not chunk:
            break
        pieces.append(chunk)
        left -= len(chunk)
    return b"".join(pieces)


def _content_id(name: str) -> uuid.UUID | None:
    try:
        file_id = uuid.UUID(hex=name)
    except ValueError:
        return None
    return file_id if file_id.hex == name else None


def _uploaded_md5(head: dict) -> str | None:
    """The MD5 an object was uploaded and verified as (its ``md5`` metadata), if noted."""
    return head.get("Metadata", {}).get("md5")


def _check_md5(found: str, expected: str | None, key: str, changed: str | None) -> None:
    if expected is not None and found != expected:
        raise ValueError(changed or f"MD5 mismatch for {key}: expected {expected}, got {found}")


def _check_etag(answer: dict, expected: str, key: str) -> None:
    etag = answer.get("ETag", "").strip('"')
    if etag and etag != expected:
        raise OSError(f"the bucket stored {key} with ETag {etag}, expected {expected}")


def _b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode("ascii")


def _status(error: Any) -> int | None:
    return error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")


def _os_error(error: Exception, key: str) -> OSError:
    return OSError(f"bucket store: {key}: {error}")
