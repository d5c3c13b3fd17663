"""A throwaway PostgreSQL server for tests, run with Debian's own binaries (package `postgresql`).

`postgres_server(tmp_path)` starts one in a private temporary folder: trust auth, a Unix socket in that folder
and TCP on 127.0.0.1 with a free port, and one empty database for the test. It is stopped (`pg_ctl stop -m
fast`) and its folder removed when the block ends, even when the test fails; the server's log is copied to
`tmp_path/postgres.log` for a post-mortem. `postgres_fixture()` makes a pytest fixture of it.

As root (CI), initdb refuses to run, so the server runs as the `postgres` system user that the Debian
package creates, in a folder that user owns. The server folder lives in the system temp folder rather
than in `tmp_path` because pytest's base folder is private to the user who runs it (the `postgres` user
could not reach it) and because a Unix socket's path must fit in 107 bytes, which a test's `tmp_path`
can exceed.
"""

from __future__ import annotations

import importlib.util
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

SUPERUSER = "postgres"
DATABASE = "mlpilot_test"
# psycopg 3 (`psycopg[binary]`): SQLAlchemy's `postgresql+psycopg` dialect, no compiler or libpq headers.
DRIVER = "psycopg"
DEBIAN_BIN_GLOB = "/usr/lib/postgresql/*/bin"
INSTALL_HINT = "install Debian's `postgresql` package (apt-get install --no-install-recommends postgresql)"
# The server runs as this user when the tests run as root: the one Debian's package creates.
SERVER_USER_AS_ROOT = "postgres"
START_TIMEOUT_S = 30
STOP_TIMEOUT_S = 20


class PostgresUnavailable(RuntimeError):
    """The server cannot be started here: binaries or the `postgres` user are missing, or it failed to
    start (the message then carries the tail of its log)."""


@dataclass
class PgServer:
    """A running throwaway server. `url` is a SQLAlchemy URL to its test database over TCP; `socket_dir`
    is where its Unix socket lives (`host=socket_dir` for libpq clients)."""

    url: str
    host: str
    port: int
    user: str
    database: str
    socket_dir: Path
    data_dir: Path
    log_file: Path
    _stop: Callable[[], None] = field(repr=False)

    def url_for(self, database: str) -> str:
        """The SQLAlchemy URL of another database on this server (e.g. one a test creates)."""
        return f"postgresql+{DRIVER}://{self.user}@{self.host}:{self.port}/{database}"

    def pid(self) -> int | None:
        """The postmaster's process id while it runs (first line of `postmaster.pid`), else None."""
        try:
            return int((self.data_dir / "postmaster.pid").read_text().split("\n", 1)[0])
        except (OSError, ValueError):
            return None

    def stop(self) -> None:
        """Stop the server and remove its folder; safe to call more than once."""
        self._stop()


