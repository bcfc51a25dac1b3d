"""Replication from this node to other nodes' import APIs (SPEC section 8).

The export queue itself lives in the database (:class:`meteorpi_fdb._export.ExportMixin`);
the tasks it hands out are :class:`EventExportTask` and :class:`FileExportTask`.
"""

from meteorpi_fdb._exporter_run import ExportSummary, MeteorExporter
from meteorpi_fdb._tasks import EventExportTask, ExportTask, FileExportTask

__all__ = ["EventExportTask", "ExportSummary", "ExportTask", "FileExportTask", "MeteorExporter"]
