"""A central server on two hosts sharing one database and one bucket (and no directory), and a
crash in the middle of a multipart upload.

The hosts are two gunicorn processes, each with its own read cache directory; the bucket is the
suite's moto server on loopback (tests/object_store_helpers.py).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from urllib.parse import quote_plus

import requests

import meteorpi_model as model
from meteorpi_fdb import MeteorDatabase
from tests.object_store_helpers import bucket_location
from tests.replication_helpers import (REPO_ROOT, SOURCE_ID, add_import_user, configure_export, exporter_for,
                                       populate, start_gunicorn, start_node, stop_process,  # noqa: F401
                                       target_db_url, wait_for)


def _search_url(base_url: str, search: dict) -> str:
    return f"{base_url}/files/{quote_plus(quote_plus(json.dumps(search)))}"


def test_a_file_imported_through_one_host_is_served_by_the_other(db_url, target_db_url, s3_endpoint, start_node,
                                                                 tmp_path, monkeypatch):
    bucket = bucket_location("two-hosts")
    central = MeteorDatabase(db_url, bucket)
    add_import_user(central)
    central.close()
    hosts = []
    try:
        monkeypatch.setenv("MPI_S3_PART_BYTES", str(5 * 1024 * 1024))
        for name in ("a", "b"):
            monkeypatch.setenv("MPI_S3_CACHE_DIR", str(tmp_path / f"cache-{name}"))
            hosts.append(start_gunicorn(db_url, bucket, workers=1, log_path=tmp_path / f"host-{name}.log"))
        (_process_a, host_a), (_process_b, host_b) = hosts
        source = start_node(target_db_url, SOURCE_ID)
        data = populate(source.db, tmp_path / "in", events=2, files_per_event=2, loose_files=1,
                        file_size=6 * 1024 * 1024 + 3)  # each file goes up in parts
        configure_export(source.db, f"{host_a}/import", model.EventSearch(), name="events")
        configure_export(source.db, f"{host_a}/import", model.FileRecordSearch(exclude_events=True), name="files")
        exporter, complete = exporter_for(source.db, protocol="auto"), 0
        for _attempt in range(10):  # a batch carries as much content as the target accepts
            summary = exporter.run_once()
            assert summary.failed == 0
            complete += summary.complete
            if complete == 3 or not summary.complete:
                break
        assert complete == 3  # two events (two files each) and a file of no event

        found = requests.get(_search_url(host_b, {"limit": 10}), timeout=30).json()
        assert found["count"] == 5
        for record in data.loose_files + [r for event in data.events for r in event.file_records]:
            answer = requests.get(f"{host_b}/files/content/{record.file_id.hex}", timeout=60)
            assert answer.status_code == 200
            with open(source.db.file_path_for_id(record.file_id), "rb") as original:
                assert answer.content == original.read(), f"{record.file_id.hex} differs"
        assert not any((tmp_path / name).exists() and os.listdir(tmp_path / name)
                       for name in ("cache-a", "cache-b"))  # served from the bucket, not a directory
    finally:
        for process, _url in hosts:
            stop_process(process)


_WRITER = textwrap.dedent("""
    import os, sys
    from datetime import datetime, timedelta, timezone
    import meteorpi_model as model
    from meteorpi_fdb import MeteorDatabase
    from tests.helpers import status_block

    db_url, bucket, staging = sys.argv[1:4]
    db = MeteorDatabase(db_url, bucket, installation_id="aabbccddeeff")
    start = datetime(2015, 1, 1, tzinfo=timezone.utc)
    db.update_camera_status(status_block(), time=start)
    for number in range(1000):
        path = os.path.join(staging, f"{number}.bin")
        with open(path, "wb") as out:
            out.write(os.urandom(64 * 1024 * 1024))
        db.register_file(path, "application/octet-stream", model.NSString("raw"),
                         start + timedelta(minutes=number + 1), [])
        print(number, flush=True)
""")


def _parts_uploaded(store) -> int:
    """Parts uploaded so far by incomplete multipart uploads under the store's prefix."""
    return sum(len(store.client.list_parts(Bucket=store.bucket, Key=upload["Key"],
                                           UploadId=upload["UploadId"]).get("Parts", []))
               for upload in store._uploads())


def test_a_kill_during_a_multipart_upload_leaves_no_row_without_its_object(db_url, s3_endpoint, tmp_path):
    from meteorpi_cli import main
    from click.testing import CliRunner

    bucket = bucket_location("kill")
    script = tmp_path / "writer.py"
    script.write_text(_WRITER)
    staging = tmp_path / "staging"
    staging.mkdir()
    env = dict(os.environ, MPI_S3_PART_BYTES=str(5 * 1024 * 1024), PYTHONPATH=str(REPO_ROOT))
    process = subprocess.Popen([sys.executable, str(script), db_url, bucket, str(staging)], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    db = MeteorDatabase(db_url, bucket)
    try:
        process.stdout.readline()  # one file committed
        # then kill it while the next one is going up in parts (13 of them): once one is in
        wait_for(lambda: _parts_uploaded(db.file_store) > 0, timeout=120, interval=0.01)
        process.send_signal(signal.SIGKILL)
        process.wait(30)
        assert process.returncode == -signal.SIGKILL
        check = db.check_file_store()
        assert check["missing"] == [] and check["orphans"] == []  # every row has its object
        assert len(db.search_files(model.FileRecordSearch())["files"]) >= 1
        assert [name for name in check["strays"] if name.startswith(".tmp-")]  # the cut upload
        arguments = ["--db", db_url, "--file-store", bucket, "--json", "fsck"]
        kept = CliRunner().invoke(main, arguments + ["--repair"])
        assert json.loads(kept.output)["temporaries"], kept.output  # younger than the grace period
        repaired = CliRunner().invoke(main, arguments + ["--repair", "--grace", "0"])
        assert repaired.exit_code == 0, repaired.output
        assert db.check_file_store() == {"orphans": [], "missing": [], "strays": []}
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
        process.stdout.close()
        db.close()
