"""A throwaway PostgreSQL server of a test's own (initdb and pg_ctl in a temporary directory),
to stop and start at will: never the shared server.

PostgreSQL refuses to run as root, so as root the server runs as the `postgres` user.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.support.processes import free_port

DATABASE = "lendgate"


def server_bin_dir() -> Path | None:
    """The newest installed PostgreSQL's programs, if any."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: p.parts[-3])
    if found:
        return found[-1].parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def server_installed() -> bool:
    """Whether initdb and pg_ctl are there to start a server of one's own."""
    return server_bin_dir() is not None


@dataclass
class PostgresInstance:
    """A server on 127.0.0.1:`port` with its data under `directory`."""

    directory: Path
    port: int
    bin_dir: Path

    @property
    def url(self) -> str:
        """The SQLAlchemy URL of the test database on this server."""
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/{DATABASE}"

    def _run(self, program: str, *args: str) -> None:
        command = [str(self.bin_dir / program), *args]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=120)

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        options = f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(
            "pg_ctl", "-D", str(self.directory / "data"), "-l", str(self.directory / "server.log"),
            "-o", options, "-w", "-t", "60", "start",
        )  # fmt: skip

    def stop(self) -> None:
        """Stop the server at once, dropping every connection (as a crash or failover would)."""
        self._run("pg_ctl", "-D", str(self.directory / "data"), "-m", "immediate", "-w", "stop")


@contextlib.contextmanager
def postgres_instance() -> Iterator[PostgresInstance]:
    """A new, running server with an empty `lendgate` database; removed afterwards."""
    directory = Path(tempfile.mkdtemp(prefix="lendgate-pg-"))
    if os.geteuid() == 0:
        shutil.chown(directory, "postgres", "postgres")
    bin_dir = server_bin_dir()
    if bin_dir is None:
        raise RuntimeError("the PostgreSQL server programs are not installed")
    instance = PostgresInstance(directory, free_port(), bin_dir)
    try:
        instance._run(
            "initdb", "-D", str(directory / "data"), "-A", "trust", "-U", "postgres",
            "--no-sync", "-E", "UTF8",
        )  # fmt: skip
        instance.start()
        instance._run(
            "createdb", "-h", "127.0.0.1", "-p", str(instance.port), "-U", "postgres", DATABASE
        )
        yield instance
    finally:
        with contextlib.suppress(subprocess.CalledProcessError, subprocess.TimeoutExpired):
            instance.stop()
        shutil.rmtree(directory, ignore_errors=True)
