"""Both file stores (a directory, an S3-compatible bucket served by moto on loopback) behave the
same through the one interface every caller uses: placing and verifying content, derived
content, replication parts, strays, and the database operations on top (registration, import,
pruning, high-water-mark roll-back, fsck, downloads over HTTP, replication v2)."""

from __future__ import annotations

import hashlib
import io
import json
import os
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner

import meteorpi_model as model
from meteorpi_fdb import MeteorDatabase
from meteorpi_fdb.housekeeping import HousekeepingPolicy
from meteorpi_fdb.stores import IncompleteContent, Part, fingerprint, open_file_store
from meteorpi_fdb.stores.bucket import BucketStore
from tests.conftest import INSTALLATION_ID
from tests.helpers import make_file, make_status, remote_file, remote_status, utc
from tests.replication_helpers import (SOURCE_ID, TARGET_ID, add_import_user, assert_events_replicated,
                                       configure_export, exporter_for, populate)
from tests.replication_helpers import start_node, target_db_url  # noqa: F401 (fixtures)

BIG = 11 * 1024 * 1024  # more than one multipart-upload part


def _md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


# --- the store interface --------------------------------------------------------------------


def test_put_stream_verifies_and_a_mismatch_leaves_nothing(store_location: str):
    store = open_file_store(store_location)
    data = os.urandom(BIG)
    file_id = uuid.uuid4()
    stored = store.put_stream(file_id, io.BytesIO(data), _md5(data))
    assert (stored.size, stored.md5) == (len(data), _md5(data))
    assert store.stat(file_id).size == len(data)
    assert store.hash_content(file_id) == (len(data), _md5(data))
    with store.open(file_id) as reader:
        reader.seek(BIG - 100)
        assert reader.read(1000) == data[-100:]
    wrong = uuid.uuid4()
    with pytest.raises(ValueError, match="MD5 mismatch"):
        store.put_stream(wrong, io.BytesIO(data), "0" * 32)
    assert store.stat(wrong) is None
    assert sorted(store.stored_ids()) == [file_id]
    assert store.stray_files() == []


def test_place_checks_the_fingerprint_and_keeps_the_source(store_location: str, tmp_path: Path):
    store = open_file_store(store_location)
    source = tmp_path / "incoming.bin"
    source.write_bytes(os.urandom(BIG))
    found = fingerprint(str(source))
    file_id = uuid.uuid4()
    placed = store.place(file_id, str(source), found, copy=True)
    assert (placed.size, placed.md5) == (found.size, found.md5) and source.exists()
    with pytest.raises(ValueError, match="already exists"):
        store.place(file_id, str(source), found, copy=True)
    source.write_bytes(b"changed since it was hashed")
    other = uuid.uuid4()
    with pytest.raises(ValueError, match="changed while it was being registered"):
        store.place(other, str(source), found, copy=True)
    assert store.stat(other) is None and store.stray_files() == []
    with open(store.local_path(file_id), "rb") as local:  # the 2015 contract: a local path
        assert _md5(local.read()) == found.md5


def test_derived_content_is_kept_and_removed_with_its_file(store_location: str):
    store = open_file_store(store_location)
    file_id, other = uuid.uuid4(), uuid.uuid4()
    store.put_stream(file_id, io.BytesIO(b"content"))
    assert store.read_derived(file_id, "thumb") is None
    store.write_derived(file_id, "thumb", b"small picture")
    store.write_derived(other, "thumb", b"another")
    assert store.read_derived(file_id, "thumb") == b"small picture"
    with pytest.raises(ValueError):
        store.write_derived(file_id, "../escape", b"x")
    store.remove(file_id)
    assert store.read_derived(file_id, "thumb") is None and store.stat(file_id) is None
    assert store.read_derived(other, "thumb") == b"another"
    assert list(store.stored_ids()) == [] and store.stray_files() == []


