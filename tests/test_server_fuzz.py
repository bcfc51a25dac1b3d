"""Property-based fuzzing of the live server from its own /openapi.json (schemathesis).

Every operation gets schema-conforming and schema-violating requests (a bounded number, so the
run stays well under a minute per backend), authenticated as a user with every role so that
bodies reach the handlers. No request may produce a 5xx, every answer must use a documented
status code and content type, and JSON answers must match the documented schemas.

Search strings are JSON inside a path segment, which OpenAPI tools cannot generate from a
schema; a second test generates searches from the EventSearch / FileRecordSearch schemas
(positive and negative) and sends them twice-encoded, as the 2015 client does.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, assume, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (content_type_conformance,
                                               response_schema_conformance,
                                               status_code_conformance)

from meteorpi_server.openapi import DOCUMENT, _shape
from tests.conftest import INSTALLATION_ID
from tests.helpers import make_event, make_file, make_status, utc
from tests.server_helpers import assert_schema, cheap_password_hashing, make_server  # noqa: F401

FUZZER = ("fuzzer-with-every-role", "fuzzer-password")
EXAMPLES = 12
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]
MODES = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
HYPOTHESIS = settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
                      phases=[Phase.explicit, Phase.generate],
                      suppress_health_check=list(HealthCheck))


@pytest.fixture
def populated(make_server, tmp_path: Path):
    """A server with a user holding every role, a camera status, files and an event."""
    meteor_server = make_server(settings={"MPI_MAX_PAGE_SIZE": 20})
    db = meteor_server.db
    db.create_or_update_user(*FUZZER, ["user", "camera_admin", "import"])
    make_status(db, INSTALLATION_ID, utc(2015, 1, 1))
    files = [make_file(db, tmp_path, utc(2015, 1, 2, hour), file_name=f"{hour}.bin") for hour in range(3)]
    make_event(db, utc(2015, 1, 3), INSTALLATION_ID, files=files)
    session = requests.Session()
    session.auth = FUZZER
    yield meteor_server, session
    session.close()


def _has_inputs(operation: Any) -> bool:
    return "{" in operation.path or operation.method.upper() in ("POST", "PUT")


def _collect(failures: list[str], label: str, run: Any) -> None:
    try:
        run()
    except Unsatisfiable:
        if "negative" not in label:  # a negative run may find nothing to negate (a bare string)
            failures.append(f"{label}: no input could be generated")
    except (Exception, BaseExceptionGroup) as e:  # report every operation's failure at the end
        failures.append(f"{label}: {str(e)[:3000]}")


def test_fuzzing_the_documented_api_finds_no_server_error(populated) -> None:
    meteor_server, session = populated
    base_url = meteor_server.base_url().rstrip("/")
    schema = schemathesis.openapi.from_url(base_url + "/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    # Every documented operation but the schema itself, which schemathesis leaves out.
    assert len(operations) == 47 and "GET /openapi.json" not in {op.label for op in operations}
    failures: list[str] = []
    for operation in operations:
        for mode in MODES if _has_inputs(operation) else MODES[:1]:
            @HYPOTHESIS
            @given(case=operation.as_strategy(generation_mode=mode))
            def run(case) -> None:
                response = case.call(base_url=base_url, session=session, timeout=30)
                case.validate_response(response, checks=CHECKS)

            _collect(failures, f"{operation.label} ({mode.value})", run)
    assert not failures, "\n\n".join(failures)
    assert meteor_server.db.get_user(*FUZZER).user_id == FUZZER[0]


def _probe_schema(component: str) -> Any:
    """A one-operation OpenAPI document whose body is ``component``, to generate values of it."""
    return schemathesis.openapi.from_dict({
        "openapi": "3.0.3", "info": {"title": "probe", "version": "1"},
        "paths": {"/probe": {"post": {
            "requestBody": {"required": True, "content": {"application/json": {
                "schema": {"$ref": f"#/components/schemas/{component}"}}}},
            "responses": {"200": {"description": "ok"}}}}},
        "components": DOCUMENT["components"]})


@pytest.mark.parametrize("route, component, result", [
    ("events", "EventSearch", "Event"), ("files", "FileRecordSearch", "FileRecord"),
    ("coincidences", "CoincidenceSearch", "Coincidence")])
def test_fuzzing_searches_finds_no_server_error(populated, route: str, component: str,
                                                result: str) -> None:
    meteor_server, session = populated
    base_url = meteor_server.base_url().rstrip("/")
    operation = _probe_schema(component)["/probe"]["POST"]
    failures: list[str] = []
    statuses: set[int] = set()
    for mode in MODES:
        @HYPOTHESIS
        @given(case=operation.as_strategy(generation_mode=mode))
        def run(case) -> None:
            body = case.body
            text = (body.decode("utf-8", "replace") if isinstance(body, bytes)
                    else json.dumps(body, separators=(",", ":")))
            encoded = quote_plus(quote_plus(text))
            assume(len(encoded) < 16_000)
            response = session.get(f"{base_url}/{route}/{encoded}", timeout=30)
            statuses.add(response.status_code)
            assert response.status_code in (200, 400), (text, response.status_code, response.text)
            body = response.json()
            if response.status_code == 400:
                assert set(body) == {"message"}
            else:
                assert isinstance(body["count"], int) and len(body[route]) <= 20
                for item in body[route]:
                    assert_schema(item, result)

        _collect(failures, f"{route} ({mode.value})", run)
    assert not failures, "\n\n".join(failures)
    assert statuses == {200, 400}


def test_documented_routes_are_exactly_the_served_routes(make_server) -> None:
    meteor_server = make_server()
    document = requests.get(meteor_server.base_url() + "openapi.json", timeout=10).json()
    documented = {(_shape(path), method.upper()) for path, operations in document["paths"].items()
                  for method in operations}
    served = {(_shape(rule.rule), method) for rule in meteor_server.meteor_app.app.url_map.iter_rules()
              if rule.endpoint != "static" for method in rule.methods - {"HEAD", "OPTIONS"}}
    assert documented == served
    assert ("/import", "POST") in documented and ("/files/content/<>", "GET") in documented
