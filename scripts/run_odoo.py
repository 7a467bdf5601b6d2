"""`make run`: Odoo with mail_router on http://127.0.0.1:8069, until Ctrl-C.

The database ``mail_router`` (override: MAIL_ROUTER_DB) is created with the addon on
the first run and updated on later runs. PostgreSQL is a private cluster kept in
``.data/pg``, or the server that PGHOST/PGPORT/PGUSER/PGPASSWORD name.
"""
import contextlib
import os
import signal
import subprocess
import sys

import pgcluster
from odoo_cli import REPO, odoo_command

DATA = REPO / ".data"
DBNAME = os.environ.get("MAIL_ROUTER_DB", "mail_router")
HTTP_PORT = int(os.environ.get("MAIL_ROUTER_HTTP_PORT", "8069"))


def database_exists(database):
    env = dict(os.environ, **database.env())
    result = subprocess.run(
        ["psql", "-X", "-At", "-d", "postgres", "-c", f"SELECT 1 FROM pg_database WHERE datname = '{DBNAME}'"],
        env=env, capture_output=True, text=True, check=True)
    return result.stdout.strip() == "1"


def stop_on_sigterm(_signum, _frame):
    raise KeyboardInterrupt


def main():
    signal.signal(signal.SIGTERM, stop_on_sigterm)
    DATA.mkdir(exist_ok=True)
    database = pgcluster.external_database()
    server = pgcluster.cluster(DATA / "pg") if database is None else contextlib.nullcontext(database)
    with server as database:
        def odoo(*args):
            return odoo_command(database, DBNAME, *args, data_dir=DATA / "odoo")

        if database_exists(database):
            print(f"run: updating mail_router in database {DBNAME}", flush=True)
            step = odoo("--update=mail_router", "--stop-after-init", "--no-http")
        else:
            print(f"run: creating database {DBNAME} with mail_router", flush=True)
            step = odoo("--init=mail_router", "--without-demo=all", "--stop-after-init", "--no-http")
        subprocess.run(step, check=True)
        print(f"\nrun: Odoo on http://127.0.0.1:{HTTP_PORT}/web/login  (login: admin, password: admin"
              " on a new database)\nrun: Ctrl-C stops Odoo and the database server.\n", flush=True)
        serving = subprocess.Popen(odoo("--http-interface=127.0.0.1", f"--http-port={HTTP_PORT}"))
        try:
            return serving.wait()
        except KeyboardInterrupt:
            serving.terminate()
            return serving.wait()


if __name__ == "__main__":
    sys.exit(main())
