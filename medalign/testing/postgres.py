"""A throwaway PostgreSQL server for tests and benches: Debian's binaries, a temporary data folder,
a free loopback port. Raises Unavailable, with the reason, when it cannot start (tests skip on it)."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from contextlib import contextmanager


class Unavailable(RuntimeError):
    """No PostgreSQL server can be started here; the message says why."""


def _bin_dir() -> str | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    if found:
        return os.path.dirname(found[-1])
    path = shutil.which("pg_ctl")
    return os.path.dirname(path) if path else None


def _as_postgres_user() -> list[str]:
    """initdb refuses to run as root: drop to the 'postgres' system user when we are root."""
    if os.geteuid() != 0:
        return []
    if shutil.which("runuser") is None:
        raise Unavailable("running as root without 'runuser' to start PostgreSQL as another user")
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        raise Unavailable("running as root and there is no 'postgres' user to run PostgreSQL") from None
    return ["runuser", "-u", "postgres", "--"]


@contextmanager
def postgres_server():
    """Yield a SQLAlchemy URL of a fresh, empty database; stop and delete it afterwards."""
    bin_dir = _bin_dir()
    if bin_dir is None:
        raise Unavailable("PostgreSQL server binaries not found (apt-get install postgresql); .ci/run installs them")
    prefix = _as_postgres_user()
    root = tempfile.mkdtemp(prefix="medalign-pg-")
    data = os.path.join(root, "data")
    if prefix:
        shutil.chown(root, "postgres")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    run = dict(check=True, capture_output=True, text=True)
    try:
        subprocess.run([*prefix, f"{bin_dir}/initdb", "-D", data, "-U", "medalign", "--auth=trust", "-E", "UTF8"], **run)
        subprocess.run(
            [*prefix, f"{bin_dir}/pg_ctl", "-D", data, "-l", os.path.join(root, "log"), "-w", "-t", "60",
             "-o", f"-p {port} -h 127.0.0.1 -k {root} -c fsync=on -c max_connections=200", "start"],
            **run,
        )
    except (subprocess.CalledProcessError, OSError) as exc:
        shutil.rmtree(root, ignore_errors=True)
        detail = getattr(exc, "stderr", "") or str(exc)
        raise Unavailable(f"PostgreSQL could not start: {detail.strip()[:300]}") from exc
    try:
        subprocess.run([f"{bin_dir}/createdb", "-h", "127.0.0.1", "-p", str(port), "-U", "medalign", "medalign"], **run)
        yield f"postgresql+psycopg://medalign@127.0.0.1:{port}/medalign"
    finally:
        subprocess.run([*prefix, f"{bin_dir}/pg_ctl", "-D", data, "-m", "immediate", "stop"], capture_output=True)
        time.sleep(0.2)
        shutil.rmtree(root, ignore_errors=True)
