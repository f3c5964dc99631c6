"""A PostgreSQL server of the tests' own: a throwaway cluster (initdb) on a free port, deleted afterwards.

Used when TEST_DATABASE=postgres (scripts/test runs the unit suite and the database-heavy integration tests
that way too). Debian's server binaries live in /usr/lib/postgresql/<version>/bin; scripts/bootstrap.sh
installs them when they are missing. initdb refuses to run as root, so as root the cluster belongs to the
`postgres` system user.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from .procs import Proc, free_port, port_open, wait_until

USER = DATABASE = "portal"


def server_bin_dir() -> Path:
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if candidates:
        return Path(candidates[-1]).parent
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).parent
    raise RuntimeError("PostgreSQL server binaries are missing: run scripts/bootstrap.sh --for-tests")


class PostgresServer:
    def __init__(self, port: int | None = None):
        self.port = port or free_port()
        self.bin = server_bin_dir()
        # Not under pytest's tmp dir: that is private to root, and the server may run as `postgres`.
        self.dir = Path(tempfile.mkdtemp(prefix=f"portal-pg-{self.port}-"))
        self.as_root = os.geteuid() == 0
        self.proc: Proc | None = None

    @property
    def url(self) -> str:
        return f"postgres://{USER}@127.0.0.1:{self.port}/{DATABASE}"

    def _argv(self, *argv: str) -> list[str]:
        return ["runuser", "-u", "postgres", "--", *argv] if self.as_root else list(argv)

    def start(self) -> PostgresServer:
        data = self.dir / "data"
        if not data.exists():
            if self.as_root:
                shutil.chown(self.dir, "postgres", "postgres")
            subprocess.run(
                self._argv(
                    str(self.bin / "initdb"),
                    "-D",
                    str(data),
                    "-U",
                    USER,
                    "-A",
                    "trust",
                    "--no-sync",
                    "-E",
                    "UTF8",
                    "--locale=C",
                ),
                check=True,
                capture_output=True,
                timeout=120,
            )
        # Durability off: these clusters live for one test run, and fsync would dominate its time.
        self.proc = Proc(
            "postgres",
            self._argv(
                str(self.bin / "postgres"),
                "-D",
                str(data),
                "-p",
                str(self.port),
                "-k",
                str(self.dir),
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
                "-c",
                "max_connections=200",
            ),
            log_dir=self.dir,
        ).start()
        wait_until(lambda: port_open(self.port) or not self.proc.alive, 30, what=f"postgres on {self.port}")
        if not self.proc.alive:
            raise RuntimeError("postgres did not start:\n" + self.proc.log())
        self._create_database()
        return self

    def _create_database(self) -> None:
        def created() -> bool:
            result = subprocess.run(
                [str(self.bin / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", USER, DATABASE],
                capture_output=True,
                text=True,
                timeout=30,
            )
            return result.returncode == 0 or "already exists" in result.stderr

        wait_until(created, 30, interval=0.2, what="the portal database")

    def stop(self) -> None:
        if self.proc:
            self.proc.stop(timeout=10)
        shutil.rmtree(self.dir, ignore_errors=True)
