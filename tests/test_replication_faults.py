"""Replication when things go wrong: the target down or restarted, the exporter killed mid-upload,
wrong credentials, corrupt content on the source, targets that misbehave, HTTPS certificates."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from datetime import timedelta

import pytest
from flask import jsonify

import meteorpi_model as model
from meteorpi_server import MeteorServer, importer_api
from tests.replication_helpers import (IMPORT_PASSWORD, IMPORT_USER, REPO_ROOT, SOURCE_ID,
                                       TARGET_ID, add_import_user, all_events, all_files,
                                       assert_events_replicated, config_status, configure_export,
                                       exporter_for, populate, record_answers, wait_for)
from tests.replication_helpers import protocol, source, start_node, target, target_db_url  # noqa: F401 (fixtures)


def test_target_down_defers_disables_and_resumes_after_re_enable(source, target, tmp_path, protocol):
    populate(source.db, tmp_path / "in", events=3, files_per_event=1, loose_files=0)
    config = configure_export(source.db, target.import_url, model.EventSearch())
    target.stop()
    exporter = exporter_for(source.db, protocol=protocol, max_failures_before_disable=3, defer_on_failure_seconds=1,
                            timeout=(2, 5))
    exporter.mark_entities()

    before = model.now()
    state = exporter.handle_next_export()
    assert state.state == "failed" and "cannot reach" in state.message
    status = config_status(source.db, config.config_id)
    assert (status["failure_count"], status["enabled"], status["pending"]) == (1, True, 3)
    # Every pending task of the configuration moved back by defer_on_failure_seconds.
    assert status["next_export_time"] >= before + timedelta(seconds=1)
    assert exporter.handle_next_export() is None

    for expected_failures in (2, 3):
        state = wait_for(exporter.handle_next_export, timeout=10)
        assert state.state == "failed"
        assert config_status(source.db, config.config_id)["failure_count"] == expected_failures
    assert state.config_disabled
    assert not source.db.get_export_configuration(config.config_id).enabled
    time.sleep(1.2)
    assert exporter.handle_next_export() is None  # due, but the configuration is disabled

    target.start()
    source.db.set_export_configuration_enabled(config.config_id, True)
    time.sleep(1.1)
    summary = exporter.run_once()
    assert (summary.complete, summary.failed) == (3, 0)
    assert config_status(source.db, config.config_id)["failure_count"] == 0
    assert_events_replicated(source.db, target.db, expected_count=3)


def test_a_target_restarted_mid_run_costs_only_a_continue_nocache(source, target, tmp_path):
    populate(source.db, tmp_path / "in", events=3, files_per_event=3, loose_files=0)
    configure_export(source.db, target.import_url, model.EventSearch())
    exporter = exporter_for(source.db)
    answers = record_answers(exporter, target.import_url)
    restarted: list[bool] = []

    def restart_after_first_upload(response, *args, **kwargs):
        if not restarted and "/data/" in response.url:
            restarted.append(True)
            target.restart()  # the target's entity cache is gone

    exporter._session(target.import_url).hooks["response"].append(restart_after_first_upload)
    summary = exporter.run_once()

    assert restarted
    assert (summary.complete, summary.failed, summary.confused) == (3, 0, 0)
    assert "continue-nocache" in answers
    assert_events_replicated(source.db, target.db, expected_count=3)


_SLOW_EXPORTER = textwrap.dedent("""
    import sys, time
    from requests_toolbelt import MultipartEncoder
    import meteorpi_fdb._exporter_run as run
    from meteorpi_fdb import MeteorDatabase

    class SlowEncoder(MultipartEncoder):
        announced = False
        def read(self, size=-1):
            if not SlowEncoder.announced:
                SlowEncoder.announced = True
                print("uploading", flush=True)
            time.sleep(0.02)
            return super().read(8192)

    run.MultipartEncoder = SlowEncoder
    db = MeteorDatabase(sys.argv[1], sys.argv[2], installation_id=sys.argv[3])
    run.MeteorExporter(db, claim_lease_seconds=float(sys.argv[4]), protocol="2015").run_once()
    print("finished", flush=True)
