"""Optional dependencies: a camera node installs only ``pip install meteorpi``; PostgreSQL,
Firebird, gunicorn and the demo's images come with extras, named in the error when missing."""

from __future__ import annotations

import importlib.util

__all__ = ["MissingExtra", "require"]


class MissingExtra(ImportError):
    """A feature needs a package from an extra that is not installed."""


def require(module: str, feature: str, extra: str) -> None:
    """Raise :class:`MissingExtra` naming ``extra`` unless ``module`` can be imported."""
    try:
        found = importlib.util.find_spec(module) is not None
    except ImportError:  # a parent package is missing
        found = False
    if not found:
        raise MissingExtra(f"{feature} needs the Python package {module!r}, which is not installed: "
                           f"install meteorpi[{extra}] (pip install 'meteorpi[{extra}]')")
