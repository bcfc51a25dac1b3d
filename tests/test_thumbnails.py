"""Thumbnails (GET /files/thumbnail/<file_id>): made once with Pillow, cached in the file store,
immutable and conditional; icons for other content; bad input never a 500. Real HTTP."""

from __future__ import annotations

import io
import struct
import uuid
import zlib
from pathlib import Path

import pytest
from PIL import Image

from meteorpi_fdb.housekeeping import HousekeepingPolicy
from meteorpi_server import thumbnails
from tests.conftest import INSTALLATION_ID
from tests.helpers import make_file, make_status, utc
from tests.server_helpers import (Client, cheap_password_hashing, client,  # noqa: F401
                                  make_server, server)

#: Thumbnails are derived content in either store (tests/object_store_helpers.py).
pytestmark = pytest.mark.both_stores

IMMUTABLE = "public, max-age=31536000, immutable"


def png(width: int, height: int, mode: str = "RGB") -> bytes:
    output = io.BytesIO()
    Image.new(mode, (width, height), "white" if mode == "RGB" else 200).save(output, "PNG")
    return output.getvalue()


def ppm(width: int, height: int) -> bytes:
    output = io.BytesIO()
    Image.new("RGB", (width, height)).save(output, "PPM")
    return output.getvalue()


def bomb_png(width: int = 100_000, height: int = 100_000) -> bytes:
    """A PNG whose header claims ``width`` × ``height`` pixels (its data is a few bytes)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 10))
            + chunk(b"IEND", b""))


@pytest.fixture
def store(server, tmp_path: Path):
    make_status(server.db, INSTALLATION_ID, utc(2015, 1, 1))

    def add(content: bytes, mime_type: str, when=utc(2015, 3, 2, 22)):
        return make_file(server.db, tmp_path / "incoming", when, INSTALLATION_ID, mime_type=mime_type,
                         content=content, semantic_type="meteorpi:test_image")

    return add


def test_an_image_gets_a_small_cached_immutable_thumbnail(client: Client, server, store) -> None:
    record = store(png(720, 576), "image/png")
    first = client.get(f"/files/thumbnail/{record.file_id.hex}")
    assert first.status_code == 200
    assert first.headers["Content-Type"] == thumbnails.MIME_TYPE
    assert first.headers["Cache-Control"] == IMMUTABLE
    with Image.open(io.BytesIO(first.content)) as image:
        assert image.format == thumbnails.FORMAT and image.size == (240, 192)
    assert len(first.content) < 5000
    # Cached in the file store: what is stored there is what is served.
    derived = server.db.file_store.read_derived(record.file_id, thumbnails.DERIVED_NAME)
    assert derived == first.content
    server.db.file_store.write_derived(record.file_id, thumbnails.DERIVED_NAME, derived + b"marker")
    assert client.get(f"/files/thumbnail/{record.file_id.hex}").content == derived + b"marker"
    # Conditional GET.
    etag = first.headers["ETag"]
    again = client.get(f"/files/thumbnail/{record.file_id}", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["Cache-Control"] == IMMUTABLE
    assert client.get(f"/files/thumbnail/{record.file_id.hex}", headers={"If-None-Match": '"other"'}).status_code == 200


@pytest.mark.parametrize("size, expected", [((100, 400), (60, 240)), ((120, 80), (120, 80))])
def test_aspect_is_kept_and_small_images_are_not_enlarged(client: Client, store, size, expected) -> None:
    record = store(png(*size, mode="L"), "image/png")
    answer = client.get(f"/files/thumbnail/{record.file_id.hex}")
    with Image.open(io.BytesIO(answer.content)) as image:
        assert image.size == expected


@pytest.mark.parametrize("content, mime_type, icon", [
    (b"hello", "text/plain", "text"),
    (b"\0\0\0\x18ftypmp42", "video/mp4", "video"),
    (b"\0\1\2", "application/octet-stream", "other"),
    (b"not an image at all", "image/png", "image"),  # corrupt: the image icon, never a 500
    (bomb_png(), "image/png", "image"),  # 10^10 pixels: refused before decoding
    (ppm(64, 64), "image/x-portable-pixmap", "image"),  # a format not decoded
], ids=["text", "video", "other", "corrupt", "bomb", "ppm"])
def test_other_content_gets_a_cacheable_icon(client: Client, server, store, content, mime_type, icon) -> None:
    record = store(content, mime_type)
    answer = client.get(f"/files/thumbnail/{record.file_id.hex}")
    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == "image/svg+xml"
    assert answer.content.decode() == thumbnails.ICONS[icon]
    assert answer.headers["Cache-Control"] == IMMUTABLE
    again = client.get(f"/files/thumbnail/{record.file_id.hex}", headers={"If-None-Match": answer.headers["ETag"]})
    assert again.status_code == 304
    assert server.db.file_store.read_derived(record.file_id, thumbnails.DERIVED_NAME) is None


def test_a_bomb_is_refused_without_decoding(tmp_path: Path) -> None:
    path = tmp_path / "bomb.png"
    path.write_bytes(bomb_png(8000, 8000))  # 64 megapixels: above MAX_PIXELS, below Pillow's own guard
    with pytest.raises(thumbnails.NoThumbnail, match="above the limit"):
        thumbnails.make_thumbnail(path)


@pytest.mark.parametrize("file_id, status", [("5" * 32, 404), ("not-a-uuid", 400), ("0" * 33, 400)])
def test_unknown_and_bad_ids(client: Client, store, file_id: str, status: int) -> None:
    answer = client.get(f"/files/thumbnail/{file_id}")
    assert answer.status_code == status and answer.json()["message"]


def test_derived_files_are_not_strays_and_go_with_the_content(client: Client, server, store) -> None:
    db = server.db
    old = store(png(300, 200), "image/png", when=utc(2015, 3, 1, 22))
    kept = store(png(300, 200), "image/png", when=utc(2015, 3, 9, 22))
    for record in (old, kept):
        assert client.get(f"/files/thumbnail/{record.file_id.hex}").status_code == 200
    assert db.check_file_store() == {"orphans": [], "missing": [], "strays": []}
    assert db.file_store.read_derived(old.file_id, thumbnails.DERIVED_NAME) is not None
    result = db.prune(HousekeepingPolicy(retain_nights=3), now=utc(2015, 3, 10, 10))
    assert [f.file_id for f in result.files] == [old.file_id]
    assert db.file_store.read_derived(old.file_id, thumbnails.DERIVED_NAME) is None
    assert db.file_store.read_derived(kept.file_id, thumbnails.DERIVED_NAME) is not None
    assert client.get(f"/files/thumbnail/{old.file_id.hex}").status_code == 410
    db.file_store.remove(kept.file_id)
    assert db.file_store.read_derived(kept.file_id, thumbnails.DERIVED_NAME) is None


def test_derived_names_are_checked(server) -> None:
    for name in ("../x", "", ".hidden", "a/b", "x" * 65):
        with pytest.raises(ValueError):
            server.db.file_store.write_derived(uuid.uuid4(), name, b"")
