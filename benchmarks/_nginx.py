"""nginx in front of a MeteorPi server, configured with the documented example of
docs/http-api.md (so that the configuration measured and tested is the one users copy).

Used by ``benchmarks.http_search`` and tests/test_content_offload.py.
"""

from __future__ import annotations

import os
import re
import shutil
import textwrap
from pathlib import Path

DOCUMENT = Path(__file__).parent.parent / "docs" / "http-api.md"


def documented_block() -> str:
    """The ```nginx example of docs/http-api.md (lines for nginx's ``http`` block)."""
    match = re.search(r"```nginx\n(.*?)```", DOCUMENT.read_text(encoding="utf-8"), re.DOTALL)
    if match is None:
        raise RuntimeError("docs/http-api.md lost its nginx example")
    return match.group(1)


def nginx_config(directory: Path, port: int, app_port: int, store: str, extra_locations: str = "") -> Path:
    """A complete configuration under ``directory``: the documented example listening on
    127.0.0.1:``port``, proxying to the app on ``app_port``, with the file store ``store``
    (``extra_locations`` go into its ``server`` block)."""
    for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi", "cache"):
        (directory / name).mkdir(parents=True, exist_ok=True)
    block = documented_block().replace("listen 80;", f"listen 127.0.0.1:{port};\n    {extra_locations}")
    block = block.replace("127.0.0.1:8080", f"127.0.0.1:{app_port}")
    block = block.replace("/srv/meteorpi/files/", f"{store}/")
    block = block.replace("/var/cache/nginx/meteorpi", f"{directory}/cache")
    user = "user root;" if os.geteuid() == 0 else ""  # workers must read the caller's files
    config = directory / "nginx.conf"
    config.write_text(textwrap.dedent(f"""
        {user}
        daemon off;
        worker_processes 1;
        pid {directory}/nginx.pid;
        error_log stderr warn;
        events {{ worker_connections 256; }}
        http {{
            access_log off;
            sendfile on;
            client_body_temp_path {directory}/client_body;
            proxy_temp_path {directory}/proxy;
            fastcgi_temp_path {directory}/fastcgi;
            uwsgi_temp_path {directory}/uwsgi;
            scgi_temp_path {directory}/scgi;
        """) + textwrap.indent(block, "    ") + "}\n")
    return config


def nginx_command(directory: Path, config: Path) -> list[str]:
    """The command line of an nginx in the foreground with ``config``."""
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not os.path.exists(nginx):
        raise RuntimeError("nginx is missing: run scripts/services (installs Debian's nginx)")
    return [nginx, "-e", "stderr", "-p", str(directory), "-c", str(config)]
