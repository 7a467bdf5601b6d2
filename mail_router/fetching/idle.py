"""IMAP IDLE (RFC 2177): wait on a selected folder until the server says mail is there.

imaplib has no IDLE before Python 3.14, and its buffered file is unusable once a read on
it times out; so the wait is written here: a NOOP first, through imaplib, reads every
response the server had to send (its buffer is then empty), then IDLE is sent and its
answers are read from the socket directly, a second at a time, so that a stop request
is seen within a second. DONE ends it, whatever ended the wait, and the session goes on
as imaplib left it.
"""
import imaplib
import re
import socket
import time
from collections.abc import Callable

from .errors import FetchError

# RFC 2177: a client should end IDLE and issue it again at least every 29 minutes.
RENEW_SECONDS = 25 * 60
# How long one read waits before looking at the stop request again.
READ_SECONDS = 1.0
# How long the server may take to answer IDLE, or DONE.
ANSWER_SECONDS = 30.0
EXISTS = re.compile(rb'^\* (\d+) EXISTS\b', re.IGNORECASE)
MAX_LINE = 64 * 1024  # an untagged answer longer than this is no IDLE answer


class IdleRefused(FetchError):
    def __init__(self, reply: str):
        super().__init__(f"the server refused IDLE: {reply}")
        self.reply = reply


def supports_idle(conn: imaplib.IMAP4) -> bool:
    return 'IDLE' in conn.capabilities


def announced_count(conn: imaplib.IMAP4) -> int | None:
    """The folder's message count if the server announced a new one (EXISTS) since the
    last command, else None; a NOOP reads whatever it had to say, so that nothing waits
    unread in imaplib's buffer when IDLE begins."""
    typ, data = conn.noop()
    if typ != 'OK':
        raise imaplib.IMAP4.error(f"NOOP: {typ} {data}")
    counts = conn.untagged_responses.pop('EXISTS', [None])
    return int(counts[-1]) if counts[-1] is not None else None


def wait_for_mail(conn: imaplib.IMAP4, stopping: Callable[[], bool], renew: float = RENEW_SECONDS) -> bool:
    """IDLE on the selected folder until the server announces a message count (EXISTS:
    new mail), ``renew`` seconds pass, or ``stopping()`` says so; True when mail was
    announced. Raises what the connection raises (the caller reconnects)."""
    tag = conn._new_tag()
    conn.send(tag + b' IDLE\r\n')
    reader = _LineReader(conn.sock)
    try:
        line = b''
        while not line.startswith(b'+'):
            line = reader.line(lambda: False, time.monotonic() + ANSWER_SECONDS)
            if line is None:
                raise imaplib.IMAP4.abort("the server did not answer IDLE")
            if line.startswith(tag):  # a tagged answer instead of '+': IDLE refused
                raise IdleRefused(line[len(tag):].strip().decode('utf-8', 'replace'))
        mail = False
        deadline = time.monotonic() + renew
        while not mail and not stopping() and time.monotonic() < deadline:
            line = reader.line(stopping, deadline)
            mail = line is not None and bool(EXISTS.match(line))
        conn.send(b'DONE\r\n')
        while (line := reader.line(lambda: False, time.monotonic() + ANSWER_SECONDS)) is not None:
            if line.startswith(tag):
                if not line[len(tag):].strip().upper().startswith(b'OK'):
                    raise imaplib.IMAP4.error(f"IDLE ended with {line.decode('utf-8', 'replace')}")
                break
            mail = mail or bool(EXISTS.match(line))
        else:
            raise imaplib.IMAP4.abort("the server did not end IDLE")
        return mail
    finally:
        reader.restore()


class _LineReader:
    """Lines from a socket, read with a short timeout so that the waiting can stop."""

    def __init__(self, sock: socket.socket):
        self.sock = sock
        self.timeout = sock.gettimeout()
        self.buffer = b''
        sock.settimeout(READ_SECONDS)

    def restore(self) -> None:
        self.sock.settimeout(self.timeout)

    def line(self, stopping: Callable[[], bool], deadline: float | None) -> bytes | None:
        """The next line without its CRLF; None when ``stopping()`` or ``deadline`` came first."""
        while b'\n' not in self.buffer:
            if stopping() or (deadline is not None and time.monotonic() >= deadline):
                return None
            try:
                data = self.sock.recv(4096)
            except TimeoutError:
                continue
            if not data:
                raise imaplib.IMAP4.abort("the server closed the connection")
            self.buffer += data
            if len(self.buffer) > MAX_LINE and b'\n' not in self.buffer:
                raise imaplib.IMAP4.abort("an IDLE answer line is too long")
        line, _newline, self.buffer = self.buffer.partition(b'\n')
        return line.rstrip(b'\r')
