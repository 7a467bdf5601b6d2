"""Push delivery: a listener holds one IMAP IDLE connection per mailbox and makes the
mailbox's fetch job due (ir.cron._trigger) the moment the server announces new mail.

    Listener            one per Odoo server process; every RECONCILE_SECONDS it reads, in
                        each database with mail_router, the confirmed IMAP servers, and
                        watches those no other process watches
    MailboxWatcher      a thread per mailbox: connect (the server's own connect: verified
                        TLS, the OAuth2 modules' login), IDLE, trigger the job, IDLE again;
                        reconnect with backoff after an error

The listener decides nothing and stores nothing but its status: it only says "this
mailbox has mail now". Polling goes on underneath (each job runs at its interval), so a
mailbox without IDLE, or a listener that is down, loses nothing. One mailbox has one
watcher across processes: its watcher's process holds a session advisory lock
(LISTEN_LOCK, server id) on a connection of its own; when the process dies, PostgreSQL
drops the lock and another process's listener takes the mailbox over at its next
reconcile. Another lock (LISTENER_LOCK, pid) says that a listener runs at all.

It starts with the Odoo server when mail_router is loaded server-wide
(``--load=base,web,mail_router`` or ``server_wide_modules``), as OCA queue_job's job
runner does: a thread of the threaded server, a worker process beside the prefork
server's workers (patched into Odoo's server classes at import, which only a
server-wide module's import precedes). Not with ``--stop-after-init``.
"""
import contextlib
import logging
import os
import socket
import threading

import psycopg2

import odoo
from odoo.service import db as odoo_db
from odoo.service import server as odoo_server
from odoo.tools import config

from .fetching import errors, idle, imap

_logger = logging.getLogger("odoo.addons.mail_router.listener")

# pg_try_advisory_lock(class, key) classes: a watched mailbox (key: its server id), a
# listener process (key: its pid).
LISTEN_LOCK = 0x6D726C69
LISTENER_LOCK = 0x6D726C70
RECONCILE_SECONDS = 5.0
BACKOFF_SECONDS = (1, 2, 5, 10, 30, 60)
START_DELAY_SECONDS = 2.0  # let the server and its workers start first


def owner():
    return f"{socket.gethostname()}:{os.getpid()}"


class MailboxWatcher(threading.Thread):
    """IDLE on one server's folder, and its fetch job made due at each new mail."""

    def __init__(self, dbname, server_id, version):
        super().__init__(name=f"mail_router listener {dbname} server {server_id}", daemon=True)
        self.dbname, self.server_id, self.version = dbname, server_id, version
        self.stop_event = threading.Event()

    def stop(self):
        self.stop_event.set()

    def run(self):
        failures = 0
        while not self.stop_event.is_set():
            connection = None
            try:
                connection = self._connect()
                if not idle.supports_idle(connection):
                    self._report("polling", "the mail server does not offer IMAP IDLE: the mailbox is fetched at its "
                                            "polling interval")
                    self.stop_event.wait()
                    return
                self._report("listening", "")
                failures = 0
                self._trigger()  # what arrived while nobody listened
                self._listen(connection)
            except Exception as exc:  # the watcher reconnects; polling covers the gap
                delay = BACKOFF_SECONDS[min(failures, len(BACKOFF_SECONDS) - 1)]
                failures += 1
                message = f"{type(exc).__name__}: {exc}"
                with contextlib.suppress(Exception):  # the database may be what failed
                    message = self._explain(exc)
                _logger.warning("fetchmail: listener of server %s in %s: %s Reconnecting in %s s.",
                                self.server_id, self.dbname, message, delay)
                with contextlib.suppress(Exception):
                    self._report("reconnecting", f"{message} (reconnecting in {delay} s)")
                self.stop_event.wait(delay)
            finally:
                if connection is not None:
                    imap.close(connection)

    def _listen(self, connection):
        while not self.stop_event.is_set():
            # a NOOP reads what came before the wait: mail announced then is mail too
            announced = idle.announced_count(connection) is not None
            if idle.wait_for_mail(connection, self.stop_event.is_set) or announced:
                self._trigger()
                self._report("listening", "", event=True)

    def _env(self):
        return odoo.modules.registry.Registry(self.dbname).check_signaling().cursor()

    def _connect(self):
        with self._env() as cr:
            env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})
            server = env["fetchmail.server"].browse(self.server_id)
            connection = server.connect()  # commits what its login refreshed (OAuth2 tokens)
            try:
                imap.select_folder(connection, server.folder)
            except Exception:
                imap.close(connection)
                raise
            return connection

    def _explain(self, exc):
        """What went wrong, in the words of the server's Last Error (fetching.errors)."""
        with self._env() as cr:
            env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})
            return errors.explain(exc, env["fetchmail.server"].browse(self.server_id)._mail_router_settings())

    def _trigger(self):
        with self._env() as cr:
            env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})
            env["fetchmail.server"].browse(self.server_id).mail_router_cron_id._trigger()

    def _report(self, state, message, event=False):
        with self._env() as cr:
            env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})
            env["mail.router.listener"]._report(self.server_id, state, message, owner(), event)


