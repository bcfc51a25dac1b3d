"""Every shell example in README.md and docs/*.md runs as written against a real demo node.

Each ```sh (or ```bash, ```shell) block is run with ``bash -e`` in a workspace of its own
document: the current directory holds ``data/`` (a copy of a node filled by ``meteorpi demo
--nights 1``: the demo's four cameras, among them b827eb1e2feb, on the night of 2024-08-11),
``.venv`` (this virtual environment, so ``. .venv/bin/activate`` works and ``meteorpi`` is on
PATH as after activating it) and the files an example assumes the reader has (WORKSPACE_FILES).
A document's blocks run in order in one workspace, as a reader would type them. Standard input
is a pipe of PASSWORD lines, so a command that asks for a password reads one line.

Addresses are rewritten to real nodes on loopback ports: ``http://127.0.0.1:8080`` and
``http://localhost:8080`` to a served copy of the demo node; ``http://central:8080``,
``https://central.example.org`` (any ``central`` host) to a second node whose users ``importer``
and ``node7`` have the import role and the password PASSWORD.

A block that cannot run here, or needs handling, is listed in SPECIAL under (document, a piece
of text found in that block only) with the reason. A new block that fails and is not listed
fails the test; so does an entry that no longer matches exactly one block.
"""

from __future__ import annotations

import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest
import requests

ROOT = Path(__file__).resolve().parents[1]
DOCUMENTS = ["README.md", *sorted(f"docs/{p.name}" for p in (ROOT / "docs").glob("*.md"))]
BIN = Path(sys.executable).parent
METEORPI = str(BIN / "meteorpi")
PASSWORD = "doc-example-password-1"
IMPORT_USERS = ("importer", "node7")
BLOCK_TIMEOUT = 300
ENV = {**os.environ, "MPI_ARGON2_PROFILE": "test", "COLUMNS": "200",
       "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", "VIRTUAL_ENV": sys.prefix}
for _name in ("METEORPI_DATA_DIR", "METEORPI_DB", "METEORPI_EXPORT_PASSWORD", "MPI_CONFIG"):
    ENV.pop(_name, None)


@dataclass(frozen=True)
class Special:
    """How to treat a block that a plain run cannot check."""

    reason: str
    run: bool = True           # False: not runnable here (the reason says why)
    empty_node: bool = False   # runs in a workspace whose ./data is empty (e.g. `meteorpi demo`)
    serves: bool = False       # serves until stopped: `--port 8080` becomes a free port, the
    #                            server must answer /health, then it is stopped


SPECIAL: dict[tuple[str, str], Special] = {
    ("README.md", "scripts/test"): Special(
        "scripts/demo installs and serves on port 8080 until stopped, scripts/test installs "
        "database servers and runs this whole suite", run=False),
    ("README.md", "gunicorn --workers"): Special(
        "production: gunicorn on every interface against a PostgreSQL host named db", run=False),
    ("docs/http-api.md", "gunicorn --workers"): Special(
        "production: gunicorn on every interface against a PostgreSQL host named db-host", run=False),
    ("docs/firebird.md", "apt-get install"): Special(
        "installs and starts a Firebird server as root", run=False),
    ("docs/cli.md", "data serve --port 8080"): Special(
        "fills a new node with the demo network, then serves it", empty_node=True, serves=True),
    ("docs/cli.md", "demo --cameras"): Special("fills a new node", empty_node=True),
    ("docs/cli.md", "serve --demo"): Special("serves until stopped", serves=True),
}


def _manifest_files(directory: Path) -> None:
    """``incoming/``: a manifest of one sky snapshot and one event with an image, for the
    demo camera b827eb1e2feb."""
    (directory / "sky").mkdir(parents=True)
    (directory / "m").mkdir()
    (directory / "sky" / "20240812_0100.png").write_bytes(b"\x89PNG\r\n\x1a\n sky")
    (directory / "m" / "0123.png").write_bytes(b"\x89PNG\r\n\x1a\n meteor")
    (directory / "manifest.yaml").write_text(
        "camera_id: b827eb1e2feb\n"
        "files:\n"
        "  - {path: sky/20240812_0100.png, semantic_type: meteorpi:sky_clarity,"
        " time: 2024-08-12T01:00:00Z, meta: {meteorpi:sky_clarity: 87.5}}\n"
        "events:\n"
        "  - time: 2024-08-12T01:23:45.678Z\n"
        "    meta: {meteorpi:duration: 0.82, meteorpi:shower: PER}\n"
        "    files: [{path: m/0123.png, semantic_type: meteorpi:meteor_image}]\n", encoding="utf-8")


