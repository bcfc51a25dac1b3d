"""The optional libraries behind the trajectory maths, imported lazily with a clear error."""

from __future__ import annotations

from types import ModuleType

EXTRA = "trajectory"
INSTALL_HINT = f"pip install 'meteorpi[{EXTRA}]'"


class MissingExtraError(ImportError):
    """numpy or pymap3d is not installed: the ``trajectory`` extra is needed."""


def libraries() -> tuple[ModuleType, ModuleType]:
    """``(numpy, pymap3d)``; :class:`MissingExtraError` naming the extra if either is missing."""
    try:
        import numpy
        import pymap3d
    except ImportError as error:
        raise MissingExtraError(
            f"coincidences and trajectories need numpy and pymap3d ({error.name} is missing): "
            f"install the '{EXTRA}' extra, {INSTALL_HINT}") from error
    return numpy, pymap3d


def available() -> bool:
    """Whether the ``trajectory`` extra is installed."""
    try:
        libraries()
    except MissingExtraError:
        return False
    return True
