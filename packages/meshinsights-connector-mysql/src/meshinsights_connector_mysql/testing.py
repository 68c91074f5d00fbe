"""A throwaway MariaDB server in a temp directory, for tests and benchmarks.

Uses the distribution's binaries (Debian: ``apt-get install mariadb-server``):
``mariadb-install-db`` creates a data directory, ``mariadbd`` serves it on
127.0.0.1 at a free port, and root logs in over the server's Unix socket.
The server can be killed and started again on the same port and data, to
test what clients do when a server goes away.
"""

from __future__ import annotations

import getpass
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pymysql

INSTALL_HINT = (
    "apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y "
    "--no-install-recommends mariadb-server"
)
_SEARCH = ("/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin", "/usr/local/mysql/bin")
_NAMES = {
    "server": ("mariadbd", "mysqld"),
    "install_db": ("mariadb-install-db", "mysql_install_db"),
    "admin": ("mariadb-admin", "mysqladmin"),
}


def find_binaries() -> dict[str, str] | None:
    """Paths of the server, install-db and admin programs, or None when one is missing."""
    path = os.pathsep.join([os.environ.get("PATH", ""), *_SEARCH])
    found: dict[str, str] = {}
    for role, names in _NAMES.items():
        for name in names:
            where = shutil.which(name, path=path)
            if where:
                found[role] = where
                break
        else:
            return None
    return found


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class MariaDBServer:
    """One ``mariadbd`` process on 127.0.0.1 with its data under ``base_dir``."""

    def __init__(self, base_dir: Path, port: int | None = None) -> None:
        binaries = find_binaries()
        if binaries is None:
            raise RuntimeError(f"MariaDB server binaries not found; install them: {INSTALL_HINT}")
        self.binaries = binaries
        self.base_dir = Path(base_dir)
        self.data_dir = self.base_dir / "data"
        self.socket = str(self.base_dir / "mysqld.sock")
        self.port = port or free_port()
        self.host = "127.0.0.1"
        self._process: subprocess.Popen[bytes] | None = None
        self._user = getpass.getuser()

    def install(self) -> None:
        """Create the system tables (once per data directory)."""
        if (self.data_dir / "mysql").is_dir():
            return
        self.base_dir.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [self.binaries["install_db"], "--no-defaults", f"--user={self._user}",
             f"--datadir={self.data_dir}", "--auth-root-authentication-method=normal",
             "--skip-test-db"],
            check=True, capture_output=True, timeout=120,
        )

    def start(self, timeout: float = 30.0) -> None:
        self.install()
        log = open(self.base_dir / "stdout.log", "ab")  # noqa: SIM115 - owned by the process
        self._process = subprocess.Popen(
            [self.binaries["server"], "--no-defaults", f"--user={self._user}",
             f"--datadir={self.data_dir}", f"--socket={self.socket}", f"--port={self.port}",
             "--bind-address=127.0.0.1", f"--pid-file={self.base_dir / 'mysqld.pid'}",
             f"--log-error={self.base_dir / 'error.log'}", "--skip-log-bin",
             "--innodb-buffer-pool-size=64M", "--max-connections=200"],
            stdout=log, stderr=subprocess.STDOUT,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"mariadbd exited at start: {self.error_log_tail()}")
            if self._ping():
                return
            time.sleep(0.05)
        raise RuntimeError(f"mariadbd did not answer within {timeout} s: {self.error_log_tail()}")

    def _ping(self) -> bool:
        try:
            with socket.create_connection((self.host, self.port), timeout=0.5):
                pass
            self.root_connection().close()
        except (OSError, pymysql.err.MySQLError):
            return False
        return True

    def kill(self) -> None:
        """SIGKILL, the way a crash or an OOM kill takes a server down."""
        if self._process is not None and self._process.poll() is None:
            self._process.send_signal(signal.SIGKILL)
            self._process.wait(timeout=30)
        self._process = None

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(timeout=30)
        self._process = None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def error_log_tail(self, lines: int = 15) -> str:
        path = self.base_dir / "error.log"
        text = path.read_text(errors="replace") if path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def root_connection(self, database: str | None = None) -> pymysql.connections.Connection[Any]:
        """An administrative connection as root over the Unix socket."""
        return pymysql.connect(unix_socket=self.socket, user="root", database=database,
                               charset="utf8mb4", autocommit=True, connect_timeout=5)

    def execute(self, *statements: str, database: str | None = None) -> None:
        connection = self.root_connection(database)
        try:
            with connection.cursor() as cursor:
                for statement in statements:
                    cursor.execute(statement)
        finally:
            connection.close()

    def create_user(self, user: str, password: str, database: str) -> None:
        """A database and a user with every right on it, reachable over TCP."""
        connection = self.root_connection()
        try:
            with connection.cursor() as cursor:
                cursor.execute(f"CREATE DATABASE IF NOT EXISTS `{database}` "
                               "CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
                for host in ("127.0.0.1", "localhost"):
                    cursor.execute("CREATE USER IF NOT EXISTS %s@%s IDENTIFIED BY %s",
                                   (user, host, password))
                    cursor.execute(f"GRANT ALL ON `{database}`.* TO %s@%s", (user, host))
        finally:
            connection.close()


@contextmanager
def mariadb_server(base_dir: Path) -> Iterator[MariaDBServer]:
    """A started server, stopped on the way out."""
    server = MariaDBServer(base_dir)
    server.start()
    try:
        yield server
    finally:
        server.stop()
