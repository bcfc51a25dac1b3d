"""Per-configuration replication settings (t_exportSettings): the data layer, the admin API
route beside the unchanged 2015 configuration form, and the ``export settings``, ``export
verify`` and ``export run --until`` commands against a real target node."""

from __future__ import annotations

from datetime import time

import pytest

import meteorpi_model as model
from meteorpi_fdb.exporter import ExportSettings
from tests.replication_helpers import (IMPORT_PASSWORD, IMPORT_USER, add_import_user,  # noqa: F401
                                       start_node, target_db_url)
from tests.server_helpers import (ADMIN, Client, add_users, assert_schema,  # noqa: F401
                                  cheap_password_hashing, client, make_server, server)
from tests.test_cli import Cli, as_json, cli, data_dir, error_line, node_db  # noqa: F401


def _config(db, url: str = "http://central:8080/import") -> model.ExportConfiguration:
    return db.create_or_update_export_configuration(model.ExportConfiguration(
        url, IMPORT_USER, IMPORT_PASSWORD, model.EventSearch(), "central", "", enabled=True))


def test_settings_default_store_and_go_with_their_configuration(db):
    config = _config(db)
    assert db.get_export_settings(config.config_id) == ExportSettings()
    stored = db.set_export_settings(config.config_id, ExportSettings(
        protocol="v2", bwlimit=250_000, window="22:30-06:00", batch_entities=50, verify_hours=24))
    assert stored.window == (time(22, 30), time(6, 0))
    assert db.get_export_settings(config.config_id) == stored
    assert stored.as_dict()["window"] == "22:30-06:00"
    db.record_export_verified(config.config_id)
    assert db.get_export_settings(config.config_id).last_verified is not None
    db.delete_export_configuration(config.config_id)
    with pytest.raises(ValueError, match="no export configuration"):
        db.get_export_settings(config.config_id)


@pytest.mark.parametrize("fields, fragment", [
    ({"protocol": "v3"}, "protocol"), ({"bwlimit": 0}, "bwlimit"), ({"bwlimit": "fast"}, "bwlimit"),
    ({"window": "9-17"}, "window"), ({"window": "09:00-09:00"}, "differ"), ({"window": "25:00-01:00"}, "00:00"),
    ({"batch_entities": 0}, "batch_entities"), ({"batch_entities": 5000}, "batch_entities"),
    ({"verify_hours": -1}, "verify_hours"),
])
def test_bad_settings_are_refused(fields, fragment):
    with pytest.raises(ValueError, match=fragment):
        ExportSettings().updated(fields)


def test_a_window_spanning_midnight():
    from datetime import datetime, timezone

    settings = ExportSettings(window="22:00-06:00")
    local = datetime.now().astimezone().tzinfo
    assert settings.in_window(datetime(2026, 1, 1, 23, 0, tzinfo=local))
    assert settings.in_window(datetime(2026, 1, 1, 5, 59, tzinfo=local))
    assert not settings.in_window(datetime(2026, 1, 1, 12, 0, tzinfo=local))
    assert ExportSettings().in_window(datetime.now(timezone.utc))


def test_admin_settings_route(server, client: Client):
    add_users(server.db)
    client.session.auth = ADMIN
    config = _config(server.db)
    before = client.get(f"/export/{config.config_id.hex}").json()
    answer = client.get(f"/export/{config.config_id.hex}/settings")
    assert answer.status_code == 200 and answer.json()["settings"]["protocol"] == "auto"
    assert_schema(answer.json()["settings"], "ExportSettings")
    changed = client.put(f"/export/{config.config_id.hex}/settings", json={"bwlimit": 1000, "window": "09:00-17:00"})
    assert changed.status_code == 200, changed.text
    assert changed.json()["settings"]["bwlimit"] == 1000
    assert "bwlimit" not in client.put(f"/export/{config.config_id.hex}/settings", json={"bwlimit": None}).json()["settings"]
    # The 2015 configuration form is unchanged.
    assert client.get(f"/export/{config.config_id.hex}").json() == before
    bad = client.put(f"/export/{config.config_id.hex}/settings", json={"speed": 1})
    assert bad.status_code == 400 and "speed" in bad.json()["message"]
    assert client.get(f"/export/{'0' * 32}/settings").status_code == 404
    assert client.get(f"/export/{config.config_id.hex}/settings", auth=("viewer", "viewer")).status_code == 403


def test_export_settings_verify_and_run_commands(cli: Cli, node_db, start_node, target_db_url, tmp_path):
    from tests.replication_helpers import populate

    target = start_node(target_db_url, "c0c0c0c0c0c0")
    add_import_user(target.db, cameras=(node_db.installation_id,))
    data = populate(node_db, tmp_path / "in", events=3, files_per_event=2, loose_files=0)
    cli("export", "add", "events", "central", "--target-url", target.import_url, "--user", IMPORT_USER,
        "--password", IMPORT_PASSWORD, "--enable")
    shown = as_json(cli("--json", "export", "settings", "central", "--bwlimit", "2M", "--window", "any",
                        "--batch-bytes", "16M", "--verify-hours", "12"))["settings"]
    assert (shown["bwlimit"], shown.get("window"), shown["batch_bytes"], shown["verify_hours"]) == (
        2 * 1024 * 1024, None, 16 * 1024 * 1024, 12)
    assert "bwlimit" in cli("export", "settings", "central").output
    assert "not a rate" in cli("export", "settings", "central", "--bwlimit", "fast", expect=2).output
    first = as_json(cli("--json", "export", "run", "--until", "23:59"))
    assert first["marked"] == 3 and first["outcomes"]["failed"] == 0
    assert first["outcomes"]["complete"] in (3, 0)  # 0: at 23:59
    assert "0 re-queued" in cli("export", "verify", "central").output
    # The target loses its last two events.
    target.db.set_high_water_mark(data.events[-1].event_time, camera_id=node_db.installation_id)
    target.db.set_high_water_mark(data.events[0].event_time, camera_id=node_db.installation_id)
    report = as_json(cli("--json", "export", "verify", "central", expect=1))
    assert (report["entities"], report["lacking"], report["requeued"]) == (3, 2, 2)
    again = as_json(cli("--json", "export", "run"))
    assert (again["marked"], again["outcomes"]["complete"], again["outcomes"]["failed"]) == (0, 2, 0)
    assert len(target.db.search_events(model.EventSearch(limit=0))["events"]) == 3
