"""A camera node's base install brings no server, PostgreSQL or demo packages, and what needs
an extra says which one when it is missing."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXTRAS_ONLY = {"pillow": "demo", "gunicorn": "server", "psycopg": "postgresql", "schemathesis": "test",
               "boto3": "s3"}


def _name(requirement: str) -> str:
    for stop in "[<>=!~; ":
        requirement = requirement.split(stop, 1)[0]
    return requirement.lower()


def test_heavy_packages_are_extras_not_base_dependencies():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    base = {_name(r) for r in project["dependencies"]}
    assert not base & set(EXTRAS_ONLY)
    for package, extra in EXTRAS_ONLY.items():
        assert package in {_name(r) for r in project["optional-dependencies"][extra]}


def test_scripts_setup_installs_every_extra_the_tests_and_demo_need():
    setup = (ROOT / "scripts" / "setup").read_text()
    for extra in ("test", "firebird", "server", "postgresql", "demo", "s3"):
        assert extra in setup.split('-e ".[', 1)[1].split("]", 1)[0].split(",")


def without(*modules: str) -> str:
    """Python source that makes ``modules`` unimportable, as on a base install."""
    return "import sys\n" + "".join(f"sys.modules[{m!r}] = None\n" for m in modules)


def run_python(code: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                          timeout=120, cwd=ROOT)


def test_the_cli_and_server_work_without_the_extras(tmp_path):
    code = without("PIL", "gunicorn", "psycopg", "boto3") + textwrap.dedent("""
        from meteorpi_cli import main
        from meteorpi_server import MeteorServer
        from meteorpi_fdb import MeteorDatabase
        db = MeteorDatabase(sys.argv[1], sys.argv[2], installation_id="aabbccddeeff")
        print(sorted(main.commands)[:3], db.get_cameras())
        db.close()
    """)
    result = run_python(code, str(tmp_path / "node.db"), str(tmp_path / "files"))
    assert result.returncode == 0, result.stderr
    assert "[]" in result.stdout


def test_meteorpi_demo_without_pillow_names_the_extra(tmp_path):
    code = without("PIL") + "from meteorpi_cli import main\nmain()"
    result = run_python(code, "--data-dir", str(tmp_path / "data"), "demo", "--nights", "1")
    assert result.returncode == 1
    assert "install meteorpi[demo]" in result.stderr and "Traceback" not in result.stderr
    assert not list((tmp_path / "data").glob("files/*/*"))  # nothing stored


@pytest.mark.parametrize("url", ["postgresql+psycopg://postgres@127.0.0.1/none", "postgresql://x@h/db"])
def test_a_postgresql_url_without_psycopg_names_the_extra(url):
    code = without("psycopg") + textwrap.dedent("""
        from meteorpi_fdb.engine import create_engine_for
        from meteorpi_fdb.extras import MissingExtra
        try:
            create_engine_for(sys.argv[1])
        except MissingExtra as error:
            print(error)
    """)
    result = run_python(code, url)
    assert result.returncode == 0, result.stderr
    assert "install meteorpi[postgresql]" in result.stdout


def test_a_bucket_file_store_without_boto3_names_the_extra(tmp_path):
    code = without("boto3") + textwrap.dedent("""
        from meteorpi_fdb import MeteorDatabase
        from meteorpi_fdb.extras import MissingExtra
        try:
            MeteorDatabase(sys.argv[1], "s3://bucket/prefix", installation_id="aabbccddeeff")
        except MissingExtra as error:
            print(error)
    """)
    result = run_python(code, str(tmp_path / "node.db"))
    assert result.returncode == 0, result.stderr
    assert "install meteorpi[s3]" in result.stdout
