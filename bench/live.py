"""Live delivery, stock Odoo 18 against mail_router, with real Odoo server processes
(odoo-bin and its cron threads) on the benchmark's databases: part of `make bench`.

* Latency: a reply APPENDed to the mailbox, until it is stored on its PO (the database
  polled every 50 ms). mail_router with push (mail_router loaded server-wide: the listener's
  IDLE makes the mailbox's job due), one reply at a time; then both databases polling
  every minute (stock's fetch cron, mail_router's server job, both at 1 minute instead of 5,
  so that the run takes minutes), replies appended every few seconds over a minute.
* Fairness: FLOOD mails waiting in one mailbox, then a reply in another: when is the
  reply on its PO, and when is the flood drained? Two cron threads (Odoo's default);
  stock's fetch cron triggered at once (its best case: no wait for its tick), mail_router
  by push.
* Drain: M mailboxes x N mails behind the delaying proxy (20 ms each way), every fetch job
  triggered at once: one Odoo process with one cron thread, two processes with one each,
  one process with two; three runs each, the median reported. Every mail stored exactly
  once, or the run says so.
* Scale: 100 mailboxes x 3 mails (direct link), one process with 1, 2 and 4 cron threads
  (stock: one, its single fetch cron cannot use more); the CPU seconds of the Odoo process
  and of PostgreSQL, and the share of the cron threads' time spent processing mail (the
  routing log's durations), the rest being IMAP, the scheduler and waiting.
"""
import contextlib
import datetime
import os
import socket
import statistics
import threading
import time

import mails
import psycopg2
from infra import PASSWORD
from odoo_cli import ODOO_SRC, VENV_PYTHON
from odoo_process import OdooProcess

LATENCY_REPLIES = 20
POLLING_REPLIES = 8
POLLING_SPACING_S = 8
POLL_MINUTES = 1
FLOOD = 300
DRAIN_MAILBOXES, DRAIN_MAILS, DRAIN_DELAY_MS = 4, 40, 20
DRAIN_RUNS = 3  # each drain configuration; the median run is reported
SCALE_MAILBOXES, SCALE_MAILS = 100, 3
DRAIN_CONFIGS = {"stock": [(1, 1), (2, 1)], "mail_router": [(1, 1), (2, 1), (1, 2)]}  # (processes, cron threads)
SCALE_THREADS = {"stock": [1], "mail_router": [1, 2, 4]}
ORDERS_NEEDED = max(FLOOD, LATENCY_REPLIES + POLLING_REPLIES, DRAIN_MAILBOXES * DRAIN_MAILS,
                    SCALE_MAILBOXES * SCALE_MAILS)
TIMEOUT_S = 900
PARTS = ("latency", "fairness", "drain", "scale")
TICK = os.sysconf("SC_CLK_TCK")


def mailbox_users(databases):
    """The IMAP users the live benchmark reads, besides one per database."""
    return [f"{name}_{suffix}" for name in databases
            for suffix in [*"abcd"[:DRAIN_MAILBOXES], *(f"m{index:03d}" for index in range(SCALE_MAILBOXES))]]


def odoo_server(children, dbname, cron_threads, push):
    """odoo-bin serving ``dbname`` with its cron threads; mail_router server-wide with ``push``."""
    args = [arg for arg in children.odoo_args(dbname) if arg not in ("--no-http", "--max-cron-threads=0")]
    port = _free_port()
    command = [str(VENV_PYTHON), str(ODOO_SRC / "odoo-bin"), *args, f"--db-filter=^{dbname}$",
               f"--http-port={port}", "--http-interface=127.0.0.1", f"--max-cron-threads={cron_threads}",
               *(["--load=base,web,mail_router"] if push else [])]
    return OdooProcess(command, port, children.log_file)


