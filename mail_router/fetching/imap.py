"""IMAP: a connection over verified TLS, and the few operations the fetcher
needs. Messages are named by UID only: sequence numbers shift as soon as
another client expunges."""
import base64
import contextlib
import imaplib
import itertools
import re
import ssl
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import NamedTuple

from . import tls
from .errors import FolderMissing, LoginRefused, StartTlsNotOffered, first_arg_text, reply_text
from .settings import ConnectionSettings

# In a FETCH response: the literal that holds the whole message, the UID, the
# flags, the size.
WHOLE_BODY = re.compile(rb'BODY\[\] \{\d+\}$')
UID_ITEM = re.compile(rb'\bUID (\d+)')
FLAGS_ITEM = re.compile(rb'\bFLAGS \(([^)]*)\)')
SIZE_ITEM = re.compile(rb'\bRFC822\.SIZE (\d+)')
# UIDs and UIDVALIDITY are unsigned 32-bit numbers (RFC 3501 2.3.1.1).
MAX_UID = 2**32 - 1


class Listed(NamedTuple):
    """A message in the selected folder, as ``listing`` finds it."""
    uid: int
    size: int       # RFC822.SIZE, in bytes
    seen: bool
    arrived: float | None = None  # INTERNALDATE, seconds since the epoch


@dataclass(frozen=True)
class Fetched:
    """What a UID FETCH of whole messages gave."""
    messages: dict[int, bytes]     # raw bytes by UID
    unreadable: tuple[bytes, ...]  # the start of items that held a message but could not be read


def open_imap(settings: ConnectionSettings) -> imaplib.IMAP4:
    """A connection with TLS set up as ``settings.security`` says, greeting
    read, NOT logged in: the caller authenticates it (``login``, or its own
    XOAUTH2 through ``login_with``). ``settings.timeout`` bounds the connect
    and every later read or write on the socket."""
    return tls.open_secured(
        settings,
        connect_plain=lambda: imaplib.IMAP4(settings.host, settings.port, timeout=settings.timeout),
        connect_tls=lambda context: imaplib.IMAP4_SSL(settings.host, settings.port, ssl_context=context,
                                                      timeout=settings.timeout),
        start_tls=lambda conn, context: _start_tls(conn, settings, context),
        drop=_drop)


def _start_tls(conn: imaplib.IMAP4, settings: ConnectionSettings, context: ssl.SSLContext) -> None:
    # Never fall back to clear text: a missing STARTTLS may be an attacker's doing.
    if 'STARTTLS' not in conn.capabilities:
        raise StartTlsNotOffered(settings.address)
    conn.starttls(ssl_context=context)


def _drop(conn: imaplib.IMAP4) -> None:
    """Close the socket without a word to the server."""
    with contextlib.suppress(OSError):  # already closed by the other side
        conn.shutdown()


def login(conn: imaplib.IMAP4, user: str, password: str) -> None:
    login_with(conn, lambda connection: connection.login(user, password))


def login_with(conn: imaplib.IMAP4, authenticate: Callable[[imaplib.IMAP4], object]) -> None:
    """Run ``authenticate(conn)`` (e.g. a ``fetchmail.server._imap_login``
    doing LOGIN or XOAUTH2); the server saying NO or BAD becomes LoginRefused,
    so that ``explain`` can tell a refused login from other errors."""
    try:
        authenticate(conn)
    except imaplib.IMAP4.abort:
        raise  # the connection broke: not a refusal
    except imaplib.IMAP4.error as exc:
        raise LoginRefused(first_arg_text(exc)) from exc


def select_folder(conn: imaplib.IMAP4, folder: str) -> int:
    """Select ``folder`` read-write and return its UIDVALIDITY: when it
    changes, the UIDs remembered for the folder mean nothing any more."""
    typ, data = conn.select(mailbox_name(folder))
    if typ != 'OK':
        raise FolderMissing(folder, reply_text(data[-1]))
    uidvalidity = conn.response('UIDVALIDITY')[1][-1]
    if uidvalidity is None:
        raise imaplib.IMAP4.error(f"{folder!r}: the server sent no UIDVALIDITY")
    return int(uidvalidity)


def message_count(conn: imaplib.IMAP4) -> int | None:
    """How many messages the folder just selected holds (its EXISTS), or None
    when the server did not say (Test & Confirm reports it)."""
    count = conn.response('EXISTS')[1][-1]
    return None if count is None else int(count)


def mailbox_name(folder: str) -> str:
    """``folder`` as an IMAP mailbox argument: modified UTF-7 (RFC 3501
    5.1.3), since imaplib sends ASCII only, then quoted."""
    encoded = ''.join(_modified_utf7(run) if not printable else run.replace('&', '&-')
                      for printable, run in _runs(folder))
    return '"' + encoded.replace('\\', '\\\\').replace('"', '\\"') + '"'


def _runs(text: str) -> Iterable[tuple[bool, str]]:
    for printable, chars in itertools.groupby(text, key=lambda ch: ' ' <= ch <= '~'):
        yield printable, ''.join(chars)


