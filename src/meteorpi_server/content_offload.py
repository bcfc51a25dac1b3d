"""File content sent by the web server in front of the app (``MPI_CONTENT_OFFLOAD``).

The app still finds the record, checks that its content exists, answers conditional requests
and sets every header (type, ETag, disposition, sandboxing); only the bytes come from the web
server, which reads the file by itself (zero-copy ``sendfile``, byte ranges):

- ``x-accel-redirect`` (nginx): ``X-Accel-Redirect: <MPI_CONTENT_OFFLOAD_PREFIX><name>``, a URI
  of an ``internal`` location whose ``alias`` is the file store (docs/http-api.md);
- ``x-sendfile`` (Apache ``mod_xsendfile``, lighttpd): ``X-Sendfile: <absolute path>``.
"""

from __future__ import annotations

import os
import unicodedata
from urllib.parse import quote

from flask import Response, request


def offloaded(mode: str, prefix: str, path: str, store_root: str, mime_type: str,
              md5: str | None, file_name: str | None) -> Response:
    """The answer that hands ``path`` (content inside ``store_root``) to the web server, or
    304 when the client's copy is current."""
    response = Response(status=304 if md5 and request.if_none_match.contains(md5) else 200)
    if md5:
        response.set_etag(md5)
    if response.status_code == 200:
        response.headers["Content-Type"] = mime_type
        if mode == "x-accel-redirect":
            relative = os.path.relpath(path, store_root).replace(os.sep, "/")
            response.headers["X-Accel-Redirect"] = prefix.rstrip("/") + "/" + quote(relative)
        else:
            response.headers["X-Sendfile"] = path
        if file_name is not None:
            response.headers["Content-Disposition"] = _inline_disposition(file_name)
    return response


def _inline_disposition(file_name: str) -> str:
    """``inline; filename=...`` as Werkzeug's ``send_file`` writes it (RFC 5987 for non-ASCII)."""
    from werkzeug.http import dump_options_header

    try:
        file_name.encode("ascii")
        names = {"filename": file_name}
    except UnicodeEncodeError:
        simple = unicodedata.normalize("NFKD", file_name).encode("ascii", "ignore").decode("ascii")
        names = {"filename": simple, "filename*": "UTF-8''" + quote(file_name, safe="!#$&+^`|~")}
    return dump_options_header("inline", names)
