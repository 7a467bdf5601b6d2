"""`make run`: Odoo with mail_router on http://127.0.0.1:8069, until Ctrl-C.

The port (MAIL_ROUTER_HTTP_PORT) is checked first, by the Makefile before the set-up and
here again before Odoo starts (http_port.py): taken, `make run` stops with the line to type.

The database ``mail_router`` (override: MAIL_ROUTER_DB) is created with the addon on
the first run and updated on later runs. It gets Purchase, Sales and CRM (and so the
bridges mail_router_purchase, mail_router_sale, mail_router_account), OCA's Helpdesk
(helpdesk_mgmt, from .data/oca-addons: requirements-oca-neighbours.txt, installed from
PyPI when missing), and an alias domain when it has none (MAIL_ROUTER_ALIAS_DOMAIN,
default ``mail-router.localhost``), so the seed's aliases sales@, purchase@ and support@
(a helpdesk team's) exist. PostgreSQL is a private cluster kept in ``.data/pg``, or the
server that PGHOST/PGPORT/PGUSER/PGPASSWORD name.

Odoo's log goes to the terminal and to ``.data/odoo.log`` (appended, run after run: grep it).
"""
import contextlib
import os
import signal
import subprocess
import sys

import http_port
import pgcluster
from odoo_cli import REPO, oca_addons, odoo_command

DATA = REPO / ".data"
LOG = DATA / "odoo.log"
DBNAME = os.environ.get("MAIL_ROUTER_DB", "mail_router")
ALIAS_DOMAIN = os.environ.get("MAIL_ROUTER_ALIAS_DOMAIN", "mail-router.localhost")
# The seed's story, ready to try: an RFQ from a PO, a quotation, a lead (and a ticket,
# HELPDESK, when its OCA module is there).
APPS = "purchase,sale_management,crm"
HELPDESK = "helpdesk_mgmt"
SERVER_WIDE_MODULES = "base,web,mail_router"  # mail_router server-wide: its push listener runs
# For `odoo-bin shell`, before the apps: their bridges make the seed's aliases at install,
# on the alias domain. Stock gives a database's first alias domain to every company and
# alias; without one, Message-IDs end in @localhost and no alias receives mail.
GIVE_ALIAS_DOMAIN = f"""
if not env["mail.alias.domain"].search_count([]):
    env["mail.alias.domain"].create({{"name": {ALIAS_DOMAIN!r}}})
    env.cr.commit()
    print("run: alias domain {ALIAS_DOMAIN}")
"""
# The seed's support@: a helpdesk team's alias (new mail makes a ticket of the team), made
# once, if no alias has that name (an administrator's is never taken over).
GIVE_SUPPORT_ALIAS = """
if ("helpdesk.ticket.team" in env and env.company.alias_domain_id
        and not env["mail.alias"].search_count([("alias_name", "=", "support")])):
    env["helpdesk.ticket.team"].create({"name": "Support", "alias_name": "support"})
    env.cr.commit()
    print("run: helpdesk team Support, alias support@" + env.company.alias_domain_id.name)
"""


def helpdesk_addons():
    """The OCA addons folder when it has helpdesk_mgmt (installed from PyPI if missing), else None."""
    try:
        folder, _modules = oca_addons()
    except (OSError, subprocess.CalledProcessError) as error:
        print(f"run: OCA's helpdesk_mgmt could not be installed ({error}): no helpdesk", flush=True)
        return None
    return folder if (folder / HELPDESK).is_dir() else None


def database_exists(database):
    env = dict(os.environ, **database.env())
    result = subprocess.run(
        ["psql", "-X", "-At", "-d", "postgres", "-c", f"SELECT 1 FROM pg_database WHERE datname = '{DBNAME}'"],
        env=env, capture_output=True, text=True, check=True)
    return result.stdout.strip() == "1"


def stop_on_sigterm(_signum, _frame):
    raise KeyboardInterrupt


def run_logged(command):
    """Run ``command``, its output on the terminal and appended to LOG; on Ctrl-C, stop it
    and keep logging until it has stopped."""
    with open(LOG, "a", encoding="utf-8") as log:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                   text=True, errors="replace")

        def copy_lines():
            for line in process.stdout:
                sys.stdout.write(line)
                log.write(line)
                log.flush()

        try:
            copy_lines()
        except KeyboardInterrupt:
            process.terminate()
            copy_lines()
        code = process.wait()
    if code:
        print(f"run: odoo exited {code} (its log: {LOG})", flush=True)
    return code


def psql_command(database):
    """The psql command line that reaches the database of `make run`."""
    return (f"PGPASSWORD={database.password} psql -h {database.host} -p {database.port} "
            f"-U {database.user} {DBNAME}")


def main():
    try:
        port = http_port.check()
    except http_port.PortProblem as problem:
        print(problem, file=sys.stderr, flush=True)
        return 1
    signal.signal(signal.SIGTERM, stop_on_sigterm)
    DATA.mkdir(exist_ok=True)
    database = pgcluster.external_database()
    server = pgcluster.cluster(DATA / "pg") if database is None else contextlib.nullcontext(database)
    oca_folder = helpdesk_addons()
    apps = f"{APPS},{HELPDESK}" if oca_folder else APPS
    with server as database:
        def odoo(*args):
            return odoo_command(database, DBNAME, *args, data_dir=DATA / "odoo",
                                extra_addons=(oca_folder,) if oca_folder else ())

        def odoo_shell(script):
            command = odoo("--no-http", "--log-level=warn")
            command.insert(2, "shell")  # odoo-bin's subcommand comes before its options
            subprocess.run(command, input=script, text=True, check=True)

        print(f"run: Odoo's log: {LOG} (also below)\nrun: its database: {psql_command(database)}", flush=True)
        if database_exists(database):
            print(f"run: updating mail_router in database {DBNAME}", flush=True)
            update = ("--update=mail_router",)
        else:
            print(f"run: creating database {DBNAME} with mail_router", flush=True)
            if run_logged(odoo("--init=mail_router", "--without-demo=all", "--stop-after-init", "--no-http")):
                return 1
            update = ()
        odoo_shell(GIVE_ALIAS_DOMAIN)
        print(f"run: {apps} in database {DBNAME}, installed if missing", flush=True)
        if run_logged(odoo(f"--init={apps}", *update, "--without-demo=all", "--stop-after-init", "--no-http")):
            return 1
        odoo_shell(GIVE_SUPPORT_ALIAS)
        try:  # again: the set-up took minutes, something may have taken the port since
            http_port.check(port)
        except http_port.PortProblem as problem:
            print(problem, file=sys.stderr, flush=True)
            return 1
        print(f"\nrun: Odoo on http://127.0.0.1:{port}/web/login  (login: admin, password: admin"
              " on a new database)\nrun: Ctrl-C stops Odoo and the database server.\n", flush=True)
        # loaded server-wide, mail_router starts its push listener with the server
        return run_logged(odoo(f"--http-interface={http_port.INTERFACE}", f"--http-port={port}",
                               f"--load={SERVER_WIDE_MODULES}"))


if __name__ == "__main__":
    sys.exit(main())
