"""The body of a replication v2 batch request: a stream of length-prefixed frames.

::

    MPI-BATCH/2\\n
    {"kind": "status", "status": CameraStatus}\\n
    {"kind": "content", "file_id": hex, "md5": hex, "size": N}\\n<N bytes of content>
    {"kind": "event", "event": Event}\\n
    {"kind": "file", "file": FileRecord}\\n
    {"kind": "end", "frames": count}\\n

Each frame is one line of JSON (at most the target's ``MPI_MAX_JSON_BYTES``); a ``content``
frame is followed by exactly ``size`` raw bytes. The ``end`` frame (with the number of frames
before it) tells a complete batch from one that was cut off. Both sides handle the stream
piece by piece: the exporter produces it from the database and the file store as it is sent,
the target writes each file's content to disk as it arrives; neither holds it whole.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any, BinaryIO, Iterator

MAGIC = b"MPI-BATCH/2\n"
CONTENT_TYPE = "application/x-meteorpi-batch"
KINDS = ("status", "content", "event", "file", "end")


def frame(kind: str, **fields: Any) -> bytes:
    """One header line."""
    return json.dumps({"kind": kind, **fields}, separators=(",", ":")).encode("utf-8") + b"\n"


def content_header(file_id: uuid.UUID, md5: str, size: int) -> bytes:
    return frame("content", file_id=file_id.hex, md5=md5, size=size)


@dataclass
class Frame:
    """A parsed header line; for ``content`` frames the caller reads ``size`` bytes next."""

    kind: str
    body: dict[str, Any]


class StreamError(ValueError):
    """The batch stream is malformed or ended early."""


def read_frames(stream: BinaryIO, max_line: int) -> Iterator[Frame]:
    """Parse header lines from ``stream`` until the ``end`` frame.

    The caller must consume each ``content`` frame's bytes before asking for the next frame.
    Raises :class:`StreamError` on a malformed frame or a stream that ends before ``end``.
    """
    magic = stream.readline(len(MAGIC) + 1)
    if magic != MAGIC:
        raise StreamError("the batch must start with the line MPI-BATCH/2")
    count = 0
    while True:
        line = stream.readline(max_line + 1)
        if not line:
            raise StreamError(f"the batch stream ended after {count} frames, before its end frame")
        if len(line) > max_line or not line.endswith(b"\n"):
            if not line.endswith(b"\n") and len(line) <= max_line:
                raise StreamError(f"the batch stream ended inside frame {count + 1}")
            raise StreamError(f"frame {count + 1} is longer than {max_line} bytes")
        try:
            body = json.loads(line)
        except (ValueError, RecursionError) as error:
            raise StreamError(f"frame {count + 1} is not valid JSON: {error}") from None
        if not isinstance(body, dict) or body.get("kind") not in KINDS:
            raise StreamError(f"frame {count + 1} must be an object whose kind is one of {', '.join(KINDS)}")
        kind = body.pop("kind")
        if kind == "end":
            if body.get("frames") != count:
                raise StreamError(f"the end frame counts {body.get('frames')!r} frames, the stream had {count}")
            return
        count += 1
        yield Frame(kind, body)