@contextlib.contextmanager
def servers(children, db, count, cron_threads, push=False):
    """``count`` Odoo processes on ``db`` (a Database), serving and their cron threads
    listening: a trigger sent then is seen at once."""
    started = [odoo_server(children, db.dbname, cron_threads, push) for _ in range(count)]
    try:
        for server in started:
            server.wait_until_serving().wait_until_scheduling(db.cluster, cron_threads)
        yield started
    finally:
        for server in started:
            server.stop()


class Database:
    """The benchmark's view of one database: where mail is stored, and its cron triggers."""

    def __init__(self, database, dbname):
        self.connection, self.cluster = (psycopg2.connect(dbname=name, host=database.host, port=database.port,
                                                          user=database.user, password=database.password)
                                         for name in (dbname, "postgres"))
        self.connection.autocommit = self.cluster.autocommit = True
        self.dbname = dbname

    def query(self, sql, params=()):
        with self.connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchall()

    def stored(self, message_ids):
        """{Message-ID: times stored}"""
        return dict(self.query("SELECT message_id, count(*) FROM mail_message WHERE message_id = ANY(%s) "
                               "GROUP BY message_id", [list(message_ids)]))

    def trigger(self, cron_ids):
        """Make the jobs due now and wake the cron threads, as ir.cron._trigger does."""
        self.query("INSERT INTO ir_cron_trigger (cron_id, call_at) SELECT id, now() at time zone 'UTC' "
                   "FROM unnest(%s::int[]) id RETURNING id", [list(cron_ids)])
        # NOTIFY reaches the listeners of its own database only: Odoo's cron threads listen
        # in "postgres" (ir.cron._notifydb)
        with self.cluster.cursor() as cursor:
            cursor.execute("SELECT pg_notify('cron_trigger', %s)", [self.dbname])

    def listening(self, users, after):
        """How many of ``users``' mailboxes a listener reported listening on since ``after``
        (a status row outlives its process: older ones say nothing)."""
        return self.query("""
            SELECT count(*) FROM mail_router_listener listener
              JOIN fetchmail_server server ON server.id = listener.server_id
             WHERE listener.state = 'listening' AND server.user = ANY(%s) AND listener.write_date >= %s""",
                          [list(users), after])[0][0]

    def processing_seconds(self, message_ids):
        """The routing log's durations of these mails (mail_router only)."""
        return self.query("SELECT COALESCE(sum(duration_ms), 0)::float / 1000 FROM mail_router_log "
                          "WHERE message_id = ANY(%s)", [list(message_ids)])[0][0]

    def postgres_cpu_seconds(self):
        """CPU of the whole cluster: its postmaster, its live backends and those that ended."""
        backend = self.query("SELECT pg_backend_pid()")[0][0]
        postmaster = _stat(backend)[1]
        children = [int(pid) for pid in os.listdir("/proc") if pid.isdigit() and _parent(int(pid)) == postmaster]
        fields = _stat(postmaster)
        return sum(fields[11:15]) / TICK + sum(  # utime, stime, cutime, cstime
            _cpu_seconds(pid) for pid in children)

    def close(self):
        self.connection.close()
        self.cluster.close()


class Watcher(threading.Thread):
    """Records when each watched Message-ID is first seen stored (every 50 ms)."""

    def __init__(self, db):
        super().__init__(daemon=True)
        self.db, self.watched, self.seen, self._stopping = db, set(), {}, threading.Event()

    def watch(self, message_id):
        self.watched.add(message_id)

    def run(self):
        while not self._stopping.is_set():
            waiting = self.watched - set(self.seen)
            if waiting:
                now = time.time()
                for message_id in self.db.stored(waiting):
                    self.seen[message_id] = now
            time.sleep(0.05)

    def wait_all(self, timeout=TIMEOUT_S):
        deadline = time.monotonic() + timeout
        while set(self.seen) < self.watched and time.monotonic() < deadline:
            time.sleep(0.05)
        return set(self.seen) >= self.watched

    def stop(self):
        self._stopping.set()
        self.join()