class DatabaseListener:
    """The watchers of one database's mailboxes, and the connection holding their locks."""

    def __init__(self, dbname):
        self.dbname = dbname
        self.watchers = {}
        _db, info = odoo.sql_db.connection_info_for(dbname)
        self.locks = psycopg2.connect(**info)
        self.locks.autocommit = True
        self._lock(LISTENER_LOCK, os.getpid())

    def reconcile(self):
        wanted = self._watchable()
        for server_id, watcher in list(self.watchers.items()):
            if wanted.get(server_id) != watcher.version or not watcher.is_alive():
                self._stop(server_id)
        for server_id, version in wanted.items():
            if server_id not in self.watchers and self._lock(LISTEN_LOCK, server_id):
                _logger.info("fetchmail: listening to server %s in %s", server_id, self.dbname)
                self.watchers[server_id] = MailboxWatcher(self.dbname, server_id, version)
                self.watchers[server_id].start()

    def close(self):
        for server_id in list(self.watchers):
            self._stop(server_id)
        self.locks.close()  # releases every lock it held

    def _watchable(self):
        """{server id: its write date} of the confirmed, active IMAP servers."""
        registry = odoo.modules.registry.Registry(self.dbname).check_signaling()
        with registry.cursor() as cr:
            env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})
            servers = env["fetchmail.server"].search([("state", "=", "done")])
            return {server.id: server.write_date for server in servers
                    if server._get_connection_type() == "imap"}

    def _stop(self, server_id):
        watcher = self.watchers.pop(server_id)
        watcher.stop()
        watcher.join(timeout=idle.READ_SECONDS * 5)
        self._unlock(LISTEN_LOCK, server_id)

    def _lock(self, lock_class, key):
        with self.locks.cursor() as cr:
            cr.execute("SELECT pg_try_advisory_lock(%s, %s)", [lock_class, key])
            return cr.fetchone()[0]

    def _unlock(self, lock_class, key):
        with self.locks.cursor() as cr:
            cr.execute("SELECT pg_advisory_unlock(%s, %s)", [lock_class, key])


class Listener:
    """The listener of one Odoo server process: every database with mail_router."""

    def __init__(self):
        self.stop_event = threading.Event()
        self.databases = {}

    def run(self):
        self.stop_event.wait(START_DELAY_SECONDS)
        while not self.stop_event.is_set():
            for dbname in self._database_names():
                try:
                    if dbname not in self.databases:
                        self.databases[dbname] = DatabaseListener(dbname)
                    self.databases[dbname].reconcile()
                except Exception:  # one database's trouble never stops the others'
                    _logger.exception("fetchmail: listener of database %s", dbname)
            self.stop_event.wait(RECONCILE_SECONDS)
        for database in self.databases.values():
            database.close()

    def stop(self):
        self.stop_event.set()

    @staticmethod
    def _database_names():
        """The databases this server serves (db_name, else all its databases) where
        mail_router is installed."""
        names = [name for name in (config["db_name"] or "").split(",") if name] or odoo_db.list_dbs(True)
        found = []
        for name in names:
            with contextlib.suppress(Exception), odoo.sql_db.db_connect(name).cursor() as cr:
                cr.execute("SELECT 1 FROM ir_module_module WHERE name = 'mail_router' AND state = 'installed'")
                if cr.fetchone():
                    found.append(name)
        return found


# ----------------------------------------------------------------------
# Started with the Odoo server, as OCA queue_job's job runner is
# ----------------------------------------------------------------------

class ListenerThread(threading.Thread):
    def __init__(self):
        super().__init__(name="mail_router listener", daemon=True)
        self.listener = Listener()

    def run(self):
        self.listener.run()

    def stop(self):
        self.listener.stop()


class ListenerWorker(odoo_server.Worker):
    """The listener as a worker process of the prefork server."""

    def __init__(self, multi):
        super().__init__(multi)
        self.watchdog_timeout = None  # it waits on sockets, never on a request
        self.listener = Listener()

    def sleep(self):
        pass

    def signal_handler(self, sig, frame):
        result = super().signal_handler(sig, frame)
        self.listener.stop()
        return result

    def process_work(self):
        self.listener.run()


listener_thread = None


def enabled():
    return "mail_router" in odoo.conf.server_wide_modules and not config["stop_after_init"]


_threaded_start = odoo_server.ThreadedServer.start
_threaded_stop = odoo_server.ThreadedServer.stop
_prefork_init = odoo_server.PreforkServer.__init__
_prefork_spawn = odoo_server.PreforkServer.process_spawn
_prefork_pop = odoo_server.PreforkServer.worker_pop


def threaded_start(self, *args, **kwargs):
    global listener_thread  # noqa: PLW0603 (one listener per process)
    result = _threaded_start(self, *args, **kwargs)
    if enabled() and not kwargs.get("stop") and listener_thread is None:
        _logger.info("fetchmail: starting the push listener (threaded server)")
        listener_thread = ListenerThread()
        listener_thread.start()
    return result


def threaded_stop(self):
    global listener_thread  # noqa: PLW0603
    if listener_thread is not None:
        listener_thread.stop()
        listener_thread.join(timeout=10)
        listener_thread = None
    return _threaded_stop(self)


def prefork_init(self, app):
    _prefork_init(self, app)
    self.mail_router_listener = {}


def prefork_spawn(self):
    _prefork_spawn(self)
    if enabled() and hasattr(self, "mail_router_listener") and not self.mail_router_listener:
        _logger.info("fetchmail: starting the push listener (a worker of the prefork server)")
        self.worker_spawn(ListenerWorker, self.mail_router_listener)


def prefork_pop(self, pid):
    result = _prefork_pop(self, pid)
    if hasattr(self, "mail_router_listener"):
        self.mail_router_listener.pop(pid, None)
    return result


odoo_server.ThreadedServer.start = threaded_start
odoo_server.ThreadedServer.stop = threaded_stop
odoo_server.PreforkServer.__init__ = prefork_init
odoo_server.PreforkServer.process_spawn = prefork_spawn
odoo_server.PreforkServer.worker_pop = prefork_pop
