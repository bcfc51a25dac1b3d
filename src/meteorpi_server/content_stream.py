"""File content that is not a local file (a bucket store), served by the app: streamed through
with the same Range, ETag and conditional-GET answers ``send_file`` gives for a local file, or
(``MPI_S3_PRESIGN_SECONDS``) a short-lived redirect to a presigned URL once the app has found
the record and checked access.
"""

from __future__ import annotations

from typing import Any

from flask import Response, current_app, redirect
from werkzeug.wsgi import FileWrapper

from meteorpi_fdb.stores import ContentSource
from meteorpi_server.content_offload import _inline_disposition

#: Bytes handed to the server per write while streaming.
STREAM_CHUNK = 256 * 1024


def streamed(source: ContentSource, environ: dict[str, Any], mime_type: str, md5: str | None,
             file_name: str | None) -> Response:
    """The content of ``source`` read through the app, honouring Range and conditional headers."""
    reader = source.open()
    # Werkzeug's own wrapper (not the server's wsgi.file_wrapper): it is seekable, so a Range
    # request makes the store fetch only the bytes asked for.
    response = current_app.response_class(FileWrapper(reader, STREAM_CHUNK), mimetype=mime_type,
                                          direct_passthrough=True)
    response.content_length = source.size
    response.last_modified = source.mtime
    response.cache_control.no_cache = True
    if md5:
        response.set_etag(md5)
    if file_name is not None:
        response.headers["Content-Disposition"] = _inline_disposition(file_name)
    try:
        return response.make_conditional(environ, accept_ranges=True, complete_length=source.size)
    except Exception:
        reader.close()
        raise


def presigned_redirect(source: ContentSource, seconds: int, mime_type: str,
                       file_name: str | None) -> Response | None:
    """A 302 to a presigned URL valid for ``seconds``, or None when the store cannot make one."""
    headers = {"ResponseContentType": mime_type}
    if file_name is not None:
        headers["ResponseContentDisposition"] = _inline_disposition(file_name)
    url = source.presigned_url(seconds, **headers)
    if url is None:
        return None
    response = redirect(url, 302)
    response.headers["Cache-Control"] = "no-store"
    return response
