"""Housekeeping in the data layer: the retention policy, what pruning keeps (recent nights,
unexported files), dry runs, the prune order, the quota, the storage report, and 410 Gone for
pruned content over real HTTP. Every test runs on every backend."""

from __future__ import annotations

import os
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest

import meteorpi_model as model
from meteorpi_fdb.housekeeping import Amount, Housekeeper, HousekeepingPolicy, StorageFullError
from meteorpi_server.settings import resolve
from tests.conftest import INSTALLATION_ID
from tests.helpers import make_event, make_file, make_status, utc
from tests.server_helpers import (Client, cheap_password_hashing, client, encode_search,  # noqa: F401
                                  make_server, server)


#: Every test here runs on both file stores: a directory and a bucket (tests/object_store_helpers.py).
pytestmark = pytest.mark.both_stores


NOW = utc(2024, 9, 1, 3)  # 03:00 on the night that began at noon on 31 August
SKY, IMAGE, SUMMARY = "meteorpi:sky_clarity", "meteorpi:meteor_image", "meteorpi:night_summary"


def night(day: int, hour: int = 23) -> model.datetime:
    """A time in the night that begins at noon on ``day`` August 2024."""
    return utc(2024, 8, day, 12) + timedelta(hours=hour - 12 if hour >= 12 else hour + 12)


@pytest.fixture
def node(db, tmp_path: Path):
    """Sky images, meteor images and summaries on the nights of 20..31 August."""
    make_status(db, None, utc(2024, 8, 1))
    files = {}
    for day in range(20, 32):
        files[(day, SKY)] = make_file(db, tmp_path, night(day, 22), semantic_type=SKY, content=os.urandom(100))
        files[(day, IMAGE)] = make_file(db, tmp_path, night(day, 1), semantic_type=IMAGE, content=os.urandom(300))
        files[(day, SUMMARY)] = make_file(db, tmp_path, night(day, 11), semantic_type=SUMMARY, content=os.urandom(10))
    return files


def snapshot(db) -> tuple:
    """Everything a prune could change: records, stored content, pruned marks."""
    records = db.search_files(model.FileRecordSearch(limit=0))["files"]
    return ({r.file_id: r.as_dict() for r in records}, sorted(db.file_store.stored_ids()),
            db.pruned_file_ids())


def has_content(db, record) -> bool:
    return os.path.isfile(db.file_path_for_id(record.file_id))


def test_the_policy_reads_its_settings_and_refuses_bad_ones() -> None:
    policy = HousekeepingPolicy.from_settings(resolve({
        "MPI_RETAIN_NIGHTS": 14, "MPI_PRUNE_ORDER": "sky_clarity, meteorpi:meteor_preview, *",
        "MPI_QUOTA_HIGH_WATER": "85%", "MPI_QUOTA_FLOOR": "1GB", "MPI_STORAGE_BYTES": "32GB"}))
    assert policy.prune_order == ("meteorpi:sky_clarity", "meteorpi:meteor_preview", "*")
    assert (policy.high_water, policy.floor, policy.storage_bytes) == (Amount(85, True), Amount(10**9), 32 * 10**9)
    assert policy.priority("meteorpi:sky_clarity") == 0 and policy.priority("x:y") == 2
    assert HousekeepingPolicy(prune_order=("meteorpi:sky_clarity",)).priority("x:y") is None
    assert Amount.parse("512MiB", "x").of(0) == 512 * 2**20 and Amount.parse("50%", "x").of(1000) == 500
    assert policy.cutoff(NOW) == utc(2024, 8, 18, 12)  # 14 nights: 18/19 August .. 31 Aug/1 Sept
    for bad, name in (({"MPI_QUOTA_FLOOR": "lots"}, "MPI_QUOTA_FLOOR"),
                      ({"MPI_QUOTA_HIGH_WATER": "120%"}, "MPI_QUOTA_HIGH_WATER"),
                      ({"MPI_STORAGE_BYTES": "50%"}, "MPI_STORAGE_BYTES"),
                      ({"MPI_PRUNE_RECORDS": 2}, "MPI_PRUNE_RECORDS")):
        with pytest.raises(ValueError, match=name):
            resolve(bad)
    with pytest.raises(ValueError, match="MPI_RETAIN_NIGHTS"):
        HousekeepingPolicy().cutoff(NOW)


