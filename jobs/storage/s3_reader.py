"""A seekable, read-only stream over one S3 object: reads come from one ranged GET that
starts where the stream is, and a seek only moves where the next GET starts. So a download
of a whole file is one request, a range request is one request, and nothing is held in
memory beyond the reader's buffer."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from jobs.storage.base import StorageUnavailable

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

# Large enough that a streamed download makes few reads, small enough to be nothing.
READ_BUFFER = 1 << 20


class S3ObjectReader(io.RawIOBase):
    def __init__(self, client: S3Client, bucket: str, key: str, size: int, etag: str) -> None:
        super().__init__()
        self._client = client
        self._bucket = bucket
        self._key = key
        self._size = size
        self._etag = etag
        self._position = 0
        self._body: Any = None

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self._size}[whence]
        target = base + offset
        if target < 0:
            raise ValueError(f"negative seek position {target}")
        if target != self._position:
            self._drop_body()
            self._position = target
        return self._position

    def readinto(self, buffer: Any) -> int:
        if self._position >= self._size:
            return 0
        view = memoryview(buffer).cast("B")
        try:
            if self._body is None:
                # IfMatch: a file replaced meanwhile (a manifest rewritten by a retry)
                # fails the read instead of splicing two versions together.
                self._body = self._client.get_object(
                    Bucket=self._bucket,
                    Key=self._key,
                    Range=f"bytes={self._position}-",
                    IfMatch=f'"{self._etag}"',
                )["Body"]
            data: bytes = self._body.read(len(view))
        except (BotoCoreError, ClientError) as error:
            raise StorageUnavailable(f"object storage: {type(error).__name__}: {error}") from error
        if not data:
            raise OSError(f"s3://{self._bucket}/{self._key} ended at byte {self._position}")
        view[: len(data)] = data
        self._position += len(data)
        return len(data)

    def close(self) -> None:
        self._drop_body()
        super().close()

    def _drop_body(self) -> None:
        if self._body is not None:
            self._body.close()
            self._body = None


def open_object(client: S3Client, bucket: str, key: str, size: int, etag: str) -> io.BufferedReader:
    return io.BufferedReader(S3ObjectReader(client, bucket, key, size, etag), READ_BUFFER)
