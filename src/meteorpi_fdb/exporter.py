"""Replication from this node to other nodes' import APIs (SPEC section 8).

The export queue itself lives in the database (:class:`meteorpi_fdb._export.ExportMixin`);
the tasks it hands out are :class:`EventExportTask` and :class:`FileExportTask`. Protocol v2
(batches, resume, verification, bandwidth limits; docs/replication.md) is used whenever the
target offers it; :class:`ExportSettings` holds each configuration's choices.
"""

from meteorpi_fdb._export_settings import ExportSettings
from meteorpi_fdb._exporter_run import ExportSummary, MeteorExporter
from meteorpi_fdb._exporter_v2 import VerifyReport
from meteorpi_fdb._tasks import EventExportTask, ExportTask, FileExportTask

__all__ = ["EventExportTask", "ExportSettings", "ExportSummary", "ExportTask", "FileExportTask",
           "MeteorExporter", "VerifyReport"]