def test_prune_keeps_recent_nights_and_records_and_says_what_was_pruned(db, node) -> None:
    result = db.prune(HousekeepingPolicy(retain_nights=5, prune_order=(SKY, IMAGE)), now=NOW)
    # Kept nights: 27..31 August. Pruned: sky and meteor images of 20..26; summaries never.
    expected = {node[(day, kind)].file_id for day in range(20, 27) for kind in (SKY, IMAGE)}
    assert {f.file_id for f in result.files} == expected == db.pruned_file_ids()
    assert result.bytes_freed == 7 * 400 and not result.records_removed
    assert [f.semantic_type for f in result.files] == [SKY] * 7 + [IMAGE] * 7  # the prune order
    for (day, kind), record in node.items():
        assert has_content(db, record) == (record.file_id not in expected)
        stored = db.get_file(record.file_id)
        assert stored.as_dict() == record.as_dict()  # size and MD5 kept; the wire form unchanged
        assert (db.pruned_time(record.file_id) is not None) == (record.file_id in expected)
    assert db.search_files(model.FileRecordSearch(semantic_type=SKY))["count"] == 12
    assert db.check_file_store() == {"orphans": [], "missing": [], "strays": []}
    again = db.prune(HousekeepingPolicy(retain_nights=5, prune_order=(SKY, IMAGE)), now=NOW)
    assert again.files == [] and again.bytes_freed == 0


def test_a_dry_run_changes_nothing(db, node) -> None:
    before = snapshot(db)
    result = db.prune(HousekeepingPolicy(retain_nights=3, prune_order=("*",), remove_records=True),
                      now=NOW, dry_run=True)
    assert result.dry_run and result.records_removed
    assert len(result.files) == 9 * 3 and result.bytes_freed == 9 * 410
    assert snapshot(db) == before


def test_bytes_to_free_prunes_the_first_type_in_the_order_oldest_first(db, node) -> None:
    policy = HousekeepingPolicy(retain_nights=2, prune_order=(SKY, "*"))
    result = db.prune(policy, now=NOW, bytes_to_free=250)
    assert [f.file_id for f in result.files] == [node[(day, SKY)].file_id for day in (20, 21, 22)]
    more = db.prune(policy, now=NOW, bytes_to_free=1011)
    assert [f.semantic_type for f in more.files] == [SKY] * 7 + [IMAGE, SUMMARY, IMAGE]
    assert [f.file_time for f in more.files[7:]] == [night(20, 1), night(20, 11), night(21, 1)]


def test_concurrent_prunes_share_the_work(make_db, db, node) -> None:
    # separate engines, as separate processes would have, on the same file store
    databases = [make_db(file_store=db.file_store_path) for _ in range(3)]
    policy = HousekeepingPolicy(retain_nights=2)
    results, errors = [], []

    def run(database) -> None:
        try:
            results.append(database.prune(policy, now=NOW))
        except Exception as error:  # noqa: BLE001 - reported by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=run, args=(database,)) for database in databases]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    marked = [f.file_id for result in results for f in result.files]
    expected = {f.file_id for f in node.values() if f.file_time < utc(2024, 8, 30, 12)}
    assert len(marked) == len(set(marked)) and set(marked) == expected == databases[0].pruned_file_ids()
    assert databases[0].check_file_store() == {"orphans": [], "missing": [], "strays": []}


