"""Real Odoo server processes (odoo-bin) on a test database, for the tests whose behaviour
depends on Odoo's scheduler and on mail_router's push listener: started, waited for, and
stopped or killed by pid."""
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
import pgcluster
from odoo_cli import odoo_command

START_SECONDS = 120


class OdooServer:
    """``odoo-bin`` serving ``db`` (conftest's OdooDatabase), mail_router loaded server-wide
    unless ``server_wide`` is False, with ``cron_threads`` cron threads (cron worker
    processes in prefork mode: ``workers`` > 0), ``environment`` added to this process's;
    its log in ``log``."""

    def __init__(self, db, log, *, cron_threads=1, server_wide=True, workers=0, environment=None):
        self.port = pgcluster.free_port()
        load = ["--load=base,web,mail_router"] if server_wide else []
        command = odoo_command(db.database, db.name, *load, f"--http-port={self.port}",
                               "--http-interface=127.0.0.1", f"--max-cron-threads={cron_threads}",
                               f"--workers={workers}", "--log-level=info", data_dir=db.data_dir)
        self.log = Path(log)
        with self.log.open("w") as out:
            self.process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
                                            env={**os.environ, **(environment or {})})
        self.owner = f"{socket.gethostname()}:{self.process.pid}"

    def wait_until_serving(self):
        deadline = time.monotonic() + START_SECONDS
        while True:
            assert self.process.poll() is None, f"odoo exited {self.process.returncode}:\n{self.tail()}"
            assert time.monotonic() < deadline, f"odoo did not serve within {START_SECONDS} s:\n{self.tail()}"
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", self.port)) == 0:
                    return self
            time.sleep(0.2)

    def kill(self):
        """SIGKILL to the process and its children: no cleanup, as a crash."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def stop(self):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.kill()

    def tail(self, lines=60):
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


@contextlib.contextmanager
def running(db, tmp_path, count=1, **options):
    """``count`` Odoo servers on ``db``, serving; each stopped at the end, whatever happened."""
    servers = [OdooServer(db, tmp_path / f"odoo-{index}.log", **options) for index in range(count)]
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
