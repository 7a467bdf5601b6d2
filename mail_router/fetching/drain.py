"""The exactly-once fetch loop, for any mailbox (IMAP folder, POP3 maildrop).

For each batch: take the bytes of its messages without setting a flag, hand each
to the receiver (each one atomic: a message whose processing raises undoes only
itself), COMMIT, and only then acknowledge the batch on the server (\\Seen, or
DELE). A batch is one transaction: a commit empties Odoo's caches, and committing
each message (as stock's fetch does) made each one read the same user, company
and alias domain again. The checkpoint (where fetching stands) passes a batch
only once the batch is acknowledged, and is committed with the next commit: a
crash before the commit leaves no trace and the messages come again; a crash
after it leaves the receiver's ledger entries, so the messages come again, are
skipped as duplicates and acknowledged then. When the server or the connection
fails in the middle of a batch, the messages processed so far are committed first.

Containment: whatever one message does, the loop goes on. A message whose
processing raises (twice), one larger than the limit (never fetched) and one
the server listed but did not return are left on the server, neither flagged
nor deleted, each named to the receiver (``leave``), and the checkpoint passes
them: every message passed is committed by the receiver or named.
"""
import contextlib
import time
from collections import Counter
from collections.abc import Hashable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol

# Processing that raises is tried once more, in a new transaction (the messages
# before it in the batch are committed first): when another process commits the
# same mail at that moment (one mail sent to two of our mailboxes), the first try
# fails on the ledger (PostgreSQL's serialization failure) and the second finds
# the mail processed: a duplicate, acknowledged.
RECEIVE_TRIES = 2


@dataclass(frozen=True)
class Pending:
    """A message waiting on the server: ``key`` names it (an IMAP UID, a POP3
    UIDL), ``size`` is its size in bytes as the server announces it, ``arrived``
    when the server received it (IMAP INTERNALDATE, seconds since the epoch; None
    when the server does not say: POP3)."""
    key: Hashable
    size: int
    arrived: float | None = None


@dataclass(frozen=True)
class Unreadable:
    """In place of the bytes of a message that the server listed but did not
    give: why."""
    reason: str


class Mailbox(Protocol):
    """A folder or maildrop, with where fetching stands in it (``checkpoint``,
    a value the receiver stores and gives back at the next run)."""

    checkpoint: object

    def pending(self) -> Sequence[Pending]:
        """The messages to take, in the order to take them."""

    def fetch(self, keys: Sequence[Hashable]) -> Iterator[tuple[Hashable, bytes | Unreadable]]:
        """Each of ``keys``, in order, with its bytes exactly as stored; no flag set."""

    def acknowledge(self, keys: Sequence[Hashable]) -> None:
        """Mark these messages done on the server: \\Seen (IMAP), deleted (POP3)."""

    def passed(self, acknowledged: Sequence[Hashable], left: Sequence[Hashable]) -> None:
        """Move ``checkpoint`` past a batch: these were acknowledged, those left."""

    def name(self, key: Hashable) -> str:
        """The message as an administrator finds it: 'UID 7 in folder INBOX'."""


class Receiver(Protocol):
    """What the loop calls back: the caller's processing and its transaction."""

    def receive(self, raw: bytes, arrived: float | None) -> str | None:
        """Process one message (which the server received at ``arrived``) in the current
        transaction; what became of it, in the receiver's words ('routed',
        'quarantined'...), counted in the Report once the message is committed. May
        raise, having undone what it did for this message only (a savepoint)."""

    def commit(self, checkpoint: object) -> None:
        """Store ``checkpoint`` and commit the transaction."""

    def leave(self, message: str, reason: str, error: Exception | None) -> None:
        """``message`` stays on the server, neither flagged nor deleted, for
        ``reason`` (``error``: what processing raised). Say so where an
        administrator looks; the loop commits right after."""


@dataclass(frozen=True)
class Limits:
    count: int               # messages per batch
    batch_bytes: int         # bytes fetched per batch, unless a single message is larger
    max_message_bytes: int   # a larger message is not fetched at all

    def too_large(self, item: Pending) -> bool:
        return item.size > self.max_message_bytes