def test_records_go_too_when_asked(db, node, tmp_path: Path) -> None:
    image = node[(21, IMAGE)]
    event = make_event(db, night(21, 1), files=[image, node[(21, SKY)]])
    result = db.prune(HousekeepingPolicy(retain_nights=5, prune_order=(IMAGE,), remove_records=True), now=NOW)
    assert result.records_removed and len(result.files) == 7
    assert db.get_file(image.file_id) is None and not has_content(db, image)
    assert [f.file_id for f in db.get_event(event.event_id).file_records] == [node[(21, SKY)].file_id]
    assert db.pruned_file_ids() == set()
    assert db.check_file_store() == {"orphans": [], "missing": [], "strays": []}
    # Records of content pruned earlier go on a later run with remove_records.
    db.prune(HousekeepingPolicy(retain_nights=5, prune_order=(SKY,)), now=NOW)
    sky = node[(20, SKY)]
    assert db.get_file(sky.file_id) is not None
    db.prune(HousekeepingPolicy(retain_nights=5, prune_order=(SKY,), remove_records=True), now=NOW)
    assert db.get_file(sky.file_id) is None


def _config(db, search, enabled: bool = True) -> model.ExportConfiguration:
    config = model.ExportConfiguration("http://central.example.org/import", "importer", "pw", search,
                                       "central", "", enabled=enabled)
    return db.create_or_update_export_configuration(config)


def _deliver(db, config_id) -> int:
    """Complete every due task of ``config_id`` as a target that received it would."""
    delivered = 0
    while (task := db.get_next_entity_to_export()) is not None:
        assert task.config_id == config_id
        task.set_status(0)
        delivered += 1
    return delivered


def test_nothing_an_export_has_not_delivered_is_pruned(db, node) -> None:
    policy = HousekeepingPolicy(retain_nights=5, prune_order=("*",))
    old_images = {node[(day, IMAGE)].file_id for day in range(20, 27)}
    files = _config(db, model.FileRecordSearch(semantic_type=IMAGE))
    # Matches the search, not queued yet: kept.
    assert old_images.isdisjoint({f.file_id for f in db.prune(policy, now=NOW, dry_run=True).files})
    # Queued, pending: kept.
    assert db.mark_entities_to_export(files) == 12
    result = db.prune(policy, now=NOW, dry_run=True)
    assert old_images.isdisjoint({f.file_id for f in result.files}) and result.protected == 7
    # Disabled (as the exporter does after repeated failures), tasks still pending: still kept.
    db.set_export_configuration_enabled(files.config_id, False)
    assert old_images.isdisjoint({f.file_id for f in db.prune(policy, now=NOW, dry_run=True).files})
    db.set_export_configuration_enabled(files.config_id, True)
    # Delivered: prunable.
    assert _deliver(db, files.config_id) == 12
    assert old_images <= {f.file_id for f in db.prune(policy, now=NOW, dry_run=True).files}


def test_files_of_undelivered_events_are_kept(db, node) -> None:
    policy = HousekeepingPolicy(retain_nights=5, prune_order=("*",))
    event = make_event(db, night(21, 1), files=[node[(21, IMAGE)]], event_type="meteorpi:meteor")
    events = _config(db, model.EventSearch(event_type="meteorpi:meteor"))
    # The event matches; a file configuration never exports an event's files (they travel with it).
    _config(db, model.FileRecordSearch(semantic_type=SKY), enabled=False)
    first = db.prune(policy, now=NOW)
    assert node[(21, IMAGE)].file_id not in {f.file_id for f in first.files}
    assert has_content(db, node[(21, IMAGE)]) and first.protected == 1
    db.mark_entities_to_export(events)
    assert db.prune(policy, now=NOW).protected == 1 and has_content(db, node[(21, IMAGE)])
    _deliver(db, events.config_id)
    last = db.prune(policy, now=NOW)
    assert [f.file_id for f in last.files] == [node[(21, IMAGE)].file_id] and last.protected == 0
    assert db.get_event(event.event_id).file_records[0].file_id == node[(21, IMAGE)].file_id


