"""A real S3-protocol server for the object-storage tests: moto in server mode on a free
port, one for the session, as the private Redis is. Every test takes a bucket of its own."""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import boto3
import requests
from botocore.config import Config

from tests.support.ports import free_port
from tests.support.processes import terminate
from tests.support.waiting import wait_until

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

# moto, like S3, refuses parts under 5 MiB but the last; the tests upload in small parts
# (EXPORT_S3_PART_BYTES) so that a few hundred issues already make a multipart upload.
MIN_PART_BYTES = 1024
REGION = "us-east-1"


class MotoServer:
    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._dir = Path(tempfile.mkdtemp(prefix="rxp-moto-"))
        self.log_path = self._dir / "moto.log"
        with self.log_path.open("ab") as log:
            self._popen = subprocess.Popen(
                [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
                env={
                    **os.environ,
                    **self.credentials(),
                    "S3_UPLOAD_PART_MIN_SIZE": str(MIN_PART_BYTES),
                },
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_until(self._ready, timeout=60, what="moto_server answering")

    def _ready(self) -> bool:
        if self._popen.poll() is not None:
            raise AssertionError(f"moto_server exited:\n{self.log_path.read_text()[-3000:]}")
        try:
            return requests.get(f"{self.url}/moto-api/", timeout=1).ok
        except requests.RequestException:
            return False

    @staticmethod
    def credentials() -> dict[str, str]:
        return {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": REGION,
        }

    def env(self, bucket: str, prefix: str = "exports", **extra: str) -> dict[str, str]:
        """What a service needs to keep its export files in `bucket` on this server."""
        return {
            **self.credentials(),
            "AWS_ENDPOINT_URL": self.url,
            "EXPORT_STORAGE_URL": f"s3://{bucket}/{prefix}",
            **extra,
        }

    def client(self) -> S3Client:
        return boto3.session.Session().client(
            "s3",
            endpoint_url=self.url,
            region_name=REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=Config(s3={"addressing_style": "path"}),
        )

    def new_bucket(self) -> str:
        name = f"rxp-{secrets.token_hex(6)}"
        self.client().create_bucket(Bucket=name)
        return name

    def keys(self, bucket: str, prefix: str = "") -> list[str]:
        pages = (
            self.client().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        )
        return sorted(item["Key"] for page in pages for item in page.get("Contents", []))

    def uploads(self, bucket: str, prefix: str = "") -> list[str]:
        """Keys of the unfinished multipart uploads under `prefix`."""
        answer = self.client().list_multipart_uploads(Bucket=bucket, Prefix=prefix)
        return sorted(upload["Key"] for upload in answer.get("Uploads", []))

    def stop(self) -> None:
        terminate(self._popen)
        shutil.rmtree(self._dir, ignore_errors=True)
