"""Real Odoo server processes (odoo-bin) on a test database, for the tests whose behaviour
depends on Odoo's scheduler and on mail_router's push listener: started, waited for, and
stopped or killed by pid."""
import contextlib
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
import pgcluster
from odoo_cli import odoo_command
from odoo_process import OdooProcess


def odoo_server(db, log, *, cron_threads=1, server_wide=True, workers=0, environment=None):
    """``odoo-bin`` serving ``db`` (conftest's OdooDatabase), mail_router loaded server-wide
    unless ``server_wide`` is False, with ``cron_threads`` cron threads (cron worker
    processes in prefork mode: ``workers`` > 0), ``environment`` added to this process's;
    its log in ``log``."""
    port = pgcluster.free_port()
    load = ["--load=base,web,mail_router"] if server_wide else []
    command = odoo_command(db.database, db.name, *load, f"--http-port={port}", "--http-interface=127.0.0.1",
                           f"--max-cron-threads={cron_threads}", f"--workers={workers}", "--log-level=info",
                           data_dir=db.data_dir)
    return OdooProcess(command, port, log, environment)


@contextlib.contextmanager
def running(db, tmp_path, count=1, **options):
    """``count`` Odoo servers on ``db``, serving; each stopped at the end, whatever happened."""
    servers = [odoo_server(db, tmp_path / f"odoo-{index}.log", **options) for index in range(count)]
    try:
        for server in servers:
            server.wait_until_serving()
        yield servers
    finally:
        for server in servers:
            server.stop()


def wait_for(condition, what, seconds=90, every=0.2):
    """Until ``condition()`` is true (returns it); fails saying ``what`` after ``seconds``.
    A generous bound: the tests assert what happens, never how fast."""
    deadline = time.monotonic() + seconds
    while True:
        result = condition()
        if result:
            return result
        assert time.monotonic() < deadline, f"{what}: not within {seconds} s"
        time.sleep(every)