def test_a_configuration_made_after_a_prune_queues_nothing_whose_content_is_gone(db, node) -> None:
    """Pruned files, and events holding one, cannot be sent any more: a configuration created
    after the prune does not queue them (it would fail on them for ever)."""
    meteor = "meteorpi:meteor"
    old_event = make_event(db, night(21, 1), files=[node[(21, IMAGE)], node[(21, SUMMARY)]], event_type=meteor)
    new_event = make_event(db, night(30, 1), files=[node[(30, IMAGE)]], event_type=meteor)
    pruned = db.prune(HousekeepingPolicy(retain_nights=5, prune_order=(IMAGE,)), now=NOW)
    assert node[(21, IMAGE)].file_id in {f.file_id for f in pruned.files}
    assert has_content(db, node[(21, SUMMARY)])  # the old event still has one file's content

    events = _config(db, model.EventSearch(event_type=meteor))
    images = _config(db, model.FileRecordSearch(semantic_type=IMAGE))
    assert db.mark_entities_to_export(events) == 1
    assert db.mark_entities_to_export(images) == 4  # 27, 28, 29, 31 August (30th: in an event)
    queued: dict = {}
    while (task := db.get_next_entity_to_export()) is not None:
        queued.setdefault(task.config_id, set()).add(task.entity_id)
        task.set_status(0)
    assert queued[events.config_id] == {new_event.event_id}
    assert queued[images.config_id] == {node[(day, IMAGE)].file_id for day in (27, 28, 29, 31)}
    assert not {old_event.event_id} & queued[events.config_id]
    assert db.mark_entities_to_export(events) == 0 and db.mark_entities_to_export(images) == 0


def test_the_quota_prunes_at_the_high_water_mark_and_refuses_below_the_floor(db, node) -> None:
    content = sum(os.path.getsize(db.file_path_for_id(f.file_id)) for f in node.values())
    budget = HousekeepingPolicy(retain_nights=3, prune_order=(SKY, IMAGE), storage_bytes=content + 1000,
                                high_water=Amount(content - 500), floor=Amount(200))
    space = db.disk_space(budget)
    assert (space.source, space.used, space.free) == ("budget", content, 1000)
    assert db.bytes_over_quota(budget) == content - int((content - 500) * 0.9)
    result = db.enforce_quota(budget, now=NOW)
    # Under 90% of the mark, sky images first, oldest first.
    assert db.disk_space(budget).used <= 0.9 * (content - 500)
    assert [f.semantic_type for f in result.files] == [SKY] * 9 + [IMAGE]
    assert result.files[0].file_time == night(20, 22)
    assert db.enforce_quota(budget, now=NOW) is None  # below the mark: nothing to do
    # A batch that would cross the mark makes room first.
    free = db.disk_space(budget).free
    assert db.enforce_quota(budget, now=NOW, incoming_bytes=free - 100).bytes_freed > 0
    # Without room to make (everything old is pruned), the floor refuses the batch.
    floor_only = HousekeepingPolicy(storage_bytes=content + 1000, floor=Amount(200))
    free = db.disk_space(floor_only).free
    before = snapshot(db)
    with pytest.raises(StorageFullError, match=r"registration refused: .* MPI_QUOTA_FLOOR is 200 bytes"):
        db.enforce_quota(floor_only, now=NOW, incoming_bytes=free - 199)
    assert db.enforce_quota(floor_only, now=NOW, incoming_bytes=free - 200) is None
    assert snapshot(db) == before