def _modified_utf7(run: str) -> str:
    encoded = base64.b64encode(run.encode('utf-16-be')).rstrip(b'=').replace(b'/', b',')
    return '&' + encoded.decode('ascii') + '-'


def listing(conn: imaplib.IMAP4, after_uid: int) -> list[Listed]:
    """Every message above ``after_uid`` in the selected folder, ascending,
    whatever its flags (a message read in webmail first is still new to us),
    with its size: one round trip, no message body. Mail that arrived after
    the SELECT may show only at the next SELECT."""
    if after_uid >= MAX_UID:
        return []  # no UID can follow: the server must change UIDVALIDITY to go on
    typ, data = conn.uid('FETCH', f'{after_uid + 1}:*', '(FLAGS RFC822.SIZE INTERNALDATE)')
    _expect_ok(typ, data, 'UID FETCH')
    listed = (_listed(line) for line in data if isinstance(line, bytes) and SIZE_ITEM.search(line))
    # 'n:*' always includes the highest UID, even when it is below n (RFC 3501 6.4.8).
    return sorted(item for item in listed if item.uid > after_uid)


def _listed(line: bytes) -> Listed:
    uid, flags = UID_ITEM.search(line), FLAGS_ITEM.search(line)
    if uid is None or flags is None:
        # Not skipped: the checkpoint would pass a message nobody looked at.
        raise imaplib.IMAP4.error(f"UID FETCH: cannot read the UID and flags in {line[:200]!r}")
    return Listed(int(uid[1]), int(SIZE_ITEM.search(line)[1]), rb'\Seen' in flags[1].split(), _arrived(line))


def _arrived(line: bytes) -> float | None:
    """INTERNALDATE, when the server received the message, as seconds since the epoch;
    None when it cannot be read (it only dates the delay the routing log shows)."""
    try:  # imaplib raises on a month it does not know or a date out of range
        date = imaplib.Internaldate2tuple(line)
        return time.mktime(date) if date else None
    except (KeyError, TypeError, ValueError, OverflowError):
        return None


def fetch_raw(conn: imaplib.IMAP4, uids: Iterable[int]) -> Fetched:
    """The raw bytes, exactly as stored, of each of ``uids`` in the selected
    folder, in one round trip; a UID no longer there is left out. BODY.PEEK[]
    sets no flag, unlike BODY[] and RFC822."""
    uids = list(uids)
    if not uids:
        return Fetched({}, ())
    typ, data = conn.uid('FETCH', uid_set(uids), '(UID BODY.PEEK[])')
    _expect_ok(typ, data, 'UID FETCH')
    return parse_fetch(data)


def parse_fetch(data: list) -> Fetched:
    """A UID FETCH answer as imaplib gives it: a whole message is a (head,
    literal) tuple followed by the rest of its line, the UID in either. Items
    without BODY[] are flag updates the server sent unasked; an item with
    BODY[] that is not a whole message with its UID is kept as unreadable."""
    messages, unreadable = {}, []
    for index, item in enumerate(data):
        head = item[0] if isinstance(item, tuple) else item
        if not isinstance(head, bytes) or b'BODY[]' not in head:
            continue
        rest = data[index + 1] if index + 1 < len(data) else b''
        uid = UID_ITEM.search(head) or UID_ITEM.search(rest if isinstance(rest, bytes) else b'')
        if isinstance(item, tuple) and WHOLE_BODY.search(head) and uid is not None:
            messages[int(uid[1])] = item[1]
        else:
            unreadable.append(head[:200])
    return Fetched(messages, tuple(unreadable))


def mark_seen(conn: imaplib.IMAP4, uids: Iterable[int]) -> None:
    """Set \\Seen on ``uids`` in the selected folder, in one round trip."""
    uids = list(uids)
    if not uids:
        return
    typ, data = conn.uid('STORE', uid_set(uids), '+FLAGS.SILENT', r'(\Seen)')
    _expect_ok(typ, data, 'UID STORE')


def uid_set(uids: Iterable[int]) -> str:
    """An IMAP sequence set naming exactly ``uids``: '1:3,7' for 1, 2, 3, 7,
    which keeps the command of a large batch short."""
    ordered = sorted(set(uids))
    ranges = []
    # Consecutive UIDs share the same difference between UID and position.
    for _, pairs in itertools.groupby(enumerate(ordered), key=lambda pair: pair[1] - pair[0]):
        run = [uid for _, uid in pairs]
        ranges.append(str(run[0]) if len(run) == 1 else f'{run[0]}:{run[-1]}')
    return ','.join(ranges)


def close(conn: imaplib.IMAP4) -> None:
    """LOGOUT and close the socket, never raising: on an error path the
    connection may already be dead. No CLOSE command: it would expunge the
    messages another client marked \\Deleted. Waits at most the timeout."""
    try:
        conn.logout()
    except Exception:  # a cleanup must not replace the error being handled
        _drop(conn)


def _expect_ok(typ: str, data: list, command: str) -> None:
    if typ != 'OK':
        raise imaplib.IMAP4.error(f"{command}: {typ} {reply_text(data[-1] if data else b'')}")