def _ca_bundle(path: Path) -> None:
    import certifi

    shutil.copyfile(certifi.where(), path)


#: files the examples expect the reader to have, by name in the workspace: a function making it
WORKSPACE_FILES = {"incoming": _manifest_files, "central-ca.pem": _ca_bundle}


# -- the blocks ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Block:
    document: str
    line: int
    text: str

    def __str__(self) -> str:
        return f"{self.document}:{self.line}"


_FENCE = re.compile(r"^```(sh|bash|shell)\s*$\n(.*?)^```\s*$", re.MULTILINE | re.DOTALL)


def shell_blocks(document: str) -> list[Block]:
    """The shell blocks of a document, in order, with the line each starts on."""
    text = (ROOT / document).read_text(encoding="utf-8")
    return [Block(document, text.count("\n", 0, match.start()) + 1, match.group(2))
            for match in _FENCE.finditer(text)]


def special(block: Block) -> Special | None:
    found = [how for (document, piece), how in SPECIAL.items()
             if document == block.document and piece in block.text]
    assert len(found) <= 1, f"{block} matches {len(found)} SPECIAL entries"
    return found[0] if found else None


def test_every_special_entry_names_exactly_one_block() -> None:
    for (document, piece), how in SPECIAL.items():
        assert how.reason, (document, piece)
        matching = [b for b in shell_blocks(document) if piece in b.text]
        assert len(matching) == 1, f"SPECIAL entry {(document, piece)} matches {len(matching)} blocks"


def test_the_extractor_finds_the_examples() -> None:
    blocks = [block for document in DOCUMENTS for block in shell_blocks(document)]
    assert any("meteorpi export add" in b.text for b in blocks if b.document == "README.md")
    assert all(b.text.strip() for b in blocks)
    first = shell_blocks("README.md")[0]
    assert (first.line, first.text.split()[0]) == (3, "scripts/demo")


# -- nodes --------------------------------------------------------------------------------

def _start_server(args: list[str], cwd: Path) -> tuple[subprocess.Popen, str]:
    """Start a process that prints "Serving MeteorPi on URL"; return it and URL."""
    process = subprocess.Popen(args, cwd=cwd, env=ENV, stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               start_new_session=True)
    lines: queue.Queue[str | None] = queue.Queue()
    seen: list[str] = []

    def read() -> None:
        for line in process.stdout:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=read, daemon=True).start()
    deadline = time.monotonic() + BLOCK_TIMEOUT
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=1)
        except queue.Empty:
            continue
        if line is None:
            break
        seen.append(line)
        match = re.search(r"Serving MeteorPi on (http://\S+?)/?\s", line)
        if match:
            return process, match.group(1)
    _stop(process)
    raise AssertionError(f"{' '.join(args)} did not start serving:\n{''.join(seen)}")


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)
    if process.stdout is not None:
        process.stdout.close()


def _demo_cameras(data_dir: Path) -> list[str]:
    """The camera ids of the demo node in ``data_dir``."""
    from meteorpi_fdb import MeteorDatabase

    with MeteorDatabase(str(data_dir / "meteorpi.db"), str(data_dir / "files")) as db:
        return db.get_cameras()


def _meteorpi(*args: str, stdin: str | None = None) -> None:
    done = subprocess.run([METEORPI, *args], input=stdin, capture_output=True, text=True, env=ENV,
                          timeout=300)
    assert done.returncode == 0, done.stderr


@dataclass
class Nodes:
    demo: Path          # the demo node, never changed: each document gets a copy
    node_url: str       # a served copy of it (http://127.0.0.1:8080 in the documents)
    central_url: str    # an empty node with import users (http://central:8080)


@pytest.fixture(scope="module")
def nodes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Nodes]:
    base = tmp_path_factory.mktemp("doc-nodes")
    demo = base / "demo"
    _meteorpi("--data-dir", str(demo), "demo", "--nights", "1", "--admin-password", PASSWORD)
    shutil.copytree(demo, base / "served")
    central = base / "central"
    _meteorpi("--data-dir", str(central), "db", "upgrade")
    cameras = _demo_cameras(demo)
    for user in IMPORT_USERS:
        _meteorpi("--data-dir", str(central), "user", "add", user, "--role", "import",
                  stdin=PASSWORD + "\n")
        for camera_id in cameras:  # cameras belong to users: the central node grants them
            _meteorpi("--data-dir", str(central), "user", "cameras", "grant", user, camera_id)
    started = []
    try:
        for directory in (base / "served", central):
            started.append(_start_server([METEORPI, "--data-dir", str(directory), "serve",
                                          "--port", "0"], base))
        yield Nodes(demo, started[0][1], started[1][1])
    finally:
        for process, _url in started:
            _stop(process)