def test_parts_are_verified_held_and_placed(store_location: str):
    store = open_file_store(store_location)
    data = os.urandom(1000)
    file_id = uuid.uuid4()
    stream = io.BytesIO(data + b"next frame")
    part = store.parts.write(file_id, _md5(data), len(data), stream)
    assert part == Part(file_id, _md5(data), len(data)) and stream.read() == b"next frame"
    assert store.parts.held(file_id, _md5(data), len(data))
    assert not store.parts.held(file_id, _md5(data), len(data) + 1)
    with pytest.raises(IncompleteContent):
        store.parts.write(uuid.uuid4(), _md5(data), len(data), io.BytesIO(data[:10]))
    with pytest.raises(ValueError, match="MD5 mismatch"):
        store.parts.write(uuid.uuid4(), "0" * 32, len(data), io.BytesIO(data))
    placed = store.place(file_id, part, store.fingerprint_source(part))
    assert placed.md5 == _md5(data) and store.hash_content(file_id) == (len(data), _md5(data))
    store.discard_source(part)
    assert not store.parts.held(file_id, _md5(data), len(data))
    assert list(store.stored_ids()) == [file_id] and store.stray_files() == []


def test_a_received_part_is_placed_without_reading_or_flushing_it_again(store_location: str, monkeypatch):
    """The import places a verified part through the interface (``place_part``): a hard link
    in a directory, a server-side copy in a bucket; no byte of it is read, hashed, uploaded
    or flushed again. A part changed since it was verified is refused."""
    store = open_file_store(store_location)
    data, other = os.urandom(BIG), os.urandom(BIG)
    file_id = uuid.uuid4()
    part = store.parts.receive(file_id, _md5(data), len(data), io.BytesIO(data)).result()
    assert part == Part(file_id, _md5(data), len(data)) == store.parts.held_part(file_id, _md5(data), len(data))
    assert store.parts.held_part(file_id, _md5(data), len(data) + 1) is None
    found = store.fingerprint_source(part)
    with monkeypatch.context() as patched:
        def forbidden(*_args, **_kwargs):
            raise AssertionError("a verified part was read or flushed again")

        for name in ("open", "hash_content", "_write_synced", "_upload"):
            patched.setattr(type(store), name, forbidden, raising=False)
        patched.setattr(os, "fsync", forbidden)
        patched.setattr("meteorpi_fdb.stores.base.hash_stream", forbidden)
        placed = store.place(file_id, part, found)
    store.flush()
    assert (placed.size, placed.md5) == (len(data), _md5(data))
    assert store.hash_content(file_id) == (len(data), _md5(data))
    assert store.parts.held(file_id, _md5(data), len(data))  # removed only once the row commits

    changed = uuid.uuid4()
    part = store.parts.write(changed, _md5(data), len(data), io.BytesIO(data))
    found = store.fingerprint_source(part)
    if store.root is not None:
        path = store.parts.path(changed, _md5(data))
        with open(path + ".new", "wb") as writer:
            writer.write(other)
        os.replace(path + ".new", path)
    else:
        store.client.put_object(Bucket=store.bucket, Key=store.parts.key(changed, _md5(data)), Body=other,
                                Metadata={"md5": _md5(other)})
    with pytest.raises(ValueError):
        store.place(changed, part, found)
    assert store.stat(changed) is None and store.stray_files() == []


def test_clear_empties_the_store(store_location: str):
    store = open_file_store(store_location)
    for _ in range(3):
        store.put_stream(uuid.uuid4(), io.BytesIO(os.urandom(10)))
    store.write_derived(uuid.uuid4(), "thumb", b"x")
    assert store.used_bytes() >= 30
    store.clear()
    assert list(store.stored_ids()) == [] and store.used_bytes() == 0


# --- the database on either store -----------------------------------------------------------


@pytest.fixture
def store_db(make_db, store_location: str) -> MeteorDatabase:
    return make_db(file_store=store_location)


@pytest.mark.both_stores
def test_register_import_and_check_file_store(store_db: MeteorDatabase, tmp_path: Path):
    db = store_db
    make_status(db, valid_from=utc(2015, 1, 1))
    record = make_file(db, tmp_path / "in", utc(2015, 1, 2), content=b"registered")
    assert db.file_store.hash_content(record.file_id) == (10, _md5(b"registered"))
    assert not list((tmp_path / "in").iterdir())  # moved in
    status = remote_status(db, utc(2015, 1, 1))
    imported = remote_file(db, status, utc(2015, 1, 3), content=b"from afar")
    db.import_file_record(imported, "importer")
    orphan = uuid.uuid4()
    db.file_store.put_stream(orphan, io.BytesIO(b"no row"))
    assert db.check_file_store() == {"orphans": [orphan], "missing": [], "strays": []}
    with open(db.file_path_for_id(imported.file_id), "rb") as local:
        assert local.read() == b"from afar"
    db.clear_database()
    assert list(db.file_store.stored_ids()) == []


