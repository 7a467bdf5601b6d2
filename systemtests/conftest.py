"""Fixtures for tests that drive a real Odoo from outside, on committed databases.

`make test` starts the PostgreSQL cluster and passes it in PG* variables; these
tests create their own throwaway databases there and drop them afterwards.
"""
import contextlib
import os
import subprocess
import sys
import uuid
from pathlib import Path

import psycopg2
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
import pgcluster
from odoo_cli import ODOO_SRC, addons_path, odoo_command


def pytest_configure(config):
    config.pluginmanager.import_plugin("testsupport.fixtures")  # dovecot, imaps_proxy...


@pytest.fixture(scope="session")
def database():
    database = pgcluster.external_database()
    if database is None:
        pytest.fail("no PostgreSQL server: run these tests through `make test` (or set PGHOST...)")
    return database


class OdooDatabase:
    """A committed throwaway database and the odoo-bin commands that act on it."""

    def __init__(self, database, name, data_dir):
        self.database, self.name, self.data_dir = database, name, data_dir

    def odoo(self, *args, check=True):
        command = odoo_command(self.database, self.name, *args, "--log-level=warn",
                               "--no-http", "--max-cron-threads=0", data_dir=self.data_dir)
        result = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
        if check and result.returncode:
            raise AssertionError(f"odoo {' '.join(args)} exited {result.returncode}:\n{result.stderr[-4000:]}")
        return result

    def shell(self, code):
        """Run ``code`` in `odoo-bin shell` (``env`` is there); returns what it printed."""
        command = odoo_command(self.database, self.name, "--log-level=warn", "--no-http",
                               data_dir=self.data_dir)
        command.insert(2, "shell")
        result = subprocess.run(command, input=code, capture_output=True, text=True, timeout=600, check=False)
        if result.returncode:
            raise AssertionError(f"odoo shell failed:\n{result.stderr[-4000:]}")
        return result.stdout

    def query(self, sql, params=()):
        with psycopg2.connect(dbname=self.name, **self._connection()) as connection:
            with connection.cursor() as cursor:
                cursor.execute(sql, params)
                return cursor.fetchall()

    def _connection(self):
        return {"host": self.database.host, "port": self.database.port,
                "user": self.database.user, "password": self.database.password}

    def drop(self):
        pgcluster.drop_database(self.database, self.name)


@pytest.fixture
def odoo_db(database, tmp_path):
    odoo_database = OdooDatabase(database, f"sys_{uuid.uuid4().hex[:10]}",
                                 Path(os.environ.get("MAIL_ROUTER_TMP", tmp_path)) / "odoo-data")
    yield odoo_database
    odoo_database.drop()


@pytest.fixture(scope="session")
def odoo_in_process(database, tmp_path_factory):
    """Odoo imported in this process, configured for the test cluster: its cursors
    commit for real, as the cron's do."""
    sys.path.insert(0, str(ODOO_SRC))
    import odoo  # importable only once ODOO_SRC is on the path

    odoo.tools.config.parse_config([
        f"--addons-path={addons_path()}", f"--data-dir={tmp_path_factory.mktemp('odoo-data')}",
        *database.odoo_args(), "--log-level=warn", "--max-cron-threads=0",
    ], setup_logging=False)
    return odoo


class OdooEnv:
    """Environments on a committed database, each in its own transaction."""

    def __init__(self, odoo, dbname):
        self.odoo, self.dbname = odoo, dbname

    @contextlib.contextmanager
    def __call__(self):
        registry = self.odoo.modules.registry.Registry(self.dbname)
        with registry.cursor() as cr:
            yield self.odoo.api.Environment(cr, self.odoo.SUPERUSER_ID, {})


@pytest.fixture(scope="module")
def mail_router_db(database, odoo_in_process, tmp_path_factory):
    """A committed database with mail_router installed, for the module's tests."""
    odoo_database = OdooDatabase(database, f"sys_{uuid.uuid4().hex[:10]}", tmp_path_factory.mktemp("odoo-data"))
    odoo_database.odoo("--init=mail_router", "--without-demo=all", "--stop-after-init")
    odoo_database.env = OdooEnv(odoo_in_process, odoo_database.name)
    yield odoo_database
    odoo_in_process.modules.registry.Registry.delete(odoo_database.name)
    odoo_database.drop()
