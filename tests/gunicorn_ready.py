"""gunicorn settings for tests (``gunicorn -c tests/gunicorn_ready.py ...``).

Each worker, once it has loaded the app (built its ``MeteorDatabase``; 2-3 s on Firebird),
creates the file ``$MPI_TEST_READY_DIR/<pid>``. A test waits until as many live workers have
done so as it started, instead of guessing how long a worker takes to become able to answer.
"""

from __future__ import annotations

import os
from pathlib import Path


def post_worker_init(worker) -> None:
    """gunicorn hook: called in the worker after the application is loaded."""
    directory = os.environ.get("MPI_TEST_READY_DIR")
    if not directory:
        return
    try:
        Path(directory, str(worker.pid)).touch()
    except OSError:  # the test has stopped watching (directory removed); keep serving
        pass
