"""GET /metrics: Prometheus text format, requests by URL rule and status, latency, import
results per protocol, export queue and storage sizes; MPI_METRICS off / public / admin. Real
HTTP servers (and a real exporter pushing to one)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

import meteorpi_model as model
from meteorpi_server.settings import resolve
from tests.helpers import make_event, make_status, utc
from tests.test_packaging import run_python, without
from tests.replication_helpers import (SOURCE_ID, TARGET_ID, add_import_user, configure_export,  # noqa: F401
                                       exporter_for, populate, protocol, start_gunicorn, start_node,
                                       stop_process, target_db_url)
from tests.server_helpers import (ADMIN, IMPORTER, USER, Client, add_users,  # noqa: F401
                                  cheap_password_hashing, encode_search, make_server)

PUBLIC = {"MPI_METRICS": "public"}


def samples(text: str) -> dict[tuple[str, tuple], float]:
    """Every sample as {(name, sorted labels): value}."""
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


def value(found: dict, metric: str, **labels: str) -> float:
    return found.get((metric, tuple(sorted(labels.items()))), 0.0)


def scrape(http: Client, auth=None) -> dict:
    answer = http.get("/metrics", auth=auth)
    assert answer.status_code == 200, answer.text
    assert answer.headers["Content-Type"].startswith("text/plain; version=")
    return samples(answer.text)


def test_requests_are_counted_by_url_rule_and_status(make_server) -> None:
    server = make_server(PUBLIC)
    http = Client(server.base_url())
    make_status(server.db, None, utc(2015, 1, 1))
    search = encode_search({"limit": 5})
    for _ in range(2):
        assert http.get("/cameras").status_code == 200
    assert http.get(f"/events/{search}").status_code == 200
    assert http.get("/events/not-a-search").status_code == 400
    assert http.get("/no/such/route").status_code == 404
    answer = http.get("/metrics")
    found = samples(answer.text)
    assert value(found, "meteorpi_http_requests_total", route="/cameras", method="GET", status="200") == 2
    events = "/events/<anything:search>"
    assert value(found, "meteorpi_http_requests_total", route=events, method="GET", status="200") == 1
    assert value(found, "meteorpi_http_requests_total", route=events, method="GET", status="400") == 1
    assert value(found, "meteorpi_http_requests_total", route="unmatched", method="GET", status="404") == 1
    assert value(found, "meteorpi_http_request_duration_seconds_count", route="/cameras", method="GET") == 2
    assert value(found, "meteorpi_http_request_duration_seconds_bucket", route="/cameras", method="GET",
                 le="+Inf") == 2
    assert "not-a-search" not in answer.text and "limit" not in answer.text  # rules, never raw paths
    http.close()


def test_export_queue_and_storage_figures(make_server, tmp_path: Path) -> None:
    server = make_server(PUBLIC)
    db = server.db
    make_status(db, None, utc(2015, 1, 1))
    for minute in range(3):
        make_event(db, utc(2015, 1, 2, 20, minute))
    config = configure_export(db, "http://127.0.0.1:9/import", model.EventSearch(), name="central")
    db.mark_entities_to_export(config)
    db.record_export_failure(config.config_id)
    db.record_export_failure(config.config_id)
    http = Client(server.base_url())
    found = scrape(http)
    labels = {"config_id": config.config_id.hex, "name": "central"}
    assert value(found, "meteorpi_export_pending", **labels) == 3
    assert value(found, "meteorpi_export_failures", **labels) == 2
    report = db.storage_report()
    assert value(found, "meteorpi_file_store_content_bytes") == report["content_bytes"]
    assert value(found, "meteorpi_storage_capacity_bytes") == report["disk"]["capacity"]
    assert value(found, "meteorpi_database_bytes") > 0
    http.close()


@pytest.mark.parametrize("mode, auth, status", [
    ("admin", None, 403), ("admin", USER, 403), ("admin", IMPORTER, 403), ("admin", ADMIN, 200),
    ("public", None, 200), ("off", ADMIN, 404), (None, None, 403), (None, ADMIN, 200)])
def test_who_may_read_the_metrics(make_server, mode, auth, status: int) -> None:
    server = make_server(None if mode is None else {"MPI_METRICS": mode})
    add_users(server.db)
    http = Client(server.base_url())
    answer = http.get("/metrics", auth=auth)
    assert answer.status_code == status
    if status == 200:
        assert "meteorpi_http_requests_total" in answer.text
    else:
        assert answer.json()["message"]
    operations = http.get("/openapi.json").json()["paths"]
    assert ("/metrics" in operations) == (mode != "off")
    http.close()


def test_a_bad_setting_is_refused() -> None:
    with pytest.raises(ValueError, match="MPI_METRICS"):
        resolve({"MPI_METRICS": "everyone"})


def test_import_results_per_protocol(db_url: str, target_db_url: str, start_node, tmp_path: Path,
                                     protocol: str) -> None:
    target = start_node(target_db_url, TARGET_ID, PUBLIC)
    add_import_user(target.db)
    source = start_node(db_url, SOURCE_ID)
    data = populate(source.db, tmp_path / "incoming", events=2, files_per_event=1, loose_files=0)
    configure_export(source.db, target.import_url, model.EventSearch())
    source.db.mark_entities_to_export(source.db.get_export_configurations()[0])
    exporter_for(source.db, protocol=protocol).run_once()
    assert len(target.db.search_events(model.EventSearch())["events"]) == len(data.events)
    http = Client(target.base_url)
    found = scrape(http)
    name = "v1" if protocol == "2015" else "v2"
    accepted = value(found, "meteorpi_imports_total", protocol=name, result="accepted")
    assert accepted >= len(data.events)
    if name == "v2":
        assert accepted == len(data.events)  # one per entity of the batches
    assert value(found, "meteorpi_imports_total", protocol=name, result="rejected") == 0
    # Refused requests count as rejected.
    auth = ("importer", "import-secret-1")
    assert http.post("/import", data=b"{not json", auth=auth).status_code == 400
    assert http.post("/import/v2/batch", data=b"garbage", auth=auth).status_code == 400
    found = scrape(http)
    assert value(found, "meteorpi_imports_total", protocol="v1", result="rejected") == 1
    assert value(found, "meteorpi_imports_total", protocol="v2", result="rejected") == 1
    http.close()


def test_gunicorn_workers_add_up_in_multiprocess_mode(db_url: str, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """Two gunicorn workers, PROMETHEUS_MULTIPROC_DIR set: whichever worker is scraped reports
    the requests of both."""
    multiprocess_dir = tmp_path / "prometheus"
    multiprocess_dir.mkdir()
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(multiprocess_dir))
    monkeypatch.setenv("MPI_METRICS", "public")
    process, base_url = start_gunicorn(db_url, str(tmp_path / "files"), workers=2,
                                       log_path=tmp_path / "gunicorn.log")
    try:
        for _ in range(40):  # a new connection each: the requests spread over both workers
            assert requests.get(f"{base_url}/cameras", timeout=30, headers={"Connection": "close"}).ok
        workers = {path.stem.rsplit("_", 1)[1] for path in multiprocess_dir.glob("counter_*.db")}
        assert len(workers) == 2
        for _ in range(4):
            answer = requests.get(f"{base_url}/metrics", timeout=30, headers={"Connection": "close"})
            found = samples(answer.text)
            assert value(found, "meteorpi_http_requests_total", route="/cameras", method="GET", status="200") == 40
            assert value(found, "meteorpi_http_request_duration_seconds_count", route="/cameras", method="GET") == 40
    finally:
        stop_process(process)


def test_a_camera_node_without_the_server_extra_serves_the_rest(tmp_path: Path) -> None:
    """Without prometheus-client and Pillow there is no /metrics and no thumbnail route, and
    nothing else is missing."""
    code = without("PIL", "prometheus_client") + textwrap.dedent("""
        from meteorpi_server import MeteorServer
        from meteorpi_server.app import MeteorApp
        from meteorpi_fdb import MeteorDatabase
        db = MeteorDatabase(sys.argv[1], sys.argv[2], installation_id="aabbccddeeff")
        app = MeteorApp(db, {"MPI_METRICS": "public"})
        MeteorServer.add_all_routes(app)
        print(sorted(rule.rule for rule in app.app.url_map.iter_rules()))
        db.close()
    """)
    result = run_python(code, str(tmp_path / "node.db"), str(tmp_path / "files"))
    assert result.returncode == 0, result.stderr
    assert "/metrics" not in result.stdout and "/files/thumbnail" not in result.stdout
    for rule in ("/activity/events/<anything:search>", "/cameras/health", "/health", "/files/content/<file_id>"):
        assert repr(rule) in result.stdout
