"""Replication v2 against a gunicorn target (several worker processes reading request bodies as
they arrive): a batch cut mid-stream resumes without re-sending verified content, and exporter
processes killed at random points over several runs lose nothing and duplicate nothing."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time

import pytest

import meteorpi_model as model
from meteorpi_fdb.exporter import ExportSettings
from tests.replication_helpers import (REPO_ROOT, SOURCE_ID, all_events, all_files,
                                       assert_events_replicated, configure_export, exporter_for,
                                       populate, wait_for)
from tests.replication_helpers import source, start_node, target_db_url  # noqa: F401 (fixtures)
from tests.test_replication_gunicorn import gunicorn_target, target_db, target_store  # noqa: F401 (fixtures)

pytestmark = pytest.mark.slow


def test_a_cut_batch_resumes_without_sending_verified_content_again(source, target_db, gunicorn_target,
                                                                     tmp_path, monkeypatch):
    from meteorpi_fdb import _exporter_v2

    base_url = gunicorn_target(workers=2)
    data = populate(source.db, tmp_path / "in", events=6, files_per_event=2, loose_files=0, file_size=100_000)
    content = sum(r.file_size for e in data.events for r in e.file_records)
    configure_export(source.db, f"{base_url}/import", model.EventSearch())
    real_read = _exporter_v2.BatchBody.read
    cut = {"at": None}

    def read(self, size=-1):
        if cut["at"] is None and self.sent > 0.6 * content:
            cut["at"] = self.sent
            raise ConnectionResetError("the link went down")
        return real_read(self, size)

    monkeypatch.setattr(_exporter_v2.BatchBody, "read", read)
    summary = exporter_for(source.db, protocol="auto").run_once()

    assert cut["at"] is not None
    assert (summary.complete, summary.failed) == (6, 0)
    # Resumed: the content verified before the cut was not sent again.
    assert summary.bytes_sent < content + 0.2 * content
    assert_events_replicated(source.db, target_db, expected_count=6)
    assert not os.path.exists(target_db.part_store.root) or os.listdir(target_db.part_store.root) == []
    assert target_db.check_file_store() == {"orphans": [], "missing": [], "strays": []}


_EXPORTER = """
import sys
from meteorpi_fdb import MeteorDatabase
from meteorpi_fdb.exporter import MeteorExporter

db = MeteorDatabase(sys.argv[1], sys.argv[2], installation_id=sys.argv[3])
print("started", flush=True)
MeteorExporter(db, claim_lease_seconds=float(sys.argv[4]), protocol="auto", timeout=(5, 30)).run_once()
print("finished", flush=True)
"""


def test_exporters_killed_at_random_points_lose_and_duplicate_nothing(source, db_url, target_db, gunicorn_target,
                                                                      tmp_path):
    base_url = gunicorn_target(workers=2)
    populate(source.db, tmp_path / "in", events=16, files_per_event=2, loose_files=4, file_size=40_000)
    for name, search in (("events", model.EventSearch()), ("files", model.FileRecordSearch(exclude_events=True))):
        config = configure_export(source.db, f"{base_url}/import", search, name=name)
        source.db.set_export_settings(config.config_id, ExportSettings(bwlimit=600_000, batch_entities=5))
    script = tmp_path / "exporter.py"
    script.write_text(_EXPORTER)
    rng = random.Random(12)
    lease = 2
    for run in range(3):
        process = subprocess.Popen([sys.executable, str(script), db_url, source.file_store, SOURCE_ID, str(lease)],
                                   cwd=str(REPO_ROOT), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            assert process.stdout.readline().strip() == b"started", process.stderr.read()
            time.sleep(rng.uniform(0.2, 1.2))
            process.kill()
        finally:
            if process.poll() is None:
                process.kill()
            process.wait(10)
            process.stdout.close()
            process.stderr.close()
    exporter = exporter_for(source.db, protocol="auto", claim_lease_seconds=lease)
    for config in source.db.get_export_configurations():
        source.db.set_export_settings(config.config_id, ExportSettings())

    def finished() -> bool:
        exporter.run_once()
        return all(entry["pending"] == 0 for entry in source.db.export_status())

    wait_for(finished, timeout=60, interval=0.5)
    assert_events_replicated(source.db, target_db, expected_count=16)
    assert len(all_events(target_db)) == 16 and len(all_files(target_db)) == 36
    assert target_db.check_file_store() == {"orphans": [], "missing": [], "strays": []}
