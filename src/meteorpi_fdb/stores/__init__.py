"""File stores: where file content lives, behind one interface (:class:`ContentStore`).

``open_file_store(location)`` chooses by the location: a path is a local directory
(:class:`~meteorpi_fdb.file_store.FileStore`, the default, what a camera node uses);
``s3://bucket/prefix`` is an S3-compatible bucket (:class:`~meteorpi_fdb.stores.bucket.BucketStore`,
the ``s3`` extra; docs/object-storage.md), with its endpoint and credentials from the usual
``AWS_*`` settings or their ``MPI_S3_*`` equivalents.
"""

from __future__ import annotations

import os

from meteorpi_fdb.stores.base import (ContentSource, ContentStore, IncompleteContent, Part, PartStore,
                                      SourceFingerprint, StoredContent, StoredObject, fingerprint)

__all__ = ["ContentSource", "ContentStore", "IncompleteContent", "Part", "PartStore", "SourceFingerprint",
           "StoredContent", "StoredObject", "fingerprint", "is_bucket_location", "open_file_store"]

BUCKET_SCHEME = "s3://"


def is_bucket_location(location: str | os.PathLike) -> bool:
    """Whether ``location`` names a bucket (``s3://bucket/prefix``) rather than a directory."""
    return isinstance(location, str) and location.startswith(BUCKET_SCHEME)


def open_file_store(location: str | os.PathLike) -> ContentStore:
    """The store at ``location``: a directory path, or ``s3://bucket/prefix``."""
    if is_bucket_location(location):
        from meteorpi_fdb.extras import require
        from meteorpi_fdb.stores.bucket import BucketStore

        require("boto3", "a bucket file store (s3://...)", "s3")
        return BucketStore.from_location(str(location))
    from meteorpi_fdb.file_store import FileStore

    return FileStore(location)
