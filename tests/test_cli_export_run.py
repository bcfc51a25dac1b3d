"""``meteorpi export run`` names every state its tasks and configurations are left in: complete,
failed, confused, deferred, and held by disabled configurations (including one this run's
failures disabled), against a real target node, an unreachable port and a target that answers
outside the protocol."""

from __future__ import annotations

import json
import re
import threading
from contextlib import contextmanager
from typing import Iterator

from werkzeug.serving import make_server as make_wsgi_server

import meteorpi_model as model
from tests.replication_helpers import add_import_user, start_node, target_db_url  # noqa: F401
from tests.server_helpers import cheap_password_hashing  # noqa: F401
from tests.test_cli import Cli, as_json, cli, data_dir, node_db  # noqa: F401
from tests.test_cli_records import records  # noqa: F401

ISO_MS = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"


@contextmanager
def confusing_target() -> Iterator[str]:
    """A loopback HTTP server answering every import request with a state the protocol lacks."""

    def app(_environ, start_response):
        body = json.dumps({"state": "maybe-later"}).encode()
        start_response("200 OK", [("Content-Type", "application/json"),
                                  ("Content-Length", str(len(body)))])
        return [body]

    server = make_wsgi_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/import"
    finally:
        server.shutdown()
        server.server_close()


def test_export_run_reports_every_state(cli: Cli, node_db, records, start_node,
                                        target_db_url: str) -> None:
    target = start_node(target_db_url, "c0c0c0c0c0c0")
    add_import_user(target.db, cameras=tuple(node_db.get_cameras()))
    with confusing_target() as confusing_url:
        cli("export", "add", "events", "good", "--target-url", target.import_url, "--user", "importer",
            "--meta", "meteorpi:shower", "=", "PER", "--enable", input="import-secret-1\n")
        cli("export", "add", "files", "nowhere", "--target-url", "http://127.0.0.1:1/import",
            "--user", "u", "--semantic-type", "meteorpi:sky_clarity", "--enable", input="p\n")
        odd = as_json(cli("--json", "export", "add", "events", "odd", "--target-url", confusing_url,
                          "--user", "u", "--meta", "meteorpi:shower", "=", "SPO", "--enable",
                          input="p\n"))["config"]
        for _ in range(3):  # one more failure disables it (max_failures_before_disable=4)
            node_db.record_export_failure(odd["config_id"])
        held = as_json(cli("--json", "export", "add", "events", "held", "--target-url",
                           target.import_url, "--user", "importer", "--enable",
                           input="import-secret-1\n"))["config"]
        assert node_db.mark_entities_to_export(node_db.get_export_configuration(held["config_id"])) == 6
        cli("export", "disable", "held")

        result = as_json(cli("--json", "export", "run", expect=1))

    assert (result["marked"], result["outcomes"]) == (10, {"complete": 4, "failed": 1, "confused": 1})
    assert result["deferred"] == 4  # the unreachable target's four sky files, the failed one too
    assert result["next_export_time"] > model.utc_datetime_to_milliseconds(model.now()) + 60_000
    assert [(c["name"], c["pending"], c["disabled_by_this_run"]) for c in result["disabled_configs"]] \
        == [("odd", 2, True), ("held", 6, False)]

    text = cli("export", "run").stdout.splitlines()
    assert text[:2] == ["Queued 0 new tasks", "Exported: 0 complete, 0 failed, 0 confused"]
    assert re.fullmatch(rf"Pending: 4 deferred until {ISO_MS}, 8 held by disabled configurations",
                        text[2]), text
    assert text[3:] == ["Disabled configurations: odd (2 pending), held (6 pending)"]


def test_a_failing_run_says_what_failed_and_what_is_deferred(cli: Cli, records) -> None:
    cli("export", "add", "files", "nowhere", "--target-url", "http://127.0.0.1:1/import", "--user", "u",
        "--semantic-type", "meteorpi:sky_clarity", "--enable", input="p\n")
    lines = cli("export", "run", expect=1).stdout.splitlines()
    assert lines[:2] == ["Queued 4 new tasks", "Exported: 0 complete, 1 failed, 0 confused"]
    assert re.fullmatch(rf"Pending: 4 deferred until {ISO_MS}, 0 held by disabled configurations",
                        lines[2]), lines
    assert lines[3:] == ["Disabled configurations: none"]
    status = as_json(cli("--json", "export", "status"))["exports"][0]
    assert status["failure_count"] == 1 and status["pending"] == 4