@pytest.mark.both_stores
def test_prune_and_rollback_remove_content_and_derived(store_db: MeteorDatabase, tmp_path: Path):
    db = store_db
    make_status(db, valid_from=utc(2015, 1, 1))
    old = make_file(db, tmp_path / "in", utc(2015, 1, 2))
    late = make_file(db, tmp_path / "in", utc(2015, 1, 20))
    for record in (old, late):
        db.file_store.write_derived(record.file_id, "thumb", b"thumbnail")
    result = db.prune(HousekeepingPolicy(retain_nights=3), now=utc(2015, 1, 21))
    assert [f.file_id for f in result.files] == [old.file_id]
    assert not db.file_store.has_content(old.file_id) and db.file_store.read_derived(old.file_id, "thumb") is None
    db.set_high_water_mark(utc(2015, 1, 25))
    db.set_high_water_mark(utc(2015, 1, 10))  # a roll-back: later files go, content and all
    assert not db.file_store.has_content(late.file_id) and db.file_store.read_derived(late.file_id, "thumb") is None
    assert db.check_file_store() == {"orphans": [], "missing": [], "strays": []}


def test_fsck_reports_orphans_with_the_grace_rules(make_db, store_location: str, tmp_path: Path):
    from meteorpi_cli import main

    db = make_db(file_store=store_location)
    make_status(db, valid_from=utc(2015, 1, 1))
    record = make_file(db, tmp_path / "in", utc(2015, 1, 2), content=b"same bytes")
    copy = uuid.uuid4()
    db.file_store.put_stream(copy, io.BytesIO(b"same bytes"))
    arguments = ["--db", db.db_path, "--file-store", store_location, "--json", "fsck"]
    first = CliRunner().invoke(main, arguments + ["--repair"])
    assert first.exit_code == 1, first.output
    assert json.loads(first.output)["orphans"] == [copy.hex]  # younger than the grace period
    second = CliRunner().invoke(main, arguments + ["--repair", "--grace", "0"])
    assert second.exit_code == 0, second.output
    assert json.loads(second.output)["removed"] == [copy.hex]
    assert db.file_store.has_content(record.file_id) and not db.file_store.has_content(copy)


def test_downloads_answer_ranges_etags_and_conditions(db_url: str, store_location: str, start_node, tmp_path):
    node = start_node(db_url, INSTALLATION_ID, file_store=store_location)
    make_status(node.db, valid_from=utc(2015, 1, 1))
    content = os.urandom(3 * 1024 * 1024 + 17)
    record = make_file(node.db, tmp_path / "in", utc(2015, 1, 2), content=content, file_name="sky.bin")
    url = f"{node.base_url}/files/content/{record.file_id.hex}/sky.bin"
    whole = requests.get(url, timeout=30)
    assert whole.status_code == 200 and whole.content == content
    assert whole.headers["ETag"] == f'"{record.md5}"' and whole.headers["Accept-Ranges"] == "bytes"
    part = requests.get(url, headers={"Range": "bytes=1000-1999"}, timeout=30)
    assert part.status_code == 206 and part.content == content[1000:2000]
    assert part.headers["Content-Range"] == f"bytes 1000-1999/{len(content)}"
    assert requests.get(url, headers={"If-None-Match": f'"{record.md5}"'}, timeout=30).status_code == 304
    node.db.file_store.remove(record.file_id)
    assert requests.get(url, timeout=30).status_code == 404


