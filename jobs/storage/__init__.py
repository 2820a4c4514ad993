"""Where export files live: one interface (base.py), a folder per job (local.py) or an
S3-compatible bucket (s3.py), chosen by EXPORT_STORAGE_URL (config.py)."""

from jobs.storage.base import (
    ExportStorage,
    FileCheckpoint,
    ResumeImpossible,
    StorageNameError,
    StorageUnavailable,
    StoredFile,
    Upload,
)
from jobs.storage.config import (
    StorageConfigError,
    StorageUrl,
    check_storage_url,
    is_object_storage,
    open_storage,
)

__all__ = [
    "ExportStorage",
    "FileCheckpoint",
    "ResumeImpossible",
    "StorageConfigError",
    "StorageNameError",
    "StorageUnavailable",
    "StorageUrl",
    "StoredFile",
    "Upload",
    "check_storage_url",
    "is_object_storage",
    "open_storage",
]
