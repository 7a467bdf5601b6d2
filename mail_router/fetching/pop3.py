"""POP3: a connection over verified TLS, and the operations the fetcher
needs. A message is named by its number in this session; its UIDL is what
stays the same from one session to the next."""
import contextlib
import imaplib
import poplib
import ssl

from . import tls
from .errors import POP3_EOF, LoginRefused, StartTlsNotOffered, first_arg_text
from .settings import ConnectionSettings

# poplib refuses lines longer than 2048 bytes, yet real mail has longer ones
# (HTML without line breaks); stock Odoo raises the bound at import for the
# same reason. This takes imaplib's bound, the one our IMAP side lives with.
poplib._MAXLINE = max(poplib._MAXLINE, imaplib._MAXLINE)


def open_pop3(settings: ConnectionSettings) -> poplib.POP3:
    """A connection with TLS set up as ``settings.security`` says, greeting
    read, not logged in. ``settings.timeout`` bounds the connect and every
    later read or write on the socket."""
    return tls.open_secured(
        settings,
        connect_plain=lambda: poplib.POP3(settings.host, settings.port, timeout=settings.timeout),
        connect_tls=lambda context: poplib.POP3_SSL(settings.host, settings.port, timeout=settings.timeout,
                                                    context=context),
        start_tls=lambda conn, context: _start_tls(conn, settings, context),
        drop=drop)


def _start_tls(conn: poplib.POP3, settings: ConnectionSettings, context: ssl.SSLContext) -> None:
    # Never fall back to clear text: a missing STLS may be an attacker's doing.
    if 'STLS' not in _capabilities(conn):
        raise StartTlsNotOffered(settings.address)
    conn.stls(context=context)


def _capabilities(conn: poplib.POP3) -> dict:
    try:
        return conn.capa()
    except poplib.error_proto:
        return {}  # a server without CAPA (RFC 2449) has no STLS either


def drop(conn: poplib.POP3) -> None:
    """Close the socket without a word to the server (no QUIT: no deletion)."""
    with contextlib.suppress(OSError):  # already closed by the other side
        conn.close()


def login_pop3(conn: poplib.POP3, user: str, password: str) -> None:
    """USER and PASS; the server's -ERR becomes LoginRefused."""
    try:
        conn.user(user)
        conn.pass_(password)
    except poplib.error_proto as exc:
        raise LoginRefused(first_arg_text(exc)) from exc


def uidl_listing(conn: poplib.POP3) -> list[tuple[int, str | None]]:
    """(message number, UIDL) for every message in the maildrop, in the
    server's order; UIDL is None for all when the server has no UIDL command."""
    try:
        _, lines, _ = conn.uidl()
    except poplib.error_proto as exc:
        if first_arg_text(exc) == POP3_EOF:
            raise
        _, lines, _ = conn.list()
        return [(int(line.split()[0]), None) for line in lines]
    return [(int(number), uidl.decode('ascii', 'backslashreplace'))
            for number, uidl in (line.split(maxsplit=1) for line in lines)]


def message_count(conn: poplib.POP3) -> int:
    """How many messages the maildrop holds (STAT; Test & Confirm reports it)."""
    return conn.stat()[0]


def sizes(conn: poplib.POP3) -> dict[int, int]:
    """{message number: size in bytes} for every message in the maildrop (LIST)."""
    _, lines, _ = conn.list()
    return {int(number): int(size) for number, size in (line.split()[:2] for line in lines)}


def retrieve(conn: poplib.POP3, number: int) -> bytes:
    """The message's bytes as the server sends them, dot-stuffing undone
    (poplib does that), lines ended by CRLF as on the wire."""
    _, lines, _ = conn.retr(number)
    return b''.join(line + b'\r\n' for line in lines)


def delete(conn: poplib.POP3, number: int) -> None:
    """Mark the message deleted: the server removes it only at QUIT."""
    conn.dele(number)


def quit(conn: poplib.POP3) -> None:
    """QUIT, which makes the deletions of this session take effect, then
    close. Raises if QUIT fails: the deletions did not happen, and the caller
    should know (those messages come again, and the ledger skips them)."""
    try:
        conn.quit()
    finally:
        drop(conn)
