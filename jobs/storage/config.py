"""EXPORT_STORAGE_URL → an ExportStorage, shared by the API and the workers.

- unset or empty: a folder per job under EXPORT_DIR, as before object storage existed;
- `file:///path`: the same under `/path`;
- `s3://bucket/prefix`: objects in an S3-compatible store. boto3 finds the endpoint
  (`AWS_ENDPOINT_URL` or `AWS_ENDPOINT_URL_S3`; unset: AWS), the region and the credentials
  the usual AWS ways (environment, shared config files, instance or container roles).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated
from urllib.parse import SplitResult, unquote, urlsplit

from pydantic import AfterValidator

from jobs.storage.base import ExportStorage
from jobs.storage.local import LocalStorage

# The API's and the workers' settings validate it and hand it to open_storage. S3 refuses
# parts below 5 MiB (except the last); a smaller size is for test servers.
PART_SIZE_VARIABLE = "EXPORT_S3_PART_BYTES"


class StorageConfigError(ValueError):
    pass


def is_object_storage(url: str) -> bool:
    return urlsplit(url.strip()).scheme == "s3"


def check_storage_url(url: str) -> None:
    """StorageConfigError when EXPORT_STORAGE_URL is malformed, checked when a service
    starts rather than at its first file."""
    _parsed(url)


def _checked_storage_url(url: str) -> str:
    check_storage_url(url)
    return url


# EXPORT_STORAGE_URL as a settings field (API and workers): refused when the service starts.
StorageUrl = Annotated[str, AfterValidator(_checked_storage_url)]


def open_storage(
    url: str, export_dir: Path, env: Mapping[str, str], *, part_size: int | None = None
) -> ExportStorage:
    """The storage EXPORT_STORAGE_URL (`url`) names, EXPORT_DIR's folders when it is empty;
    StorageConfigError when it names none. `env` holds the AWS_* variables; `part_size`
    (EXPORT_S3_PART_BYTES, already validated) bounds an S3 upload's parts."""
    parts = _parsed(url)
    if parts is None:
        return LocalStorage(export_dir)
    if parts.scheme == "file":
        return LocalStorage(Path(unquote(parts.path)))
    return _s3(parts.netloc, unquote(parts.path), env, part_size)


def _parsed(url: str) -> SplitResult | None:
    url = url.strip()
    if not url:
        return None
    parts = urlsplit(url)
    if parts.scheme == "file":
        if parts.netloc not in ("", "localhost") or not parts.path.startswith("/"):
            raise StorageConfigError(f"EXPORT_STORAGE_URL: want file:///absolute/path, got {url!r}")
        return parts
    if parts.scheme == "s3":
        if not parts.netloc or parts.query or parts.fragment:
            raise StorageConfigError(f"EXPORT_STORAGE_URL: want s3://bucket/prefix, got {url!r}")
        return parts
    raise StorageConfigError(
        f"EXPORT_STORAGE_URL must start with file:// or s3://, got {url.split(':')[0]!r}"
    )


def _s3(bucket: str, prefix: str, env: Mapping[str, str], part_size: int | None) -> ExportStorage:
    # Imported here: a deployment on local disk never loads boto3.
    import boto3
    from botocore.config import Config

    from jobs.storage.s3 import DEFAULT_PART_SIZE, S3Storage

    endpoint = env.get("AWS_ENDPOINT_URL_S3") or env.get("AWS_ENDPOINT_URL") or None
    config = Config(
        # Most S3-compatible servers (MinIO, Ceph, moto) want the bucket in the path; AWS
        # takes both.
        s3={"addressing_style": "path"} if endpoint else {},
        retries={"mode": "standard", "max_attempts": 5},
        connect_timeout=10,
        read_timeout=60,
    )
    # What `env` gives wins; whatever it leaves out, boto3 looks up the usual AWS ways.
    client = boto3.session.Session(
        aws_access_key_id=env.get("AWS_ACCESS_KEY_ID") or None,
        aws_secret_access_key=env.get("AWS_SECRET_ACCESS_KEY") or None,
        aws_session_token=env.get("AWS_SESSION_TOKEN") or None,
        region_name=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or None,
    ).client("s3", endpoint_url=endpoint, config=config)
    return S3Storage(client, bucket, prefix, part_size=part_size or DEFAULT_PART_SIZE)
