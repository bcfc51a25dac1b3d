"""A simulated month on a small store stays under its quota without losing anything unexported.

Every night a camera registers sky-clarity images and meteor images; an export configuration
sends the meteor images to a central server, which is down for ten nights. Before each batch
the quota is kept (as ``meteorpi register`` does). The store is a real 6 MiB tmpfs when the
tests run as root, and a 6 MB budget (``MPI_STORAGE_BYTES``) measured by the store's own bytes
either way, on a directory and on a bucket. Every backend.
"""

from __future__ import annotations

import os
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest

import meteorpi_model as model
from meteorpi_fdb.housekeeping import Amount, HousekeepingPolicy
from tests.helpers import make_file, make_status, utc
from tests.object_store_helpers import bucket_location

SKY, IMAGE = "meteorpi:sky_clarity", "meteorpi:meteor_image"
NIGHTS = 30
TARGET_DOWN = range(8, 18)  # nights the central server does not answer
STORE_BYTES = 6 * 2**20


@pytest.fixture(params=["tmpfs", "budget", "bucket-budget"])
def small_store(request, tmp_path: Path):
    """(file store location, storage budget or None for the filesystem itself). The bucket
    store has no filesystem of its own: a budget is its only quota."""
    if request.param == "bucket-budget":
        request.getfixturevalue("s3_endpoint")
        yield bucket_location("store"), STORE_BYTES
        return
    store = tmp_path / "store"
    store.mkdir()
    if request.param == "budget":
        yield store, STORE_BYTES
        return
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root; the budget variant covers the same logic")
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={STORE_BYTES}", "tmpfs", str(store)], check=True)
    try:
        yield store, None
    finally:
        subprocess.run(["umount", "-l", str(store)], check=True)


def _undelivered(db) -> set:
    """Meteor images the central server has not confirmed (pending, or not queued yet)."""
    images = db.search_files(model.FileRecordSearch(semantic_type=IMAGE, limit=0))["files"]
    return db.unconfirmed_file_ids() & {record.file_id for record in images}


def test_a_month_on_a_small_store_stays_under_quota_and_keeps_everything_unexported(
        make_db, small_store, tmp_path: Path) -> None:
    store, budget = small_store
    db = make_db(file_store=store)
    policy = HousekeepingPolicy(retain_nights=3, prune_order=(SKY, IMAGE), storage_bytes=budget,
                                high_water=Amount(70, True), floor=Amount(10, True))
    start = utc(2024, 8, 1, 12)
    make_status(db, None, start)
    config = db.create_or_update_export_configuration(model.ExportConfiguration(
        "http://central.example.org/import", "importer", "pw", model.FileRecordSearch(semantic_type=IMAGE),
        "central", "meteor images to the central server", enabled=True))
    capacity = db.disk_space(policy).capacity
    high_water = policy.high_water.of(capacity)
    registered, pruned_any, content_of = 0, False, {}
    for night in range(NIGHTS):
        noon = start + timedelta(days=night)
        batch = [(noon + timedelta(hours=8 + hour), SKY, 24_000) for hour in range(8)]
        batch += [(noon + timedelta(hours=10 + 2 * k, minutes=17), IMAGE, 48_000) for k in range(4)]
        result = db.enforce_quota(policy, now=noon + timedelta(hours=23), incoming_bytes=sum(b[2] for b in batch))
        pruned_any = pruned_any or bool(result and result.files)
        for file_time, semantic_type, size in batch:
            record = make_file(db, tmp_path / "incoming", file_time, semantic_type=semantic_type,
                               content=os.urandom(size))
            content_of[record.file_id] = record
            registered += 1
        assert db.disk_space(policy).used < high_water, f"night {night}: above the high-water mark"
        # The exporter queues what matches; the target confirms unless it is down.
        db.mark_entities_to_export(config)
        if night not in TARGET_DOWN:
            while (task := db.get_next_entity_to_export()) is not None:
                task.set_status(0)
        for file_id in _undelivered(db):
            assert os.path.isfile(db.file_path_for_id(file_id)), f"night {night}: undelivered {file_id} lost"
        if night == TARGET_DOWN[-1]:
            assert len(_undelivered(db)) == 4 * len(TARGET_DOWN)

    assert pruned_any, "the month never reached the high-water mark: the test proves nothing"
    records = db.search_files(model.FileRecordSearch(limit=0))["files"]
    assert len(records) == registered  # every record is still there, pruned or not
    pruned = db.pruned_file_ids()
    kept = set(db.file_store.stored_ids())
    assert pruned and kept == {r.file_id for r in records} - pruned
    assert db.check_file_store() == {"orphans": [], "missing": [], "strays": []}
    last_nights = policy.cutoff(start + timedelta(days=NIGHTS - 1, hours=23))
    assert all(r.file_id in kept for r in records if r.file_time >= last_nights)
    # Sky images went first: no meteor image was pruned while an old sky image kept its content.
    oldest_kept_sky = min((r.file_time for r in records if r.file_id in kept and str(r.semantic_type) == SKY),
                          default=None)
    pruned_images = [r for r in records if r.file_id in pruned and str(r.semantic_type) == IMAGE]
    if pruned_images and oldest_kept_sky is not None:
        assert oldest_kept_sky >= last_nights
