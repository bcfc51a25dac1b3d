"""What moving a camera's high water mark back would delete, before it is done.

``meteorpi hwm set`` / ``meteorpi camera set`` ask for a confirmation with these figures, and
the admin API refuses an unconfirmed rollback with them (``PUT /cameras/<id>/hwm``).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

import meteorpi_model as model
from meteorpi_fdb._status import check_camera_id

if TYPE_CHECKING:
    from meteorpi_fdb.database import MeteorDatabase


class RollbackMixin:
    """The rollback preview of :class:`MeteorDatabase`."""

    def rollback_preview(self: "MeteorDatabase", camera_id: str, time: datetime) -> dict[str, Any] | None:
        """What moving ``camera_id``'s mark back to ``time`` would delete, or None when nothing
        would be (no mark, ``time`` not before it, or no data later than ``time``).

        :returns: ``{"camera_id", "mark", "time", "events", "files", "statuses"}``: the current
            mark, the new time, and the numbers of events, files and status blocks later than it
        """
        camera_id = check_camera_id(camera_id, self.installation_id)
        time = model.to_utc(time, "time")
        mark = self.get_high_water_mark(camera_id)
        if mark is None or time >= mark:
            return None
        events = self.search_events(model.EventSearch(camera_ids=[camera_id], after=time, limit=1))["count"]
        files = self.search_files(model.FileRecordSearch(camera_ids=[camera_id], after=time, limit=1))["count"]
        statuses = sum(1 for s in self.get_camera_status_history(camera_id) if s.valid_from > time)
        if not (events or files or statuses):
            return None
        return {"camera_id": camera_id, "mark": mark, "time": time, "events": events, "files": files,
                "statuses": statuses}