# -- running ------------------------------------------------------------------------------

def rewrite(text: str, nodes: Nodes, how: Special | None) -> str:
    """The block with the documents' addresses pointing at the test's nodes."""
    text = re.sub(r"https?://(?:127\.0\.0\.1|localhost):8080", nodes.node_url, text)
    text = re.sub(r"https?://central(?:\.[a-z0-9.-]+)?(?::\d+)?", nodes.central_url, text)
    if how is not None and how.serves:
        text = re.sub(r"--port[ =]8080\b", "--port 0", text)
    return text


def _workspace(directory: Path, nodes: Nodes, empty: bool) -> Path:
    directory.mkdir(parents=True)
    if not empty:
        shutil.copytree(nodes.demo, directory / "data")
    (directory / ".venv").symlink_to(sys.prefix, target_is_directory=True)
    for name, make in WORKSPACE_FILES.items():
        make(directory / name)
    return directory


def _run(block: Block, text: str, cwd: Path) -> str | None:
    """Run a block to its end; None if it succeeded, else what went wrong."""
    try:
        done = subprocess.run(["bash", "-e", "-c", text], cwd=cwd, env=ENV, capture_output=True,
                              text=True, input=(PASSWORD + "\n") * 50, timeout=BLOCK_TIMEOUT,
                              start_new_session=True)
    except subprocess.TimeoutExpired:
        return f"no exit after {BLOCK_TIMEOUT} s"
    if done.returncode == 0:
        return None
    return f"exit code {done.returncode}\n{_tail(done.stdout + done.stderr)}"


def _run_server(block: Block, text: str, cwd: Path) -> str | None:
    """Run a block that ends by serving: it must answer /health; then it is stopped."""
    process = None
    try:
        process, url = _start_server(["bash", "-e", "-c", text], cwd)
        answer = requests.get(url + "/health", timeout=30)
        if answer.status_code != 200:
            return f"GET {url}/health answered {answer.status_code}"
        return None
    except AssertionError as error:
        return _tail(str(error))
    finally:
        if process is not None:
            _stop(process)


def _tail(output: str, lines: int = 25) -> str:
    return "\n".join(output.rstrip().splitlines()[-lines:])


def run_blocks(blocks: list[Block], nodes: Nodes, directory: Path) -> list[str]:
    """Run blocks in order in one workspace (a fresh one where SPECIAL says so); a
    description of each failure."""
    shared = None
    failures = []
    for index, block in enumerate(blocks):
        how = special(block)
        if how is not None and not how.run:
            continue
        if how is not None and how.empty_node:
            cwd = _workspace(directory / f"empty-{index}", nodes, empty=True)
        else:
            shared = shared or _workspace(directory / "workspace", nodes, empty=False)
            cwd = shared
        text = rewrite(block.text, nodes, how)
        problem = (_run_server if how is not None and how.serves else _run)(block, text, cwd)
        if problem is not None:
            failures.append(f"{block}:\n{block.text.rstrip()}\n--- {problem}")
    return failures


# docs/cli.md alone runs some hundred `meteorpi` processes: minutes on a loaded 2-core machine.
@pytest.mark.timeout(1200)
@pytest.mark.parametrize("document", DOCUMENTS)
def test_the_shell_examples_run_as_written(document: str, nodes: Nodes, tmp_path: Path) -> None:
    failures = run_blocks(shell_blocks(document), nodes, tmp_path)
    assert not failures, "examples that do not run as written:\n\n" + "\n\n".join(failures)


def test_an_unlisted_failing_block_is_reported(nodes: Nodes, tmp_path: Path) -> None:
    old_readme = Block("README.md", 80, "meteorpi export add --type event --target "
                                        "http://central:8080/import --user node7 --enable\n")
    fine = Block("README.md", 90, "meteorpi export list\n")
    failures = run_blocks([old_readme, fine], nodes, tmp_path)
    assert len(failures) == 1 and failures[0].startswith("README.md:80:\n")
    assert "exit code 2" in failures[0] and "No such option '--type'" in failures[0]
