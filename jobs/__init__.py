"""The export job domain, shared by the API (which creates and shows jobs) and the workers
(which carry them out): the request, the job and its units, their states, the store in
Redis, the file layout and storage, the view callers see and the manifest.

Neither `api/` nor `worker/` reaches into the other; both import from here.
"""

from jobs.layout import MANIFEST_NAME, file_name
from jobs.model import (
    ACCOUNT_UNIT,
    FileEntry,
    Job,
    JobError,
    Notification,
    ProjectRef,
    Unit,
    project_unit,
)
from jobs.request import RESOURCES, ExportRequest
from jobs.states import JobState, UnitState
from jobs.storage import ExportStorage
from jobs.store import Claim, JobNotFound, JobStore, Write

__all__ = [
    "ACCOUNT_UNIT",
    "MANIFEST_NAME",
    "RESOURCES",
    "Claim",
    "ExportRequest",
    "ExportStorage",
    "FileEntry",
    "Job",
    "JobError",
    "JobNotFound",
    "JobState",
    "JobStore",
    "Notification",
    "ProjectRef",
    "Unit",
    "UnitState",
    "Write",
    "file_name",
    "project_unit",
]
