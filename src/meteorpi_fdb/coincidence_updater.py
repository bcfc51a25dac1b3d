"""``CoincidenceUpdater``: keeps a node's coincidences current, on a schedule and soon after
imports.

One background thread runs :meth:`MeteorDatabase.update_coincidences` (incremental) every
``interval`` seconds, and a few seconds after :meth:`poke` (the database pokes it whenever an
event is imported), so that a burst of imports costs one run. A plain thread waiting on an
event is all this needs: runs never overlap and stopping never waits on a lock held by a run.
"""

from __future__ import annotations

import logging
import threading

logger = logging.getLogger("meteorpi.db")

#: seconds between an import and the run it triggers (imports in between join that run)
DEFAULT_SETTLE_SECONDS = 2.0


class CoincidenceUpdater:
    """Run incremental coincidence updates every ``interval`` seconds and after pokes.

    :param db: the ``MeteorDatabase``; it pokes this updater after each imported event
    :param interval: seconds between scheduled runs (> 0)
    :param window: coincidence window in seconds
    """

    def __init__(self, db, interval: float, window: float = 2.0,
                 settle: float = DEFAULT_SETTLE_SECONDS) -> None:
        from meteorpi_trajectory import libraries

        libraries()  # fail now, naming the extra, rather than in the thread
        if interval <= 0:
            raise ValueError(f"interval must be positive, got {interval}")
        self.db, self.interval, self.window, self.settle = db, interval, window, settle
        self.runs = 0
        self._poked = threading.Event()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="meteorpi-coincidences",
                                        daemon=True)

    def start(self) -> "CoincidenceUpdater":
        self.db.coincidence_updater = self
        self._thread.start()
        return self

    def poke(self) -> None:
        """Ask for a run soon (after ``settle`` seconds)."""
        self._poked.set()

    def stop(self, timeout: float | None = 30) -> None:
        """Stop after the run in hand, if any."""
        if getattr(self.db, "coincidence_updater", None) is self:
            self.db.coincidence_updater = None
        self._stopping.set()
        self._poked.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _loop(self) -> None:
        while not self._stopping.is_set():
            if self._poked.wait(self.interval):
                if self._stopping.wait(self.settle):
                    return
            self._poked.clear()
            try:
                self.db.update_coincidences(window_seconds=self.window)
            except Exception:  # a failed run must not end the schedule; the next run retries
                logger.exception("Coincidence update failed")
            self.runs += 1