def find_bin_dir() -> Path:
    """The folder holding `initdb`, `pg_ctl` and `createdb` of one PostgreSQL version: the one on PATH if
    any (resolved, so a symlink in /usr/local/bin leads to its version's folder), else Debian's newest."""
    candidates = []
    on_path = shutil.which("pg_ctl")
    if on_path:
        candidates.append(Path(on_path).resolve().parent)
    # Debian keeps server binaries off PATH, one folder per major version; newest first.
    debian = sorted(Path("/").glob(DEBIAN_BIN_GLOB.lstrip("/")),
                    key=lambda p: [int(n) for n in re.findall(r"\d+", p.parent.name)], reverse=True)
    candidates.extend(debian)
    for folder in candidates:
        if all(os.access(folder / name, os.X_OK) for name in ("initdb", "pg_ctl", "createdb", "postgres")):
            return folder
    raise PostgresUnavailable(f"No PostgreSQL server binaries (initdb, pg_ctl, postgres) on PATH or in "
                              f"{DEBIAN_BIN_GLOB}; the PostgreSQL tests need a real server: {INSTALL_HINT}.")


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now (the OS picks it); the server binds it a moment later."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _server_user() -> pwd.struct_passwd | None:
    """None when the server can run as the current user; the `postgres` user's entry as root."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(SERVER_USER_AS_ROOT)
    except KeyError:
        raise PostgresUnavailable(f"The tests run as root and initdb refuses root, so the server must run as "
                                  f"the '{SERVER_USER_AS_ROOT}' user, which does not exist; {INSTALL_HINT} "
                                  f"(it creates that user), or run the tests as a normal user.") from None


def _run(argv: list[str], *, as_user: pwd.struct_passwd | None, cwd: Path,
         timeout: float) -> subprocess.CompletedProcess[str]:
    """Run a server binary, as `as_user` when given (root dropping to `postgres`), output captured."""
    if as_user is not None:
        argv = ["runuser", "-u", as_user.pw_name, "--", *argv]
    # A C locale: initdb's choice must not depend on the developer's or the container's locale settings.
    env = {**os.environ, "LC_ALL": "C", "LANG": "C"}
    env.pop("PGDATA", None)
    return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False)


def _log_tail(log_file: Path, lines: int = 20) -> str:
    try:
        return "\n".join(log_file.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no server log)"


def _failure(what: str, proc: subprocess.CompletedProcess[str], log_file: Path) -> PostgresUnavailable:
    output = (proc.stdout + proc.stderr).strip()
    return PostgresUnavailable(f"The test PostgreSQL server failed: {what} exited with {proc.returncode}.\n"
                               f"{output}\n--- server log tail ---\n{_log_tail(log_file)}")


def _start(bin_dir: Path, folder: Path, as_user: pwd.struct_passwd | None) -> int:
    """initdb and start the server in `folder`; returns its port. A port taken between `free_port` and the
    bind is retried with another one."""
    data_dir, log_file = folder / "data", folder / "postgres.log"
    init = _run([str(bin_dir / "initdb"), "-D", str(data_dir), "-U", SUPERUSER, "--auth=trust", "-E", "UTF8",
                 "--no-locale", "--no-sync"], as_user=as_user, cwd=folder, timeout=START_TIMEOUT_S)
    if init.returncode != 0:
        raise _failure("initdb", init, log_file)
    conf = data_dir / "postgresql.conf"
    base_conf = conf.read_text()
    for _attempt in range(3):
        port = free_port()
        # Settings for a throwaway server: durability off (fast startup and writes), only local connections.
        conf.write_text(base_conf + "\n".join([
            "", f"port = {port}", "listen_addresses = '127.0.0.1'", f"unix_socket_directories = '{folder}'",
            "fsync = off", "synchronous_commit = off", "full_page_writes = off", "max_connections = 50",
            "logging_collector = off", ""]))
        start = _run([str(bin_dir / "pg_ctl"), "start", "-D", str(data_dir), "-l", str(log_file), "-w",
                      "-t", str(START_TIMEOUT_S)], as_user=as_user, cwd=folder, timeout=START_TIMEOUT_S + 5)
        if start.returncode == 0:
            return port
        if "could not bind" not in _log_tail(log_file, 50):
            raise _failure("pg_ctl start", start, log_file)
    raise _failure("pg_ctl start (three ports taken)", start, log_file)


@contextmanager
def postgres_server(tmp_path: Path, *, database: str = DATABASE) -> Iterator[PgServer]:
    """A running PostgreSQL server with an empty `database`, stopped when the block ends.

    Args:
        tmp_path: where the server's log is copied when it stops (`postgres.log`).
        database: the name of the database created for the test.

    Raises:
        PostgresUnavailable: no server binaries (install Debian's `postgresql`), no `postgres` user as
            root, or the server did not start (the message carries its log tail).
    """
    bin_dir = find_bin_dir()
    as_user = _server_user()
    # Short and in the system temp folder: see the module docstring (socket path length, root's tmp_path).
    folder = Path(tempfile.mkdtemp(prefix="mlpilot-pg-"))
    if as_user is not None:
        os.chown(folder, as_user.pw_uid, as_user.pw_gid)
    data_dir, log_file = folder / "data", folder / "postgres.log"
    stopped = False

    def stop() -> None:
        nonlocal stopped
        if stopped:
            return
        stopped = True
        try:
            if (data_dir / "postmaster.pid").exists():
                proc = _run([str(bin_dir / "pg_ctl"), "stop", "-D", str(data_dir), "-m", "fast", "-w",
                             "-t", str(STOP_TIMEOUT_S)], as_user=as_user, cwd=folder, timeout=STOP_TIMEOUT_S + 5)
                if proc.returncode != 0:
                    _kill_postmaster(data_dir)
        finally:
            if log_file.exists():
                tmp_path.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(log_file, tmp_path / "postgres.log")
            shutil.rmtree(folder, ignore_errors=True)

    try:
        port = _start(bin_dir, folder, as_user)
        create = _run([str(bin_dir / "createdb"), "-h", str(folder), "-p", str(port), "-U", SUPERUSER, database],
                      as_user=None, cwd=folder, timeout=START_TIMEOUT_S)
        if create.returncode != 0:
            raise _failure("createdb", create, log_file)
        server = PgServer(url=f"postgresql+{DRIVER}://{SUPERUSER}@127.0.0.1:{port}/{database}", host="127.0.0.1",
                          port=port, user=SUPERUSER, database=database, socket_dir=folder, data_dir=data_dir,
                          log_file=log_file, _stop=stop)
    except PostgresUnavailable as error:
        stop()  # removes the server folder, so point at the log's copy
        raise PostgresUnavailable(f"{error}\n(full log: {tmp_path / 'postgres.log'})") from None
    except BaseException:
        stop()
        raise
    try:
        yield server
    finally:
        stop()


def _kill_postmaster(data_dir: Path) -> None:
    """Last resort when `pg_ctl stop` failed: SIGQUIT (immediate shutdown) to this server's postmaster only,
    found by its pid file, then SIGKILL if it is still there; its children exit with it."""
    try:
        pid = int((data_dir / "postmaster.pid").read_text().split("\n", 1)[0])
    except (OSError, ValueError):
        return
    for sig in (signal.SIGQUIT, signal.SIGKILL):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.05)


def postgres_fixture(*, scope: Any = "module", database: str = DATABASE) -> Any:
    """A pytest fixture yielding a `PgServer`, one per `scope`; assign it to the fixture's name:
    `pg = postgres_fixture()`. Missing binaries or driver fail the tests that use it, with the way to
    install them: a silent skip would let CI pass without ever running them."""

    @pytest.fixture(scope=scope)
    def fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PgServer]:
        if importlib.util.find_spec(DRIVER) is None:
            pytest.fail(f"The PostgreSQL tests need the '{DRIVER}' driver that SQLAlchemy's URL names; install "
                        f"it with: pip install -e '.[test]' (psycopg[binary]).", pytrace=False)
        try:
            with postgres_server(tmp_path_factory.mktemp("postgres"), database=database) as server:
                yield server
        except PostgresUnavailable as error:
            pytest.fail(str(error), pytrace=False)

    return fixture
