"""A private redis-server on a free port: the session's keeps nothing on disk; a test that
restarts Redis gets its own, with an append-only file, as production runs it."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import redis

from tests.support.ports import free_port
from tests.support.processes import terminate
from tests.support.waiting import wait_until


class PrivateRedis:
    def __init__(self, *, appendonly: bool = False) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not on PATH; .ci/run installs it from apt")
        self._binary = binary
        self._appendonly = appendonly
        self.port = free_port()
        self._dir = Path(tempfile.mkdtemp(prefix="rxp-redis-"))
        self._popen = self._start()

    def _start(self) -> subprocess.Popen[bytes]:
        popen = subprocess.Popen(
            [
                self._binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "yes" if self._appendonly else "no",
                "--appendfsync",
                "everysec",
                "--dir",
                str(self._dir),
                "--logfile",
                str(self._dir / "redis.log"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis(port=self.port)
        wait_until(client.ping, timeout=30, what="private redis-server answering PING")
        client.close()
        return popen

    def restart(self) -> None:
        """Stop (SIGTERM: Redis writes its append-only file out) and start again on the
        same port and directory, as an operator's restart would."""
        self._terminate()
        self._popen = self._start()

    def down(self) -> None:
        """An outage: stop answering until `up` starts the server again on the same port."""
        self._terminate()

    def up(self) -> None:
        self._popen = self._start()

    def _terminate(self) -> None:
        terminate(self._popen)

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def stop(self) -> None:
        self._terminate()
        shutil.rmtree(self._dir, ignore_errors=True)
