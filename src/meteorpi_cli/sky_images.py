"""Synthetic all-sky camera images with Pillow, for the demo network.

Everything is drawn from a ``random.Random`` the caller passes in, so a seed gives the same
pixels (and the same PNG bytes) every time. Frames are 8-bit greyscale, like the video
cameras MeteorPi nodes use: a dark sky that brightens towards the horizon, stars with a
realistic spread of brightness, optional cloud, the ground outside the visible-sky polygon,
and a caption line as the camera burns it into its frames.
"""

from __future__ import annotations

import io
import math
import random
from collections.abc import Sequence

from meteorpi_fdb.extras import require

try:
    from PIL import Image, ImageChops, ImageDraw, ImageFilter
except ImportError:  # the demo extra is not installed; require_pillow() says so
    Image = ImageChops = ImageDraw = ImageFilter = None

#: frame size of the simulated cameras (PAL video)
WIDTH, HEIGHT = 720, 576
PREVIEW_SIZE = (180, 144)
Point = tuple[int, int]
#: visible sky: one or more polygons of pixel points; everything outside them is ground
Regions = Sequence[Sequence[Point]]


def require_pillow() -> None:
    """Raise ``MissingExtra`` (naming ``meteorpi[demo]``) if Pillow is not installed."""
    require("PIL", "The demo's sky images", "demo")


def star_field(rng: random.Random, width: int = WIDTH, height: int = HEIGHT,
               clarity: float = 1.0, visible_sky: Regions | None = None,
               caption: str | None = None) -> Image.Image:
    """A night-sky frame; ``clarity`` 0..1 thins the stars and adds cloud."""
    clarity = min(1.0, max(0.0, clarity))
    sky = _sky_glow(width, height)
    stars = Image.new("L", (width, height), 0)
    draw = ImageDraw.Draw(stars)
    count = int(60 + 440 * clarity)
    for _ in range(count):
        x, y = rng.uniform(0, width - 1), rng.uniform(0, height - 1)
        # Magnitudes: many faint stars, few bright ones.
        brightness = min(255, int(45 + rng.expovariate(1 / 35)))
        radius = 0.6 if brightness < 150 else 1.2 if brightness < 220 else 1.8
        draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=brightness)
    stars = stars.filter(ImageFilter.GaussianBlur(0.7))
    frame = ImageChops.add(sky, stars)
    if clarity < 0.95:
        frame = _add_cloud(rng, frame, 1.0 - clarity)
    if visible_sky:
        frame = _add_ground(frame, visible_sky)
    if caption:
        ImageDraw.Draw(frame).text((6, height - 14), caption, fill=200)
    return frame


def meteor_frame(rng: random.Random, start: Point, end: Point, peak_brightness: int,
                 clarity: float = 1.0, visible_sky: Regions | None = None,
                 caption: str | None = None, width: int = WIDTH, height: int = HEIGHT) -> Image.Image:
    """A star field with a meteor streak from ``start`` to ``end``.

    The streak brightens, peaks about two thirds of the way along and fades, with a soft
    glow around its core, as a stacked video frame of a real meteor does.
    """
    frame = star_field(rng, width, height, clarity, visible_sky=None, caption=None)
    streak = Image.new("L", (width, height), 0)
    draw = ImageDraw.Draw(streak)
    steps = max(2, int(math.dist(start, end)))
    peak_at = rng.uniform(0.5, 0.8)
    for i in range(steps):
        t0, t1 = i / steps, (i + 1) / steps
        profile = math.exp(-((t0 - peak_at) ** 2) / 0.08)
        value = int(peak_brightness * profile)
        segment = (_lerp(start, end, t0), _lerp(start, end, t1))
        draw.line(segment, fill=value, width=3 if value > 180 else 2)
    glow = streak.filter(ImageFilter.GaussianBlur(3))
    frame = ImageChops.add(frame, ImageChops.add(streak.filter(ImageFilter.GaussianBlur(0.8)), glow))
    if visible_sky:
        frame = _add_ground(frame, visible_sky)
    if caption:
        ImageDraw.Draw(frame).text((6, height - 14), caption, fill=200)
    return frame


def preview(image: Image.Image, size: tuple[int, int] = PREVIEW_SIZE) -> Image.Image:
    """A small copy for thumbnails (aspect ratio kept)."""
    small = image.copy()
    small.thumbnail(size, Image.Resampling.LANCZOS)
    return small


def png_bytes(image: Image.Image) -> bytes:
    """PNG encoding (deterministic: no timestamps or other varying chunks)."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=False, compress_level=6)
    return buffer.getvalue()


def jpeg_bytes(image: Image.Image, quality: int = 85) -> bytes:
    """JPEG encoding, for previews."""
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def _lerp(a: Point, b: Point, t: float) -> tuple[float, float]:
    return a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t


def _sky_glow(width: int, height: int) -> Image.Image:
    """Background sky: near black overhead, brighter towards the horizon (light pollution)."""
    column = Image.linear_gradient("L").resize((1, height))
    column = column.point(lambda v: 6 + v * 26 // 255)
    return column.resize((width, height))


def _add_cloud(rng: random.Random, frame: Image.Image, cover: float) -> Image.Image:
    """Soft blobs of cloud, lit from below by the towns, that hide the stars behind them."""
    width, height = frame.size
    opacity = Image.new("L", (width, height), 0)
    draw = ImageDraw.Draw(opacity)
    for _ in range(int(4 + 20 * cover)):
        cx, cy = rng.uniform(0, width), rng.uniform(0, height)
        rx, ry = rng.uniform(40, 180), rng.uniform(25, 90)
        draw.ellipse((cx - rx, cy - ry, cx + rx, cy + ry), fill=int(120 + 135 * cover))
    opacity = opacity.filter(ImageFilter.GaussianBlur(30))
    lit_cloud = _sky_glow(width, height).point(lambda v: v + 34)
    return Image.composite(lit_cloud, frame, opacity)


def _add_ground(frame: Image.Image, visible_sky: Regions) -> Image.Image:
    """Black out everything outside the visible-sky polygons (trees, roofs, the ground)."""
    mask = Image.new("L", frame.size, 0)
    draw = ImageDraw.Draw(mask)
    for polygon in visible_sky:
        draw.polygon([tuple(p) for p in polygon], fill=255)
    ground = Image.new("L", frame.size, 3)
    return Image.composite(frame, ground, mask)