def test_bucket_downloads_redirect_to_a_presigned_url_when_configured(db_url: str, s3_endpoint: str,
                                                                      start_node, tmp_path):
    from tests.object_store_helpers import bucket_location

    node = start_node(db_url, INSTALLATION_ID, settings={"MPI_S3_PRESIGN_SECONDS": 60},
                      file_store=bucket_location())
    make_status(node.db, valid_from=utc(2015, 1, 1))
    record = make_file(node.db, tmp_path / "in", utc(2015, 1, 2), content=b"presigned", file_name="a.txt",
                       mime_type="text/plain")
    url = f"{node.base_url}/files/content/{record.file_id.hex}"
    answer = requests.get(url, allow_redirects=False, timeout=30)
    assert answer.status_code == 302 and answer.headers["Location"].startswith(s3_endpoint)
    fetched = requests.get(answer.headers["Location"], timeout=30)
    assert fetched.content == b"presigned" and fetched.headers["Content-Type"] == "text/plain"
    assert requests.get(f"{node.base_url}/files/content/{uuid.uuid4().hex}", allow_redirects=False,
                        timeout=30).status_code == 404


def test_replication_v2_into_either_store_resumes_a_cut_batch(db_url: str, target_db_url: str,
                                                             store_location: str, start_node, tmp_path,
                                                             monkeypatch):
    from meteorpi_fdb import _exporter_v2

    source = start_node(db_url, SOURCE_ID)
    target = start_node(target_db_url, TARGET_ID, file_store=store_location)
    add_import_user(target.db)
    populate(source.db, tmp_path / "in", events=4, files_per_event=2, loose_files=0, file_size=100_000)
    configure_export(source.db, target.import_url, model.EventSearch())
    real_read, cut = _exporter_v2.BatchBody.read, {"done": False}

    def read(self, size=-1):
        if not cut["done"] and self.sent > 300_000:
            cut["done"] = True
            target.restart()  # the connection breaks mid-stream; verified parts stay
            raise ConnectionResetError("cut")
        return real_read(self, size)

    monkeypatch.setattr(_exporter_v2.BatchBody, "read", read)
    summary = exporter_for(source.db, protocol="auto").run_once()
    assert cut["done"] and (summary.complete, summary.failed) == (4, 0)
    assert_events_replicated(source.db, target.db, expected_count=4)
    assert target.db.check_file_store() == {"orphans": [], "missing": [], "strays": []}
    assert target.db.part_store.prune(max_age_seconds=0, every_seconds=0) == 0  # every part was used


# --- meteorpi store migrate -----------------------------------------------------------------


def test_store_migrate_to_a_bucket_and_back_resumes_and_verifies(make_db, s3_endpoint: str, tmp_path: Path):
    from meteorpi_cli import main
    from tests.object_store_helpers import bucket_location

    directory = str(tmp_path / "files")
    db = make_db(file_store=directory)
    make_status(db, valid_from=utc(2015, 1, 1))
    records = [make_file(db, tmp_path / "in", utc(2015, 1, 2, hour), content=os.urandom(size))
               for hour, size in ((1, 100), (2, BIG), (3, 0))]
    bucket = bucket_location("migrate")

    def run(store: str, target: str):
        result = CliRunner().invoke(main, ["--db", db.db_path, "--file-store", store, "--json", "store",
                                           "migrate", "--to", target])
        return result.exit_code, json.loads(result.output)

    # An interrupted earlier run left one object copied and one partial: both are dealt with.
    target = open_file_store(bucket)
    with db.file_store.open(records[0].file_id) as reader:
        target.put_stream(records[0].file_id, reader)
    target.put_stream(records[1].file_id, io.BytesIO(b"partial"))
    code, answer = run(directory, bucket)
    assert code == 0 and (answer["copied"], answer["skipped"], answer["failed"]) == (2, 1, {})
    assert run(directory, bucket)[1]["skipped"] == 3  # resumable: nothing left to do

    on_bucket = make_db(file_store=bucket)
    assert on_bucket.check_file_store() == {"orphans": [], "missing": [], "strays": []}
    for record in records:
        assert on_bucket.file_store.hash_content(record.file_id) == (record.file_size, record.md5)

    back = str(tmp_path / "files-again")
    with open(db.file_path_for_id(records[0].file_id), "r+b") as rotten:  # rot in the source
        rotten.write(b"X")
    code, answer = run(directory, back)
    assert code == 1 and list(answer["failed"]) == [records[0].file_id.hex]
    code, answer = run(bucket, back)  # the good copy, from the bucket; the rest is there already
    assert code == 0 and (answer["copied"], answer["skipped"]) == (1, 2)
    assert make_db(file_store=back).check_file_store() == {"orphans": [], "missing": [], "strays": []}


