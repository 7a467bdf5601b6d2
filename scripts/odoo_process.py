"""An ``odoo-bin`` server process, for the system tests and the benchmark: started in a
process group of its own, waited for until it serves HTTP, stopped or killed by its pid."""
import contextlib
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

START_SECONDS = 120


class OdooProcess:
    """``command`` (an odoo-bin command line serving HTTP on 127.0.0.1:``port``) running,
    its output appended to ``log``, ``environment`` added to this process's."""

    def __init__(self, command, port, log, environment=None):
        self.port, self.log = port, Path(log)
        with self.log.open("a") as out:
            self.process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
                                            env={**os.environ, **(environment or {})})
        self.owner = f"{socket.gethostname()}:{self.process.pid}"  # as mail_router names a process

    def wait_until_serving(self):
        deadline = time.monotonic() + START_SECONDS
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"odoo exited {self.process.returncode}:\n{self.tail()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"odoo did not serve within {START_SECONDS} s:\n{self.tail()}")
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", self.port)) == 0:
                    return self
            time.sleep(0.2)

    def wait_until_scheduling(self, connection, cron_threads):
        """Until this threaded server's ``cron_threads`` cron threads LISTEN for triggers
        (``connection``: psycopg2, autocommit, to the cluster). They start after HTTP
        serves, once the registry is loaded; a trigger NOTIFYed before is lost, and its
        job waits for their first poll, a minute later (Odoo's ``cron_thread``). Each holds
        a connection to the ``postgres`` database whose last statement is the COMMIT of its
        LISTEN."""
        deadline = time.monotonic() + START_SECONDS
        while True:
            with connection.cursor() as cursor:
                cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = 'postgres' "
                               "AND application_name = %s AND state = 'idle' AND query = 'COMMIT'",
                               [f"odoo-{self.process.pid}"])
                if cursor.fetchone()[0] >= cron_threads:
                    return self
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"odoo's {cron_threads} cron thread(s) did not start:\n{self.tail()}")
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