def test_the_storage_report_by_type_and_night_and_time_until_full(db, node) -> None:
    db.prune(HousekeepingPolicy(retain_nights=5, prune_order=(SKY,)), now=NOW)
    policy = HousekeepingPolicy(storage_bytes=10**6, high_water=Amount(50, True))
    report = db.storage_report(policy, now=NOW)
    assert report["by_semantic_type"] == {
        IMAGE: {"files": 12, "bytes": 3600, "pruned_files": 0},
        SKY: {"files": 12, "bytes": 500, "pruned_files": 7},
        SUMMARY: {"files": 12, "bytes": 120, "pruned_files": 0}}
    assert list(report["by_night"])[0] == "2024-08-20" and len(report["by_night"]) == 12
    assert report["by_night"]["2024-08-20"] == {"files": 3, "bytes": 310, "pruned_files": 1}
    assert report["by_night"]["2024-08-31"] == {"files": 3, "bytes": 410, "pruned_files": 0}
    assert report["content_bytes"] == 4220 and report["pruned_files"] == 7
    # The last 7 days (25 Aug 03:00 .. 1 Sept 03:00) recorded 410 bytes a day.
    assert report["bytes_per_day"] == 410
    disk = report["disk"]
    assert disk["capacity"] == 10**6 and report["high_water_bytes"] == 500000
    assert report["seconds_until_full"] == pytest.approx(disk["free"] / 410 * 86400, abs=1)
    assert report["seconds_until_high_water"] == pytest.approx((500000 - disk["used"]) / 410 * 86400, abs=1)
    assert len(db.storage_report(policy, now=NOW, nights=3)["by_night"]) == 3
    assert db.storage_report(now=utc(2030, 1, 1))["seconds_until_full"] is None
    # without a budget: the filesystem under a directory; a bucket has no bound
    assert db.storage_report()["disk"]["source"] == ("filesystem" if db.file_store.root else "unbounded")


def test_the_housekeeper_keeps_the_quota_on_a_schedule(db, node) -> None:
    content = sum(os.path.getsize(db.file_path_for_id(f.file_id)) for f in node.values())
    policy = HousekeepingPolicy(retain_nights=1, storage_bytes=10**7, high_water=Amount(content - 1000),
                                interval_seconds=1)
    housekeeper = Housekeeper(db, policy).start()
    try:
        deadline = time.monotonic() + 30
        while not db.pruned_file_ids() and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        housekeeper.stop()
    assert db.pruned_file_ids() and housekeeper.runs >= 1
    assert db.disk_space(policy).used < policy.high_water.of(0)


def test_pruned_content_answers_410_gone_over_http(server, client: Client, tmp_path: Path) -> None:
    db = server.db
    make_status(db, INSTALLATION_ID, utc(2024, 8, 1))
    old = make_file(db, tmp_path, night(20), semantic_type=SKY, mime_type="image/png", file_name="sky.png")
    new = make_file(db, tmp_path, night(31), semantic_type=SKY, mime_type="image/png")
    db.prune(HousekeepingPolicy(retain_nights=2), now=NOW)
    for path in (f"/files/content/{old.file_id.hex}", f"/files/content/{old.file_id.hex}/sky.png"):
        response = client.get(path)
        assert response.status_code == 410
        assert response.headers["Content-Type"] == "application/json"
        body = response.json()
        assert body["entity_id"] == old.file_id.hex and "was pruned from this node" in body["message"]
        assert body["pruned_time"] == model.utc_datetime_to_milliseconds(db.pruned_time(old.file_id))
    assert client.get(f"/files/content/{new.file_id.hex}").status_code == 200
    found = client.get("/files/" + encode_search(model.FileRecordSearch(semantic_type=SKY))).json()
    assert found["count"] == 2
    # The record is unchanged on the wire (size and MD5 kept, no new keys).
    assert {f["file_id"]: f for f in found["files"]}[old.file_id.hex] == old.as_dict()
    health = client.get("/health").json()
    assert health["status"] == "ok"
    assert health["storage"]["by_semantic_type"][SKY] == {"files": 2, "bytes": new.file_size, "pruned_files": 1}
    assert client.get(f"/files/thumbnail/{old.file_id.hex}").status_code == 410
    module = client.get("/web/static/app.js").text  # the website's thumbnails say why they are missing
    assert "image pruned from this node" in module and "answer.status === 410" in module