# --- the bucket store's read-through cache ----------------------------------------------------

CACHED = 400 * 1024  # three of these exceed a 1 MiB cache


def _cached_store(monkeypatch, tmp_path: Path) -> tuple[BucketStore, dict[str, uuid.UUID], dict[uuid.UUID, bytes]]:
    """A bucket store with a 1 MiB cache (``MPI_S3_CACHE_MB``) holding objects a, b, c, d."""
    from tests.object_store_helpers import bucket_location

    monkeypatch.setenv("MPI_S3_CACHE_MB", "1")
    monkeypatch.setenv("MPI_S3_CACHE_DIR", str(tmp_path / "cache"))
    store = open_file_store(bucket_location("cache"))
    ids = {name: uuid.uuid4() for name in "abcd"}
    contents = {file_id: os.urandom(CACHED) for file_id in ids.values()}
    for file_id, data in contents.items():
        store.put_stream(file_id, io.BytesIO(data))
    return store, ids, contents


def _used_ago(path: str, seconds: float) -> None:
    """Mark a cached file as last used ``seconds`` ago (older than the grace period when > 60)."""
    when = time.time() - seconds
    os.utime(path, (when, when))


def _cached(store: BucketStore) -> set[str]:
    return set(os.listdir(store.cache.directory))


def test_the_read_cache_evicts_the_least_recently_used_beyond_its_bound(s3_endpoint: str, monkeypatch,
                                                                         tmp_path: Path):
    store, ids, contents = _cached_store(monkeypatch, tmp_path)
    assert store.cache.max_bytes == 1024 * 1024
    a, b = (store.local_path(ids[name]) for name in "ab")
    _used_ago(a, 300)
    _used_ago(b, 200)
    assert store.local_path(ids["a"]) == a  # a hit: a is now the most recently used
    c = store.local_path(ids["c"])  # 1.2 MiB: b, the least recently used, goes
    assert _cached(store) == {ids["a"].hex, ids["c"].hex}
    for path, name in ((a, "a"), (c, "c")):
        with open(path, "rb") as cached:
            assert cached.read() == contents[ids[name]]
    with open(store.local_path(ids["b"]), "rb") as refetched:  # fetched again when asked for
        assert refetched.read() == contents[ids["b"]]
    # Everything was used within the grace period: over the bound for now, nothing evicted.
    assert _cached(store) == {ids[name].hex for name in "abc"}
    assert sum(os.path.getsize(os.path.join(store.cache.directory, n)) for n in _cached(store)) > 1024 * 1024


def test_a_cached_file_being_read_survives_its_eviction(s3_endpoint: str, monkeypatch, tmp_path: Path):
    store, ids, contents = _cached_store(monkeypatch, tmp_path)
    a = store.local_path(ids["a"])
    store.local_path(ids["b"])
    started, evicted = threading.Event(), threading.Event()

    def read_slowly() -> bytes:
        with open(a, "rb") as reader:
            first = reader.read(1000)
            started.set()
            assert evicted.wait(30)
            return first + reader.read()

    with ThreadPoolExecutor(1) as pool:
        reading = pool.submit(read_slowly)
        assert started.wait(30)
        _used_ago(a, 300)
        store.local_path(ids["c"])  # over the bound: a, the least recently used, is removed
        assert not os.path.exists(a)
        evicted.set()
        assert reading.result() == contents[ids["a"]]


@pytest.mark.parametrize("value", ["lots", "-1"])
def test_a_bad_cache_bound_is_refused(s3_endpoint: str, monkeypatch, value: str):
    from tests.object_store_helpers import bucket_location

    monkeypatch.setenv("MPI_S3_CACHE_MB", value)
    with pytest.raises(ValueError, match="MPI_S3_CACHE_MB"):
        open_file_store(bucket_location())
