"""``--meta KEY OP VALUE`` comparisons: ``<`` and ``>`` strict, ``<=``, ``>=`` and the named
types inclusive, on numbers and dates, checked on stored values at the boundary on every
backend, locally and through a server. The wire keeps SPEC section 3's inclusive types."""

from __future__ import annotations

import math
from datetime import timedelta

import pytest

import meteorpi_model as model
from meteorpi_cli.search import parse_meta_constraint
from tests.helpers import make_event, make_status, utc
from tests.server_helpers import cheap_password_hashing, make_server  # noqa: F401
from tests.test_cli import CAMERA, Cli, as_json, cli, data_dir, node_db  # noqa: F401

ONE = 1.0
BELOW, ABOVE = math.nextafter(ONE, -math.inf), math.nextafter(ONE, math.inf)
T = utc(2024, 8, 12, 1, 0, 0)
MS = timedelta(milliseconds=1)


@pytest.mark.parametrize("op, value, expected", [
    (">", "1", model.MetaConstraint("greater", "meteorpi:x", ABOVE)),
    ("gt", "1", model.MetaConstraint("greater", "meteorpi:x", ABOVE)),
    ("<", "1", model.MetaConstraint("less", "meteorpi:x", BELOW)),
    (">=", "1", model.MetaConstraint("greater", "meteorpi:x", 1)),
    ("<=", "1", model.MetaConstraint("less", "meteorpi:x", 1)),
    (">", "2024-08-12T01:00:00Z", model.MetaConstraint("after", "meteorpi:x", T + MS)),
    ("<", "2024-08-12T01:00:00Z", model.MetaConstraint("before", "meteorpi:x", T - MS)),
    (">=", "2024-08-12T01:00:00Z", model.MetaConstraint("after", "meteorpi:x", T)),
    ("<=", "2024-08-12T01:00:00Z", model.MetaConstraint("before", "meteorpi:x", T)),
    # times are truncated to the stored millisecond first
    (">", "2024-08-12T01:00:00.0009", model.MetaConstraint("after", "meteorpi:x", T + MS)),
    ("<", "2024-08-12T01:00:00.0009", model.MetaConstraint("before", "meteorpi:x", T - MS)),
])
def test_strict_bounds_become_the_next_representable_inclusive_bound(op, value, expected) -> None:
    constraint = parse_meta_constraint("meteorpi:x", op, value)
    assert constraint == expected
    assert constraint.as_dict()["type"] in ("less", "greater", "before", "after")


@pytest.mark.parametrize("op, value, message", [
    (">", "1.7976931348623157e308", "no number is beyond"),
    ("<", "bright", "not a number or a time"),
    ("greater", "2024-08-12", "not a number"),
])
def test_bounds_that_cannot_be_expressed(op, value, message) -> None:
    with pytest.raises(ValueError, match=message):
        parse_meta_constraint("meteorpi:x", op, value)


@pytest.fixture
def boundary(node_db, tmp_path) -> dict[str, str]:
    """Events whose number is just below, at and just above 1, and whose date is 1 ms before,
    at and 1 ms after T: the event id of each, by name."""
    make_status(node_db, CAMERA, utc(2024, 8, 1))
    values = {"below": (BELOW, T - MS), "at": (ONE, T), "above": (ABOVE, T + MS)}
    ids = {}
    for i, (name, (number, date)) in enumerate(values.items()):
        event = make_event(node_db, utc(2024, 8, 12, 2, i), CAMERA, meta=[
            model.Meta("meteorpi:brightness", number), model.Meta("meteorpi:peak_time", date)])
        ids[event.event_id.hex] = name
    return ids


CASES = [
    ("meteorpi:brightness", ">", "1", {"above"}),
    ("meteorpi:brightness", ">=", "1", {"at", "above"}),
    ("meteorpi:brightness", "greater", "1", {"at", "above"}),
    ("meteorpi:brightness", "<", "1", {"below"}),
    ("meteorpi:brightness", "<=", "1", {"below", "at"}),
    ("meteorpi:brightness", "less", "1", {"below", "at"}),
    ("meteorpi:peak_time", ">", "2024-08-12T01:00:00Z", {"above"}),
    ("meteorpi:peak_time", ">=", "2024-08-12T01:00:00Z", {"at", "above"}),
    ("meteorpi:peak_time", "after", "2024-08-12T01:00:00Z", {"at", "above"}),
    ("meteorpi:peak_time", "<", "2024-08-12T01:00:00Z", {"below"}),
    ("meteorpi:peak_time", "<=", "2024-08-12T01:00:00Z", {"below", "at"}),
    ("meteorpi:peak_time", "before", "2024-08-12T01:00:00Z", {"below", "at"}),
]


def test_operators_on_stored_values_at_the_boundary(cli: Cli, boundary: dict[str, str]) -> None:
    for key, op, value, expected in CASES:
        found = as_json(cli("--json", "search", "events", "--meta", key, op, value, "--limit", "0"))
        assert {boundary[e["event_id"]] for e in found["events"]} == expected, (key, op, value)


def test_operators_through_a_server(cli: Cli, boundary: dict[str, str], make_server) -> None:
    url = make_server().base_url()
    for key, op, value, expected in CASES:
        found = as_json(cli("--json", "search", "events", "--url", url, "--meta", key, op, value))
        assert {boundary[e["event_id"]] for e in found["events"]} == expected, (key, op, value)
