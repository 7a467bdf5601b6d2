"""What the benchmark runs around Odoo: an SMTP sink, a Dovecot with one user per
database, and a TCP proxy that adds a delay each way. Built on testsupport."""
import contextlib
import imaplib
import os
import queue
import socket
import threading
import time

from aiosmtpd.controller import Controller

from testsupport.dovecot import Dovecot
from testsupport.proxy import CHUNK, Proxy

PASSWORD = "bench-password"
# The memory benchmark's notification carries a 25 MB attachment.
SMTP_DATA_LIMIT = 256 * 1024 * 1024


class SmtpSink:
    """An aiosmtpd server in a thread that counts what it is given: recipients, and
    the time of each delivery (time.time())."""

    def __init__(self):
        self.deliveries = []  # (time, recipients, bytes) per message
        self._lock = threading.Lock()
        self._controller = Controller(self, hostname="127.0.0.1", port=_free_port(),
                                      data_size_limit=SMTP_DATA_LIMIT)

    @property
    def port(self):
        return self._controller.port

    def __enter__(self):
        self._controller.start()
        return self

    def __exit__(self, *exc_info):
        self._controller.stop()

    async def handle_DATA(self, _server, _session, envelope):
        with self._lock:
            self.deliveries.append((time.time(), len(envelope.rcpt_tos), len(envelope.content or b"")))
        return "250 OK"

    def recipients(self):
        with self._lock:
            return sum(count for _when, count, _size in self.deliveries)

    def wait_for(self, total, timeout):
        """The time the sink had ``total`` recipients, or None if it did not within ``timeout``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                reached = 0
                for when, count, _size in self.deliveries:
                    reached += count
                    if reached >= total:
                        return when
            time.sleep(0.02)
        return None

    def recipients_until(self, moment):
        with self._lock:
            return sum(count for when, count, _size in self.deliveries if when <= moment)

    def largest_since(self, index):
        """The size of the largest message delivered after the first ``index`` ones."""
        with self._lock:
            return max((size for _when, _count, size in self.deliveries[index:]), default=0)

    def delivered(self):
        with self._lock:
            return len(self.deliveries)


class MultiUserDovecot(Dovecot):
    """testsupport's Dovecot with several users (one mailbox per database), all with
    the password PASSWORD."""

    def __init__(self, users):
        self.users = tuple(users)
        super().__init__(user=self.users[0], password=PASSWORD)

    def _prepare(self):
        super()._prepare()
        first_home = self.directory / "home" / self.user
        owner = first_home.stat()
        with (self.directory / "passwd").open("a") as passwd:
            for user in self.users[1:]:
                home = self.directory / "home" / user
                home.mkdir()
                os.chown(home, owner.st_uid, owner.st_gid)
                passwd.write(f"{user}:{{PLAIN}}{PASSWORD}::::::\n")

    def refill(self, user, raws):
        """Empty ``user``'s INBOX (its UIDs keep growing), then store ``raws`` there, unread."""
        with self._session(user) as conn:
            typ, data = conn.select("INBOX")
            if typ != "OK":
                raise RuntimeError(f"SELECT failed: {data}")
            if int(data[0]):
                conn.store("1:*", "+FLAGS.SILENT", "(\\Deleted)")
                conn.expunge()
            for raw in raws:
                typ, data = conn.append("INBOX", None, None, raw)
                if typ != "OK":
                    raise RuntimeError(f"APPEND failed: {data}")

    def append(self, user, raw):
        """Store ``raw`` in ``user``'s INBOX, unread, as a mail server delivering it."""
        with self._session(user) as conn:
            typ, data = conn.append("INBOX", None, None, raw)
            if typ != "OK":
                raise RuntimeError(f"APPEND failed: {data}")

    def unseen(self, user):
        with self._session(user) as conn:
            conn.select("INBOX", readonly=True)
            _typ, data = conn.search(None, "UNSEEN")
            return len(data[0].split())

    @contextlib.contextmanager
    def _session(self, user):
        conn = imaplib.IMAP4(self.host, self.ports.imap, timeout=30)
        try:
            conn.login(user, PASSWORD)
            yield conn
        finally:
            conn.logout()


class DelayingProxy(Proxy):
    """testsupport's proxy, delaying every chunk by ``delay`` seconds in each direction
    (a delay line: chunks keep their spacing, the link's bandwidth is not reduced).
    ``delay`` may be changed between connections."""

    def __init__(self, target_port, delay=0.0):
        super().__init__(target_port)
        self.delay = delay

    def _pump(self, source, sink, from_server):
        for sock in (source, sink):
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if not self.delay:
            return super()._pump(source, sink, from_server)
        line = queue.SimpleQueue()
        self._spawn(self._deliver, line, sink)
        while not self._stopping.is_set():
            try:
                data = source.recv(CHUNK)
            except OSError:
                data = b""
            line.put((time.monotonic() + self.delay, data))
            if not data:
                return

    def _deliver(self, line, sink):
        while True:
            try:
                due, data = line.get(timeout=0.5)
            except queue.Empty:
                if self._stopping.is_set():
                    return
                continue
            wait = due - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            if not data:
                with contextlib.suppress(OSError):
                    sink.shutdown(socket.SHUT_WR)
                return
            try:
                sink.sendall(data)
            except OSError:
                return


def _free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