""")


def test_an_exporter_killed_mid_upload_is_picked_up_after_its_claim_expires(source, target, db_url, tmp_path):
    data = populate(source.db, tmp_path / "in", events=1, files_per_event=1, loose_files=0,
                    file_size=4 * 1024 * 1024)
    record = data.events[0].file_records[0]
    configure_export(source.db, target.import_url, model.EventSearch())
    script = tmp_path / "slow_exporter.py"
    script.write_text(_SLOW_EXPORTER)
    lease = 3
    process = subprocess.Popen([sys.executable, str(script), db_url, source.file_store, SOURCE_ID, str(lease)],
                               cwd=str(REPO_ROOT), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert process.stdout.readline().strip() == b"uploading", process.stderr.read()
        time.sleep(0.5)
        os.kill(process.pid, signal.SIGKILL)
        killed_at = time.monotonic()
    finally:
        if process.poll() is None:  # the test failed before killing it
            process.kill()
        process.wait(10)
        process.stdout.close()
        process.stderr.close()

    # Nothing half-written reached the target's store.
    assert not target.db.file_store.has_content(record.file_id)
    assert target.db.file_store.stray_files() == []
    exporter = exporter_for(source.db, claim_lease_seconds=lease)
    if time.monotonic() - killed_at < lease - 1:
        assert exporter.handle_next_export() is None  # still claimed by the dead exporter
    state = wait_for(exporter.handle_next_export, timeout=lease + 10)
    assert state.state == "complete"
    assert_events_replicated(source.db, target.db, expected_count=1)
    assert target.db.file_store.stray_files() == []


@pytest.mark.parametrize("user_id, password, roles", [
    (IMPORT_USER, "not the password", None),
    ("nobody", IMPORT_PASSWORD, None),
    ("viewer", "viewer-secret", ["user", "camera_admin"]),
])
def test_wrong_credentials_fail_and_import_nothing(source, target, tmp_path, user_id, password, roles, protocol):
    if roles:
        add_import_user(target.db, user_id, password, roles)
    populate(source.db, tmp_path / "in", events=2, files_per_event=1, loose_files=0)
    config = configure_export(source.db, target.import_url, model.EventSearch(), user_id=user_id,
                              password=password)

    summary = exporter_for(source.db, protocol=protocol).run_once()

    # 2015: the failure defers the other task; v2: both tasks were in the batch that failed.
    assert (summary.complete, summary.failed) == (0, 1 if protocol == "2015" else 2)
    assert config_status(source.db, config.config_id)["failure_count"] == 1
    assert all_events(target.db) == [] and all_files(target.db) == []


def test_corrupt_content_on_the_source_is_never_accepted(source, target, tmp_path):
    data = populate(source.db, tmp_path / "in", events=2, files_per_event=2, loose_files=0)
    bad_event = data.events[1]
    corrupted = bad_event.file_records[1]
    with open(source.db.file_path_for_id(corrupted.file_id), "r+b") as content:
        content.write(b"bit rot")
    configure_export(source.db, target.import_url, model.EventSearch())
    exporter = exporter_for(source.db)
    states = []

    summary = exporter.run_once(progress=states.append)

    assert (summary.complete, summary.failed) == (1, 1)
    failed = next(s for s in states if s.state == "failed")
    assert failed.entity_id == bad_event.event_id
    assert "times" in failed.message
    assert failed.round_trips <= exporter.max_round_trips + 4 * len(bad_event.file_records)
    assert [e.event_id for e in all_events(target.db)] == [data.events[0].event_id]
    assert not target.db.has_file_id(corrupted.file_id)
    assert not target.db.file_store.has_content(corrupted.file_id)


class _Hostile(importer_api.BaseImportReceiver):
    """Answers every event with the same reply."""

    def __init__(self, reply):
        self.reply = reply

    def receive_event(self, import_request):
        return self.reply(import_request)


def _hostile_server(target_db_url, tmp_path):
    server = MeteorServer(target_db_url, str(tmp_path / "hostile-files"), 0, add_routes=False,
                          installation_id=TARGET_ID)
    app = server.meteor_app
    replies = {
        "/always-continue": lambda r: r.response_continue(),
        "/strange-file": lambda r: r.response_need_file_data(uuid.uuid4()),
        "/strange-status": lambda r: r.response_need_status(uuid.uuid4()),
        "/unknown-state": lambda r: jsonify({"state": "maybe-later"}),
        "/refuse": lambda r: r.response_failed("not today"),
    }
    for path, reply in replies.items():
        importer_api.add_routes(app, handler=_Hostile(reply), url_path=path)
    app.app.add_url_rule("/not-json", "not_json", lambda: "<html>hello</html>", methods=["POST"])
    app.app.add_url_rule("/server-error", "server_error", lambda: ("boom", 500), methods=["POST"])
    app.app.add_url_rule("/slow", "slow", lambda: (time.sleep(3), jsonify({"state": "complete"}))[1],
                         methods=["POST"])
    add_import_user(server.db)
    return server, server.start_non_blocking()


@pytest.mark.parametrize("path, outcome, fragment, counted", [
    ("/always-continue", "failed", "round trips", 1),
    ("/strange-file", "failed", "does not refer to", 1),
    ("/strange-status", "failed", "does not refer to", 1),
    ("/unknown-state", "confused", "maybe-later", 1),
    ("/refuse", "failed", "not today", 0),  # refuses this entity: only its task is deferred
    ("/not-json", "failed", "not JSON", 1),
    ("/server-error", "failed", "HTTP 500", 1),
    ("/slow", "failed", "no answer", 1),
    ("/nowhere", "failed", "HTTP 404", 1),
])
def test_a_misbehaving_target_is_a_failure_never_a_crash_or_a_loop(source, target_db_url, tmp_path,
                                                                   path, outcome, fragment, counted):
    populate(source.db, tmp_path / "in", events=1, files_per_event=2, loose_files=0)
    server, stop = _hostile_server(target_db_url, tmp_path)
    try:
        config = configure_export(source.db, f"http://127.0.0.1:{server.port}{path}", model.EventSearch())
        exporter = exporter_for(source.db, timeout=(2, 1))
        exporter.mark_entities()
        state = exporter.handle_next_export()
        assert state.state == outcome and fragment in state.message, state.message
        assert state.round_trips <= exporter.max_round_trips + 4 * 2
        assert state.refused is (counted == 0)
        assert config_status(source.db, config.config_id)["failure_count"] == counted
        assert exporter.handle_next_export() is None  # deferred
    finally:
        stop()
        server.db.close()


def _self_signed_certificate(directory) -> tuple[str, str]:
    cert, key = str(directory / "cert.pem"), str(directory / "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", key, "-out", cert], check=True, capture_output=True)
    return cert, key


class _TLSServer(MeteorServer):
    """A MeteorServer that speaks HTTPS."""

    ssl_context = None

    def _make_server(self):
        server = super()._make_server()
        server.ssl_options = self.ssl_context
        return server


def test_https_targets_are_verified(source, target_db_url, tmp_path, protocol):
    import ssl

    cert, key = _self_signed_certificate(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    _TLSServer.ssl_context = context
    server = _TLSServer(target_db_url, str(tmp_path / "tls-files"), 0, installation_id=TARGET_ID)
    add_import_user(server.db)
    stop = server.start_non_blocking()
    try:
        populate(source.db, tmp_path / "in", events=2, files_per_event=1, loose_files=0)
        url = f"https://127.0.0.1:{server.port}/import"
        untrusted = configure_export(source.db, url, model.EventSearch(), name="untrusted")
        exporter = exporter_for(source.db, protocol=protocol)
        summary = exporter.run_once()
        assert (summary.complete, summary.failed) == (0, 1 if protocol == "2015" else 2)
        assert all_events(server.db) == []

        source.db.delete_export_configuration(untrusted.config_id)
        configure_export(source.db, url, model.EventSearch(), name="trusted", ca_bundle=cert)
        summary = exporter.run_once()
        assert (summary.complete, summary.failed) == (2, 0)
        assert_events_replicated(source.db, server.db, expected_count=2)
    finally:
        stop()
        server.db.close()
