"""Multi-station meteor maths: pixels to sky directions, coincidence grouping, trajectories.

Pure computation, no I/O and no SQL. numpy and pymap3d (the ``trajectory`` extra) are imported
only when a function needs them; without them :class:`MissingExtraError` names the extra.
"""

from meteorpi_trajectory._deps import EXTRA, MissingExtraError, available, libraries
from meteorpi_trajectory.grouping import (DEFAULT_WINDOW_SECONDS, Candidate, FieldOverlap, View,
                                          find_groups)
from meteorpi_trajectory.projection import DEFAULT_SENSOR, CameraModel, sensor_size
from meteorpi_trajectory.solver import MIN_CONVERGENCE_DEG, Observation, Trajectory, solve

__all__ = ["DEFAULT_SENSOR", "DEFAULT_WINDOW_SECONDS", "EXTRA", "MIN_CONVERGENCE_DEG",
           "CameraModel", "Candidate", "FieldOverlap", "MissingExtraError", "Observation",
           "Trajectory", "View", "available", "find_groups", "libraries", "sensor_size", "solve"]
