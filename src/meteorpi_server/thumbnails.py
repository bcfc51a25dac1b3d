"""Thumbnails of image content (Pillow) and SVG icons for everything else; no I/O but reading
the content file given.

Decoding is bounded: images above :data:`MAX_PIXELS` are refused before any pixel is decoded
(Pillow's decompression-bomb guard stops larger ones too), as are formats other than
:data:`FORMATS`. Any image Pillow cannot read gives :class:`NoThumbnail`; the caller answers with
an icon.
"""

from __future__ import annotations

import io
import os
import warnings

from PIL import Image, features

#: Longest side of a thumbnail, in pixels.
SIZE = 240
#: Largest image (width × height) decoded for a thumbnail.
MAX_PIXELS = 40_000_000
#: Image formats decoded (Pillow names).
FORMATS = ("PNG", "JPEG", "WEBP", "GIF", "BMP", "TIFF")
#: The thumbnail format: WebP where this Pillow has it, else JPEG.
FORMAT, MIME_TYPE = ("WEBP", "image/webp") if features.check("webp") else ("JPEG", "image/jpeg")
#: The name of a thumbnail among a file's derived files (it changes with the size and format).
DERIVED_NAME = f"thumbnail-{SIZE}.{FORMAT.lower()}"

_SVG = ('<svg xmlns="http://www.w3.org/2000/svg" width="120" height="120" viewBox="0 0 24 24" '
        'fill="none" stroke="#555" stroke-width="1.5" stroke-linecap="round" stroke-linejoin="round">'
        '<title>{title}</title><rect x="3" y="3" width="18" height="18" rx="2" fill="#eee"/>{body}</svg>')
#: SVG icons by kind: what is drawn instead of a thumbnail.
ICONS = {
    "video": _SVG.format(title="video", body='<path d="M10 8.5v7l6-3.5z" fill="#555"/>'),
    "text": _SVG.format(title="text", body='<path d="M7 8h10M7 12h10M7 16h6"/>'),
    "image": _SVG.format(title="image", body='<circle cx="9" cy="9" r="1.5"/><path d="M5 18l5-6 4 4 2-2 3 4"/>'),
    "other": _SVG.format(title="file", body='<path d="M8 8h8v8H8z"/>'),
}


class NoThumbnail(Exception):
    """The content is not an image this module will decode (corrupt, too large, other format)."""


def icon_kind(mime_type: str | None) -> str:
    """The icon for content of ``mime_type``: video, text, image or other."""
    major = (mime_type or "").split("/", 1)[0].strip().lower()
    return major if major in ICONS else "other"


def is_image(mime_type: str | None) -> bool:
    return icon_kind(mime_type) == "image"


def make_thumbnail(path: str | os.PathLike) -> bytes:
    """A thumbnail (:data:`FORMAT`, at most :data:`SIZE` px on the long side, aspect kept) of
    the image at ``path``; NoThumbnail if it cannot or may not be decoded."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path, formats=FORMATS) as image:
                width, height = image.size
                if width * height > MAX_PIXELS:
                    raise NoThumbnail(f"{width}×{height} pixels is above the limit of {MAX_PIXELS}")
                image.draft("RGB", (SIZE * 2, SIZE * 2))  # JPEG: decode at a reduced scale
                image.thumbnail((SIZE, SIZE))
                image = _web_mode(image)
                output = io.BytesIO()
                image.save(output, FORMAT, quality=80)
    except (OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError,
            Image.DecompressionBombWarning) as e:
        raise NoThumbnail(str(e)) from e
    return output.getvalue()


def _web_mode(image: Image.Image) -> Image.Image:
    """``image`` in a mode the thumbnail format stores (RGB, or RGBA where it is transparent)."""
    transparent = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
    wanted = "RGBA" if transparent and FORMAT == "WEBP" else "RGB"
    if image.mode == wanted:
        return image
    if image.mode.startswith("I"):  # 16- and 32-bit greyscale: scale down to 8 bits
        image = image.convert("I").point(lambda value: value * (1 / 256)).convert("L")
    return image.convert(wanted)