class LiveBenchmark:
    """The four parts on both databases (setups: bench_gateway's), one after the other."""

    def __init__(self, children, setups, dovecot, proxy, sinks, stamp):
        self.children, self.setups, self.dovecot, self.proxy, self.sinks = children, setups, dovecot, proxy, sinks
        self.stamp, self.ca_file = stamp, str(dovecot.ca_file)
        self.dbs = {name: Database(children.database, name) for name in setups}

    def run(self, parts=PARTS):
        """The ``parts`` (names in PARTS) measured, by name."""
        measures = {"latency": self.latency, "fairness": lambda: {name: self.fairness(name) for name in self.setups},
                    "drain": self.drain, "scale": self.scale}
        try:
            return {part: measures[part]() for part in PARTS if part in parts}
        finally:
            for name, db in self.dbs.items():
                db.close()
                # the fetch benchmark's mailbox only, as setup left it (for a run with --keep)
                self.configure(name, [name], self.dovecot.ports.imaps)

    def configure(self, name, users, port, *, poll_minutes=5, due=False):
        """Only ``users``' mailboxes confirmed in ``name``; the ids of the fetch jobs."""
        return self.children.run("servers", name, {
            "users": users, "imap_port": port, "imap_password": PASSWORD, "ca_file": self.ca_file,
            "poll_minutes": poll_minutes, "due": due, "smtp_port": self.sinks[name].port})["crons"]

    def latency(self):
        dovecot, dbs, orders = self.dovecot, self.dbs, self.setups["mail_router"]["orders"]
        self.configure("mail_router", ["mail_router"], dovecot.ports.imaps)
        dovecot.refill("mail_router", [])
        push = []
        started = _utc_now()
        with servers(self.children, dbs["mail_router"], 1, cron_threads=2, push=True):
            _until(lambda: dbs["mail_router"].listening(["mail_router"], started), "the listener listening", 60)
            watcher = Watcher(dbs["mail_router"])
            watcher.start()
            for message_id, raw, _po in mails.batch(f"l{self.stamp}-push", orders[:LATENCY_REPLIES]):
                watcher.watch(message_id)
                start = appended(dovecot, "mail_router", raw)
                _until(lambda message_id=message_id: message_id in watcher.seen, "a reply fetched by push", 60)
                push.append(watcher.seen[message_id] - start)
                time.sleep(0.5)
            watcher.stop()
        for name in self.setups:
            self.configure(name, [name], dovecot.ports.imaps, poll_minutes=POLL_MINUTES, due=True)
            dovecot.refill(name, [])
        starts = {name: {} for name in self.setups}
        with contextlib.ExitStack() as stack:
            for name in self.setups:
                stack.enter_context(servers(self.children, dbs[name], 1, cron_threads=2))
            watchers = {name: Watcher(dbs[name]) for name in self.setups}
            batches = {name: mails.batch(f"l{self.stamp}-poll-{name}",
                                         setup["orders"][LATENCY_REPLIES:LATENCY_REPLIES + POLLING_REPLIES])
                       for name, setup in self.setups.items()}
            for watcher in watchers.values():
                watcher.start()
            for index in range(POLLING_REPLIES):
                for name, batch in batches.items():
                    message_id, raw, _po = batch[index]
                    watchers[name].watch(message_id)
                    starts[name][message_id] = appended(dovecot, name, raw)
                time.sleep(POLLING_SPACING_S)
            for name, watcher in watchers.items():
                complete = watcher.wait_all(4 * 60 * POLL_MINUTES + 60)
                watcher.stop()
                if not complete:
                    raise SystemExit(f"bench: {name}: polled replies not all stored")
        polling = {name: _spread([watchers[name].seen[message_id] - start for message_id, start in started.items()])
                   for name, started in starts.items()}
        print(f"bench: latency: push median {_spread(push)['median_s']:.2f} s; polling every {POLL_MINUTES} min, "
              + ", ".join(f"{name} median {spread['median_s']:.1f} s" for name, spread in polling.items()), flush=True)
        return {"push": _spread(push), "polling": polling, "poll_minutes": POLL_MINUTES}

    def fairness(self, name):
        dovecot, db = self.dovecot, self.dbs[name]
        flooded, quiet = f"{name}_a", f"{name}_b"
        crons = self.configure(name, [flooded, quiet], dovecot.ports.imaps)
        orders = self.setups[name]["orders"]
        flood = mails.batch(f"f{self.stamp}-{name}", orders[:FLOOD])
        [(reply_id, reply, _po)] = mails.batch(f"f{self.stamp}-{name}-quiet", orders[FLOOD - 1:FLOOD])
        dovecot.refill(quiet, [])
        push = name == "mail_router"
        started = _utc_now()
        with servers(self.children, db, 1, cron_threads=2, push=push):
            if push:
                mailboxes = [flooded, quiet]
                _until(lambda: db.listening(mailboxes, started) == len(mailboxes), "both listeners listening", 60)
            watcher = Watcher(db)
            for message_id in [reply_id, *(message_id for message_id, _raw, _po in flood)]:
                watcher.watch(message_id)
            watcher.start()
            flood_start = time.time()
            dovecot.refill(flooded, [raw for _message_id, raw, _po in flood])
            if not push:
                db.trigger(crons)
            reply_start = appended(dovecot, quiet, reply)
            complete = watcher.wait_all()
            watcher.stop()
        if not complete:
            raise SystemExit(f"bench: {name}: fairness mails not all stored")
        result = {"reply_s": watcher.seen[reply_id] - reply_start,
                  "flood_drained_s": max(watcher.seen[message_id] for message_id, *_ in flood) - flood_start}
        print(f"bench: fairness {name:11} the quiet mailbox's reply in {result['reply_s']:.1f} s, the flood "
              f"drained in {result['flood_drained_s']:.1f} s", flush=True)
        return result

    def drain(self):
        self.proxy.delay = DRAIN_DELAY_MS / 1000
        results = {}
        try:
            for name in self.setups:
                users = [f"{name}_{suffix}" for suffix in "abcd"[:DRAIN_MAILBOXES]]
                crons = self.configure(name, users, self.proxy.port)
                for processes, threads in DRAIN_CONFIGS[name]:
                    runs = [self.mailbox_run(name, crons, users, DRAIN_MAILS, f"d{self.stamp}-{name}-{processes}x"
                                             f"{threads}-{index}", processes, threads) for index in range(DRAIN_RUNS)]
                    median = sorted(runs, key=lambda run: run["seconds"])[len(runs) // 2]
                    results.setdefault(name, []).append({**median, "runs_seconds": [run["seconds"] for run in runs]})
        finally:
            self.proxy.delay = 0
        return {"mailboxes": DRAIN_MAILBOXES, "mails": DRAIN_MAILS, "delay_ms": DRAIN_DELAY_MS, **results}

    def scale(self):
        results = {}
        for name in self.setups:
            users = [f"{name}_m{index:03d}" for index in range(SCALE_MAILBOXES)]
            crons = self.configure(name, users, self.proxy.port)
            for threads in SCALE_THREADS[name]:
                run = self.mailbox_run(name, crons, users, SCALE_MAILS, f"s{self.stamp}-{name}-{threads}", 1, threads)
                results.setdefault(name, []).append(run)
        return {"mailboxes": SCALE_MAILBOXES, "mails": SCALE_MAILS, **results}

    def mailbox_run(self, name, crons, users, per_mailbox, tag, processes, threads):
        """Fill each mailbox with ``per_mailbox`` mails, start the processes, trigger every
        fetch job at once, until every mail is stored."""
        dovecot, db = self.dovecot, self.dbs[name]
        batch = mails.batch(tag, self.setups[name]["orders"][:len(users) * per_mailbox])
        for index, user in enumerate(users):
            mailbox = batch[index * per_mailbox:(index + 1) * per_mailbox]
            dovecot.refill(user, [raw for _message_id, raw, _po in mailbox])
        message_ids = [message_id for message_id, _raw, _po in batch]
        # A run's processes are stopped once the mail is stored, maybe in a job (sending the
        # notifications): Odoo counts that as the job's time-out, and skips a job out after
        # three (ir.cron, CONSECUTIVE_TIMEOUT_FOR_FAILURE). Each run starts afresh.
        db.query("DELETE FROM ir_cron_progress WHERE cron_id = ANY(%s) RETURNING id", [list(crons)])
        with servers(self.children, db, processes, threads) as started:
            odoo_cpu, pg_cpu = sum(_cpu_seconds(server.process.pid) for server in started), db.postgres_cpu_seconds()
            watcher = Watcher(db)
            for message_id in message_ids:
                watcher.watch(message_id)
            watcher.start()
            start = time.time()
            db.trigger(crons)
            complete = watcher.wait_all()
            seconds = (max(watcher.seen.values()) if complete else time.time()) - start
            watcher.stop()
            odoo_cpu = sum(_cpu_seconds(server.process.pid) for server in started) - odoo_cpu
            pg_cpu = db.postgres_cpu_seconds() - pg_cpu
        stored = db.stored(message_ids)
        problems = []
        if len(stored) < len(message_ids):
            problems.append(f"{len(message_ids) - len(stored)} mail(s) not stored")
        if any(count > 1 for count in stored.values()):
            problems.append(f"{sum(count > 1 for count in stored.values())} mail(s) stored twice")
        if unread := sum(dovecot.unseen(user) for user in users):
            problems.append(f"{unread} mail(s) unread on the IMAP server")
        run = {"processes": processes, "threads": threads, "mails": len(message_ids), "seconds": seconds,
               "mails_per_s": len(message_ids) / seconds, "odoo_cpu_s": odoo_cpu, "postgres_cpu_s": pg_cpu,
               "problems": problems}
        if name == "mail_router":
            run["processing_share"] = db.processing_seconds(message_ids) / (seconds * processes * threads)
        print(f"bench: {name:11} {len(users)} mailboxes x {per_mailbox}, {processes} process(es) x {threads} cron "
              f"thread(s): {seconds:.1f} s, {run['mails_per_s']:.1f} mails/s, {'; '.join(problems) or 'once each'}",
              flush=True)
        return run


def appended(dovecot, user, raw):
    """APPEND ``raw`` to ``user``'s mailbox; when it started."""
    started = time.time()
    dovecot.append(user, raw)
    return started


def _utc_now():
    """As the database dates its rows (UTC, naive), a second early: clocks are read apart."""
    return datetime.datetime.now(datetime.UTC).replace(tzinfo=None) - datetime.timedelta(seconds=1)


def _spread(values):
    ordered = sorted(values)
    return {"median_s": statistics.median(ordered), "p95_s": ordered[min(len(ordered) - 1,
                                                                         round(0.95 * (len(ordered) - 1)))],
            "max_s": ordered[-1], "count": len(ordered)}


def _until(condition, what, seconds, fail=True):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    if fail:
        raise SystemExit(f"bench: {what}: not within {seconds} s")
    return False


def _stat(pid):
    """/proc/<pid>/stat's fields after the command name (state, ppid, ...), as numbers where they are."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return [int(field) if field.lstrip("-").isdigit() else field for field in fields]


def _parent(pid):
    try:
        return _stat(pid)[1]
    except (FileNotFoundError, ProcessLookupError):
        return None


def _cpu_seconds(pid):
    """utime + stime of a process (its threads included)."""
    try:
        fields = _stat(pid)
    except FileNotFoundError:
        return 0.0
    return (fields[11] + fields[12]) / TICK


def _free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
