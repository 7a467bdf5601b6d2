"""A private PostgreSQL 15 cluster on 127.0.0.1 for `make run` and `make test`.

PostgreSQL refuses to run as root and Odoo refuses the ``postgres`` role, so when we
are root the server runs as the ``postgres`` OS user, and Odoo gets a role of its own
(``odoo``, with CREATEDB).  ``PGHOST``/``PGPORT``/``PGUSER``/``PGPASSWORD`` in the
environment point everything at an existing server instead.
"""
import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

PG_BIN = Path(os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin"))
ODOO_ROLE = "odoo"
ODOO_PASSWORD = "odoo"


@dataclass(frozen=True)
class Database:
    host: str
    port: int
    user: str
    password: str

    def odoo_args(self):
        return [
            f"--db_host={self.host}", f"--db_port={self.port}",
            f"--db_user={self.user}", f"--db_password={self.password}",
        ]

    def env(self):
        """libpq variables, for psql and for psycopg2 in the system tests."""
        return {"PGHOST": self.host, "PGPORT": str(self.port),
                "PGUSER": self.user, "PGPASSWORD": self.password}


def external_database():
    """The server named by PG* variables, or None to start our own."""
    if not os.environ.get("PGHOST"):
        return None
    return Database(
        host=os.environ["PGHOST"], port=int(os.environ.get("PGPORT", "5432")),
        user=os.environ.get("PGUSER", ODOO_ROLE), password=os.environ.get("PGPASSWORD", ""),
    )


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _server_user():
    """(uid, gid, name) that runs the server: ourselves, or ``postgres`` when we are root."""
    if os.geteuid() != 0:
        return os.getuid(), os.getgid(), pwd.getpwuid(os.getuid()).pw_name
    try:
        entry = pwd.getpwnam("postgres")
    except KeyError:
        raise SystemExit("pgcluster: running as root needs the 'postgres' OS user "
                         "(Debian package postgresql-15 creates it)") from None
    return entry.pw_uid, entry.pw_gid, entry.pw_name


def _run_as_server_user(args, check=True, **kwargs):
    uid, gid, _name = _server_user()

    def drop_privileges():
        if os.geteuid() == 0:
            os.setgid(gid)
            os.setuid(uid)

    return subprocess.run(args, preexec_fn=drop_privileges, check=check, **kwargs)


def _initdb(datadir):
    uid, gid, name = _server_user()
    datadir.mkdir(parents=True, exist_ok=True)
    os.chown(datadir, uid, gid)
    datadir.chmod(0o700)
    _run_as_server_user(
        [PG_BIN / "initdb", "-D", datadir, "-U", name, "--auth-local=trust",
         "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8"],
        stdout=subprocess.DEVNULL,
    )


def _psql(datadir, port, sql):
    _run_as_server_user(
        [PG_BIN / "psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", datadir,
         "-p", str(port), "-U", _server_user()[2], "-d", "postgres", "-c", sql],
        stdout=subprocess.DEVNULL,
    )


@contextlib.contextmanager
def cluster(datadir=None, port=None):
    """Start a cluster (kept in ``datadir``, or a temporary one), yield its Database, stop it.

    Stopping happens also on an exception or Ctrl-C.
    """
    if not (PG_BIN / "postgres").exists():
        raise SystemExit(f"pgcluster: no PostgreSQL 15 server at {PG_BIN} "
                         "(Debian package postgresql-15)")
    temporary = datadir is None
    if temporary:
        datadir = Path(tempfile.mkdtemp(prefix="mail_router_pg_"))
        os.chmod(datadir, 0o755)
        datadir = datadir / "data"
    datadir = Path(datadir).resolve()
    port = port or free_port()
    if not (datadir / "PG_VERSION").exists():
        _initdb(datadir)
    log = datadir / "server.log"
    _run_as_server_user(
        [PG_BIN / "pg_ctl", "-D", datadir, "-l", log, "-w", "-t", "60", "start", "-o",
         f"-h 127.0.0.1 -p {port} -k {datadir} -c fsync=off -c full_page_writes=off"],
        stdout=subprocess.DEVNULL,
    )
    try:
        _ensure_odoo_role(datadir, port)
        yield Database("127.0.0.1", port, ODOO_ROLE, ODOO_PASSWORD)
    finally:
        # Not checked: after Ctrl-C the server may have stopped already (it got the SIGINT too).
        _run_as_server_user([PG_BIN / "pg_ctl", "-D", datadir, "-m", "fast", "-w", "stop"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        if temporary:
            shutil.rmtree(datadir.parent, ignore_errors=True)


def _ensure_odoo_role(datadir, port):
    _psql(datadir, port, f"""
        DO $$ BEGIN
          IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{ODOO_ROLE}') THEN
            CREATE ROLE {ODOO_ROLE} LOGIN CREATEDB PASSWORD '{ODOO_PASSWORD}';
          END IF;
        END $$;""")


@contextlib.contextmanager
def admin_connection(database):
    import psycopg2  # the venv's: the rest of this module needs the standard library only

    connection = psycopg2.connect(dbname="postgres", host=database.host, port=database.port,
                                  user=database.user, password=database.password)
    connection.autocommit = True
    try:
        with connection.cursor() as cursor:
            yield cursor
    finally:
        connection.close()


def drop_database(database, name, attempts=30):
    """Drop ``name``. Without FORCE first: PostgreSQL then stops an autovacuum worker
    busy on it (a superuser's process, which FORCE may not terminate for us)."""
    import psycopg2

    for _attempt in range(attempts):
        with admin_connection(database) as cursor:
            try:
                cursor.execute(f'DROP DATABASE IF EXISTS "{name}"')
                return
            except psycopg2.errors.ObjectInUse:
                with contextlib.suppress(psycopg2.errors.InsufficientPrivilege):
                    cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                    return
        time.sleep(1)
    raise RuntimeError(f"could not drop database {name}: it stays in use")
