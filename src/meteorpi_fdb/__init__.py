"""The MeteorPi data-access layer: a relational database (SQLite, PostgreSQL or Firebird) plus a
directory file store. The name is the 2015 one; the layer is no longer tied to Firebird."""

from meteorpi_fdb._batch import DUPLICATE, FAILED, REGISTERED, BatchItem, RegistrationBatch
from meteorpi_fdb._tasks import EventExportTask, FileExportTask
from meteorpi_fdb.database import MeteorDatabase

__all__ = ["BatchItem", "DUPLICATE", "EventExportTask", "FAILED", "FileExportTask", "MeteorDatabase", "REGISTERED",
           "RegistrationBatch"]
