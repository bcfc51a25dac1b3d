"""Pixels to directions on the sky and back: a gnomonic (tangent-plane) camera model.

The model is an ideal pinhole camera: a pixel's offset from the image centre, divided by the
focal length in pixels, is the tangent of the angle from the boresight. The camera status gives
the boresight (``orientation.alt``/``az``, degrees, azimuth from north through east), the
``rotation`` of the image about the boresight (degrees, positive turning the image's "up"
from the zenith side towards the image's right) and the horizontal width of field
(``orientation.width``, degrees, across the full sensor width). The sensor size in pixels comes
from the event's image (``meteorpi:width``/``height``), else a ``WxH`` in the status's
``sensor`` string, else :data:`DEFAULT_SENSOR` (PAL video, as the cameras record).

Limits: no lens distortion (the status carries none), so wide-angle lenses are wrong towards
the image corners; pixels are square; the principal point is the image centre; a boresight at
the zenith takes "up" as north. Directions are topocentric ENU unit vectors; no refraction.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from meteorpi_trajectory._deps import libraries

#: sensor size used when neither the event nor the status says (PAL video frames)
DEFAULT_SENSOR = (720, 576)
_SIZE = re.compile(r"(\d{2,5})\s*[x×]\s*(\d{2,5})")


def enu_from_azel(az_deg: Any, el_deg: Any) -> Any:
    """Unit ENU vector(s) from azimuth (from north through east) and elevation, in degrees."""
    np, _ = libraries()
    az, el = np.radians(az_deg), np.radians(el_deg)
    return np.stack([np.cos(el) * np.sin(az), np.cos(el) * np.cos(az), np.sin(el)], axis=-1)


def azel_from_enu(vector: Any) -> tuple[Any, Any]:
    """Azimuth (0..360) and elevation in degrees of ENU vector(s) (last axis)."""
    np, _ = libraries()
    v = np.asarray(vector, dtype=float)
    az = np.degrees(np.arctan2(v[..., 0], v[..., 1])) % 360.0
    el = np.degrees(np.arctan2(v[..., 2], np.hypot(v[..., 0], v[..., 1])))
    return az, el


def sensor_size(sensor: str | None = None, width: Any = None, height: Any = None) -> tuple[int, int]:
    """The sensor in pixels: ``width``/``height`` if both are given, else parsed from
    ``sensor`` ("... 1920x1080 ..."), else :data:`DEFAULT_SENSOR`."""
    if isinstance(width, (int, float)) and isinstance(height, (int, float)) and width > 0 and height > 0:
        return int(width), int(height)
    match = _SIZE.search(sensor or "")
    if match:
        return int(match.group(1)), int(match.group(2))
    return DEFAULT_SENSOR


@dataclass(frozen=True)
class CameraModel:
    """One camera's pointing and field, able to map pixels to ENU directions and back.

    :param altitude: boresight elevation, degrees
    :param azimuth: boresight azimuth, degrees from north through east
    :param rotation: image rotation about the boresight, degrees
    :param width_of_field: horizontal field of view across ``width`` pixels, degrees (0 < w < 180)
    :param width: sensor width, pixels
    :param height: sensor height, pixels
    """

    altitude: float
    azimuth: float
    rotation: float
    width_of_field: float
    width: int = DEFAULT_SENSOR[0]
    height: int = DEFAULT_SENSOR[1]

    def __post_init__(self) -> None:
        if not 0 < self.width_of_field < 180:
            raise ValueError(f"width of field must be between 0 and 180 degrees for a gnomonic "
                             f"projection, got {self.width_of_field}")
        if self.width < 1 or self.height < 1:
            raise ValueError(f"sensor size must be positive, got {self.width}x{self.height}")

    @classmethod
    def from_status(cls, status: Any, width: Any = None, height: Any = None) -> "CameraModel":
        """The model of a ``meteorpi_model.CameraStatus`` (sensor size as :func:`sensor_size`)."""
        o = status.orientation
        w, h = sensor_size(status.sensor, width, height)
        return cls(o.altitude, o.azimuth, o.rotation, o.width_of_field, w, h)

    @property
    def focal_pixels(self) -> float:
        """Focal length in pixels."""
        return (self.width / 2.0) / math.tan(math.radians(self.width_of_field) / 2.0)

    def axes(self) -> Any:
        """Rows: the image's right, up and boresight directions as ENU unit vectors."""
        cached = self.__dict__.get("_axes")
        if cached is None:
            cached = self.__dict__["_axes"] = self._compute_axes()  # frozen: set once, directly
        return cached

    def _compute_axes(self) -> Any:
        np, _ = libraries()
        boresight = enu_from_azel(self.azimuth, self.altitude)
        zenith = np.array([0.0, 0.0, 1.0])
        up = zenith - boresight * float(boresight @ zenith)
        if np.linalg.norm(up) < 1e-9:  # looking straight up: "up" in the image is north
            up = np.array([0.0, 1.0, 0.0]) - boresight * float(boresight[1])
        up /= np.linalg.norm(up)
        right = np.cross(boresight, up)
        rho = math.radians(self.rotation)
        right, up = (math.cos(rho) * right + math.sin(rho) * up,
                     -math.sin(rho) * right + math.cos(rho) * up)
        return np.stack([right, up, boresight])

    def pixel_to_enu(self, x: Any, y: Any) -> Any:
        """Unit ENU direction(s) of pixel(s) ``(x, y)`` (x right, y down, origin top left)."""
        np, _ = libraries()
        right, up, boresight = self.axes()
        dx = np.asarray(x, dtype=float) - self.width / 2.0
        dy = self.height / 2.0 - np.asarray(y, dtype=float)
        v = (self.focal_pixels * boresight + dx[..., None] * right + dy[..., None] * up)
        return v / np.linalg.norm(v, axis=-1, keepdims=True)

    def pixel_to_azel(self, x: Any, y: Any) -> tuple[Any, Any]:
        """Azimuth and elevation in degrees of pixel(s) ``(x, y)``."""
        return azel_from_enu(self.pixel_to_enu(x, y))

    def enu_to_pixel(self, vector: Any) -> tuple[Any, Any, Any]:
        """``(x, y, in_front)`` of ENU direction(s); x, y are NaN behind the camera."""
        np, _ = libraries()
        right, up, boresight = self.axes()
        v = np.asarray(vector, dtype=float)
        depth = v @ boresight
        in_front = depth > 1e-9
        safe = np.where(in_front, depth, np.nan)
        x = self.width / 2.0 + self.focal_pixels * (v @ right) / safe
        y = self.height / 2.0 - self.focal_pixels * (v @ up) / safe
        return x, y, in_front

    def in_image(self, x: Any, y: Any, margin: float = 0.0) -> Any:
        """Whether pixel(s) lie on the sensor (NaN never does)."""
        np, _ = libraries()
        x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
        with np.errstate(invalid="ignore"):
            return ((x >= margin) & (x <= self.width - margin)
                    & (y >= margin) & (y <= self.height - margin))

    def grid(self, steps: int = 7) -> Any:
        """ENU directions of a ``steps`` x ``steps`` grid of pixels spanning the sensor."""
        np, _ = libraries()
        xs, ys = np.meshgrid(np.linspace(0, self.width, steps), np.linspace(0, self.height, steps))
        return self.pixel_to_enu(xs.ravel(), ys.ravel())


def enu_to_ecef_vectors(vectors: Any, latitude: float, longitude: float) -> Any:
    """ENU direction(s) at a site as ECEF direction(s) (pymap3d's ENU -> UVW rotation)."""
    np, pm = libraries()
    v = np.asarray(vectors, dtype=float)
    u, w_, z = pm.enu2uvw(v[..., 0], v[..., 1], v[..., 2], latitude, longitude)
    return np.stack([np.asarray(u), np.asarray(w_), np.asarray(z)], axis=-1)


def ecef_to_enu_vectors(vectors: Any, latitude: float, longitude: float) -> Any:
    """ECEF direction(s) as ENU direction(s) at a site."""
    np, pm = libraries()
    v = np.asarray(vectors, dtype=float)
    e, n, u = pm.uvw2enu(v[..., 0], v[..., 1], v[..., 2], latitude, longitude)
    return np.stack([np.asarray(e), np.asarray(n), np.asarray(u)], axis=-1)


def site_ecef(latitude: float, longitude: float, height_m: float = 0.0) -> Any:
    """A site's ECEF position in metres (WGS84)."""
    np, pm = libraries()
    return np.array(pm.geodetic2ecef(latitude, longitude, height_m), dtype=float)

