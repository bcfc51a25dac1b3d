"""A backend the machine cannot run is skipped with its reason locally, and fails the run in CI
(a pytest subprocess pointed at a Firebird port where nothing listens)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.server_helpers import free_port

ROOT = Path(__file__).resolve().parent.parent
# Any quick test that runs on every backend.
PROBE = "tests/test_fidelity_2015.py::test_a_disabled_configuration_marks_nothing"


def run_suite(**environ: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "MPI_TEST_BACKENDS", "PYTEST_XDIST_WORKER")}
    env.update(MPI_FIREBIRD_MODE="server", MPI_TEST_FIREBIRD_PORT=str(free_port()), **environ)
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-k", "firebird",
                           "-o", "addopts=-ra", PROBE], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300)


def test_locally_a_missing_backend_is_skipped_with_the_reason():
    result = run_suite()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SKIPPED" in result.stdout and "firebird backend not available" in result.stdout
    assert "no server" in result.stdout and "1 skipped" in result.stdout


@pytest.mark.parametrize("environ", [{"CI": "true"}, {"MPI_TEST_BACKENDS": "sqlite,firebird"}])
def test_in_ci_or_when_named_a_missing_backend_fails_the_run(environ):
    result = run_suite(**environ)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "firebird backend not available" in result.stdout and "1 error" in result.stdout