@dataclass
class Report:
    received: int = 0        # processed and committed
    left: int = 0            # left on the server, named to the receiver
    more: bool = False       # the deadline came first: messages wait for the next run
    waiting: int = 0         # how many, then
    outcomes: Counter = field(default_factory=Counter)  # what receive() said of the received ones


def batches(pending: Iterable[Pending], limits: Limits) -> Iterator[list[Pending]]:
    """``pending`` in order, cut into batches of at most ``limits.count``
    messages and ``limits.batch_bytes`` bytes to fetch (a message larger than
    that alone). A message too large to fetch weighs nothing."""
    batch, size = [], 0
    for item in pending:
        weight = 0 if limits.too_large(item) else item.size
        if batch and (len(batch) >= limits.count or size + weight > limits.batch_bytes):
            yield batch
            batch, size = [], 0
        batch.append(item)
        size += weight
    if batch:
        yield batch


def drain(mailbox: Mailbox, receiver: Receiver, limits: Limits, deadline: float) -> Report:
    """Take every pending message of ``mailbox``, batch by batch, until done
    or ``deadline`` (time.monotonic()) has come; then commit the checkpoint.
    Raises only what the server, the connection or a commit raise."""
    report = Report()
    pending = mailbox.pending()
    for batch in batches(pending, limits):
        if time.monotonic() >= deadline:
            report.more = True
            report.waiting = len(pending) - report.received - report.left
            break
        acknowledged, left = _take(mailbox, receiver, batch, limits, report.outcomes)
        mailbox.acknowledge(acknowledged)
        mailbox.passed(acknowledged, left)
        report.received += len(acknowledged)
        report.left += len(left)
    receiver.commit(mailbox.checkpoint)
    return report


@dataclass(frozen=True)
class Left:
    """Why a message stays on the server; ``error``: what its processing raised."""
    reason: str
    error: Exception | None = None


def _take(mailbox: Mailbox, receiver: Receiver, batch: list[Pending],
          limits: Limits, outcomes: Counter) -> tuple[list[Hashable], list[Hashable]]:
    """Process one batch and commit it; returns (keys received, keys left) and
    counts in ``outcomes`` what became of those received."""
    acknowledged, left = [], []
    for item in batch:
        if limits.too_large(item):
            _leave(mailbox, receiver, item.key, Left(
                f"{item.size} bytes, more than the largest message fetched ({limits.max_message_bytes} bytes)"))
            left.append(item.key)
    arrivals = {item.key: item.arrived for item in batch}
    try:
        for key, raw in mailbox.fetch([item.key for item in batch if not limits.too_large(item)]):
            outcome = _process(receiver, raw, arrivals[key], mailbox.checkpoint)
            if isinstance(outcome, Left):
                _leave(mailbox, receiver, key, outcome)
                left.append(key)
            else:
                acknowledged.append(key)
                outcomes[outcome] += 1
    except Exception:
        # The server or the connection failed (or the database, leaving a message): the
        # messages processed so far are kept, as when each was committed alone, and come
        # again as duplicates; processed again, what they sent (a bounce) would be sent twice.
        with contextlib.suppress(Exception):  # the server's error is the one to report
            receiver.commit(mailbox.checkpoint)
        raise
    receiver.commit(mailbox.checkpoint)
    return acknowledged, left


def _process(receiver: Receiver, raw: bytes | Unreadable, arrived: float | None,
             checkpoint: object) -> str | None | Left:
    """What receive() said once ``raw`` is processed (not yet committed); else why
    it is left."""
    if isinstance(raw, Unreadable):
        return Left(f"the server did not give its bytes: {raw.reason}")
    error = None
    for attempt in range(RECEIVE_TRIES):
        if attempt:  # receive() undid its try; the next one runs in a new transaction
            receiver.commit(checkpoint)
        try:
            return receiver.receive(raw, arrived)
        except Exception as exc:  # containment: one message never stops the mailbox
            error = exc
    return Left(f"processing raised {type(error).__name__}: {error}", error)


def _leave(mailbox: Mailbox, receiver: Receiver, key: Hashable, why: Left) -> None:
    receiver.leave(mailbox.name(key), why.reason, why.error)
    receiver.commit(mailbox.checkpoint)
