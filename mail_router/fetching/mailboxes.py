"""The mailboxes the fetch loop (``drain``) takes mail from: an IMAP folder by
UID, a POP3 maildrop by UIDL; and their checkpoints, plain values that the
caller stores between runs. The caller gives ``connect``, which returns a
logged-in connection (its own login: a password, OAuth2...)."""
import imaplib
import poplib
from collections.abc import Callable, Hashable, Iterator, Sequence
from dataclasses import dataclass

from . import imap, pop3
from .drain import Pending, Unreadable


@dataclass(frozen=True)
class ImapCheckpoint:
    """Every UID up to ``last_uid`` is done, as long as the folder's
    UIDVALIDITY is ``uidvalidity`` (None: the folder was never fetched)."""
    uidvalidity: int | None = None
    last_uid: int = 0


class ImapFolder:
    """One folder, by UID, in one session. The first fetch (or the first after
    a UIDVALIDITY change: the UIDs were renumbered) takes the unseen messages,
    as stock does, and then goes on by UID from the highest one there then."""

    def __init__(self, connect: Callable[[], imaplib.IMAP4], folder: str, checkpoint: ImapCheckpoint):
        self.folder = folder
        self.checkpoint = checkpoint
        self._connect = connect
        self._conn = None
        self._by_uid = False
        self._unpassed: set[int] = set()
        # Where the checkpoint goes once every pending message is passed.
        self._completed = checkpoint

    def __enter__(self) -> 'ImapFolder':
        return self

    def __exit__(self, *exc_info) -> None:
        if self._conn is not None:
            imap.close(self._conn)

    def pending(self) -> list[Pending]:
        self._conn = self._connect()
        uidvalidity = imap.select_folder(self._conn, self.folder)
        self._by_uid = uidvalidity == self.checkpoint.uidvalidity
        if self._by_uid:
            listed = imap.listing(self._conn, self.checkpoint.last_uid)
            highest = max((item.uid for item in listed), default=self.checkpoint.last_uid)
        else:
            everything = imap.listing(self._conn, 0)
            listed = [item for item in everything if not item.seen]
            highest = max((item.uid for item in everything), default=0)
        self._completed = ImapCheckpoint(uidvalidity, highest)
        self._unpassed = {item.uid for item in listed}
        if not self._unpassed:
            self.checkpoint = self._completed
        return [Pending(item.uid, item.size, item.arrived) for item in listed]

    def fetch(self, keys: Sequence[int]) -> Iterator[tuple[int, bytes | Unreadable]]:
        fetched = imap.fetch_raw(self._conn, keys)
        missing = Unreadable(_not_in_answer(fetched.unreadable))
        for uid in keys:
            yield uid, fetched.messages.get(uid, missing)

    def acknowledge(self, keys: Sequence[int]) -> None:
        imap.mark_seen(self._conn, keys)

    def passed(self, acknowledged: Sequence[int], left: Sequence[int]) -> None:
        batch = [*acknowledged, *left]
        self._unpassed.difference_update(batch)
        if not self._unpassed:
            self.checkpoint = self._completed
        elif self._by_uid:
            # Batches go by ascending UID: every UID up to this batch's last is done.
            self.checkpoint = ImapCheckpoint(self.checkpoint.uidvalidity, max(batch))
        # A first fetch moves the checkpoint only once complete: the unseen messages
        # are no range of UIDs, and one interrupted is simply started again.

    def name(self, key: int) -> str:
        return f"UID {key} in folder {self.folder!r}"


def _not_in_answer(unreadable: tuple[bytes, ...]) -> str:
    if unreadable:
        return f"the answer to UID FETCH held items that cannot be read: {unreadable[0]!r}"
    return "it was not in the answer to UID FETCH"


@dataclass(frozen=True)
class Pop3Checkpoint:
    """Among the UIDLs still in the maildrop: those ``done`` (committed and
    deleted, but DELE takes effect only at QUIT, which a crash may prevent)
    and those ``left`` (never deleted, never taken again)."""
    done: frozenset[str] = frozenset()
    left: frozenset[str] = frozenset()


class Pop3Maildrop:
    """A maildrop, by UIDL. Deletions take effect only at QUIT, so each batch
    ends its session with QUIT: a crash redoes at most one batch. A server
    without UIDL gets one session for the whole run: message numbers, its
    only names, change at QUIT; nothing can be remembered of its messages."""

    def __init__(self, connect: Callable[[], poplib.POP3], checkpoint: Pop3Checkpoint):
        self.checkpoint = checkpoint
        self._connect = connect
        self._conn = None
        self._by_uidl = True
        # Message number of each key (UIDL, or number without UIDL) in the current session.
        self._numbers: dict[Hashable, int] = {}

    def __enter__(self) -> 'Pop3Maildrop':
        return self

    def __exit__(self, exc_type, *exc_info) -> None:
        if self._conn is None:
            return
        if exc_type is None:
            pop3.quit(self._conn)  # the deletions of done messages found again, or of all without UIDL
        else:
            pop3.drop(self._conn)  # no QUIT, no deletion: whatever happened, nothing is lost

    def pending(self) -> list[Pending]:
        sizes = pop3.sizes(self._session())
        self._by_uidl = all(isinstance(key, str) for key in self._numbers)
        listed = set(self._numbers)
        done, left = self.checkpoint.done & listed, self.checkpoint.left & listed
        self.checkpoint = Pop3Checkpoint(done, left)
        for uidl in done:
            pop3.delete(self._conn, self._numbers[uidl])
        return [Pending(key, sizes[number]) for key, number in self._numbers.items()
                if key not in done and key not in left]

    def fetch(self, keys: Sequence[Hashable]) -> Iterator[tuple[Hashable, bytes | Unreadable]]:
        if self._conn is None:  # the previous batch ended its session
            self._session()
        for key in keys:
            number = self._numbers.get(key)
            if number is None:
                yield key, Unreadable("it is no longer in the maildrop")
            else:
                yield key, pop3.retrieve(self._conn, number)

    def acknowledge(self, keys: Sequence[Hashable]) -> None:
        for key in keys:
            pop3.delete(self._conn, self._numbers[key])
        if self._by_uidl:
            pop3.quit(self._conn)
            self._conn = None

    def passed(self, acknowledged: Sequence[Hashable], left: Sequence[Hashable]) -> None:
        if self._by_uidl:
            self.checkpoint = Pop3Checkpoint(self.checkpoint.done | set(acknowledged),
                                             self.checkpoint.left | set(left))

    def name(self, key: Hashable) -> str:
        return f"UIDL {key!r}" if self._by_uidl else f"message {key} (the server gives no UIDL)"

    def _session(self) -> poplib.POP3:
        """A new session, and the message numbers in it."""
        self._conn = self._connect()
        self._numbers = {number if uidl is None else uidl: number
                         for number, uidl in pop3.uidl_listing(self._conn)}
        return self._conn
