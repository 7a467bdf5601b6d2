"""The exactly-once loop (drain) over a real Dovecot, IMAP and POP3: each
batch committed before it is flagged or deleted, one bad message never
stops the rest, batches bounded by bytes, large messages never fetched,
nothing passed without a trace."""
import poplib
import re
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fetching import imap, pop3
from fetching.drain import RECEIVE_TRIES, Limits, Pending, batches, drain
from fetching.imap import MAX_UID
from fetching.mailboxes import ImapCheckpoint, ImapFolder, Pop3Checkpoint, Pop3Maildrop
from fetching.settings import ConnectionSettings
from testsupport.messages import sample_message
from testsupport.proxy import Proxy

LIMITS = Limits(count=2, batch_bytes=10_000_000, max_message_bytes=10_000_000)
FAILING = b'Subject: Test message 2\r\n'  # the header of sample_message(2)
NEVER_FETCHED = ImapCheckpoint()
NOTHING_PASSED = Pop3Checkpoint()


def deadline(seconds=60):
    return time.monotonic() + seconds


class Store:
    """A Receiver keeping in memory what a database would: the messages and
    the checkpoint committed, and the messages left. Processing raises for a
    message holding ``failing`` (having kept nothing of it, as a savepoint
    would); ``on_commit(raws)`` sees each commit coming."""

    def __init__(self, checkpoint, *, failing=None, on_commit=None):
        self.checkpoint = checkpoint
        self.committed = []
        self.left = []
        self.tries = 0
        self._work = []
        self._failing = failing
        self._on_commit = on_commit

    def receive(self, raw, arrived):
        self.arrivals = [*getattr(self, 'arrivals', []), arrived]
        self.tries += 1
        if self._failing and self._failing in raw:
            raise ValueError("this one cannot be stored")
        self._work.append(raw)
        return 'odd' if len(self.committed + self._work) % 2 else 'even'

    def commit(self, checkpoint):
        if self._on_commit:
            self._on_commit(self._work)
        self.committed += self._work
        self._work = []
        self.checkpoint = checkpoint

    def leave(self, message, reason, error):
        self.left.append((message, reason, error))


def imap_folder(dovecot, conn_settings, checkpoint=NEVER_FETCHED, folder='INBOX'):
    def connect():
        conn = imap.open_imap(conn_settings)
        imap.login(conn, dovecot.user, dovecot.password)
        return conn
    return ImapFolder(connect, folder, checkpoint)


def pop3_maildrop(dovecot, conn_settings, checkpoint=NOTHING_PASSED):
    def connect():
        conn = pop3.open_pop3(conn_settings)
        pop3.login_pop3(conn, dovecot.user, dovecot.password)
        return conn
    return Pop3Maildrop(connect, checkpoint)


def run(mailbox, store, limits=LIMITS, until=None):
    with mailbox:
        return drain(mailbox, store, limits, until or deadline())


def seen(dovecot):
    return {uid for uid, flags in dovecot.flags('INBOX').items() if r'\Seen' in flags}


def append(dovecot, count, size=0):
    """Messages 0..count-1; returns {raw: UID}."""
    raws = [sample_message(index, size=size) for index in range(count)]
    return dict(zip(raws, dovecot.append_all('INBOX', raws), strict=True))


# IMAP


def test_each_batch_is_committed_before_it_is_flagged(dovecot, imaps_settings):
    uids = append(dovecot, 5)
    commits = []

    def not_yet_flagged(raws):
        assert not {uids[raw] for raw in raws} & seen(dovecot), "flagged before its commit"
        commits.append(list(raws))

    store = Store(ImapCheckpoint(), on_commit=not_yet_flagged)
    report = run(imap_folder(dovecot, imaps_settings), store)
    assert store.committed == list(uids)
    raws = list(uids)
    # One transaction a batch (of two), then the checkpoint's own commit.
    assert commits == [raws[0:2], raws[2:4], raws[4:], []]
    assert seen(dovecot) == set(uids.values())
    assert (report.received, report.left, report.more) == (5, 0, False)
    assert store.checkpoint == ImapCheckpoint(dovecot.uidvalidity('INBOX'), max(uids.values()))


def test_a_failed_commit_leaves_the_rest_unflagged_and_the_checkpoint_before_them(dovecot, imaps_settings):
    uids = append(dovecot, 5)
    start = ImapCheckpoint(dovecot.uidvalidity('INBOX'), 0)
    commits = []

    def second_fails(raws):
        commits.append(raws)
        if len(commits) == 2:
            raise OSError("the database went away")

    store = Store(start, on_commit=second_fails)
    with pytest.raises(OSError):
        run(imap_folder(dovecot, imaps_settings, start), store)
    first_batch = set(list(uids.values())[:2])
    assert seen(dovecot) == first_batch
    # The first batch was flagged after its commit; its checkpoint was to go with the second.
    assert store.checkpoint == start
    again = Store(store.checkpoint)
    run(imap_folder(dovecot, imaps_settings, store.checkpoint), again)
    assert again.committed == list(uids)  # the first two again: the ledger skips them
    assert seen(dovecot) == set(uids.values())


def test_a_message_that_raises_is_tried_again_once_those_before_it_are_committed(dovecot, imaps_settings):
    uids = append(dovecot, 4)
    raws = list(uids)
    commits = []
    store = Store(ImapCheckpoint(), failing=FAILING,
                  on_commit=lambda work: commits.append((list(work), store.tries)))
    run(imap_folder(dovecot, imaps_settings), store, Limits(count=4, batch_bytes=10_000_000,
                                                            max_message_bytes=10_000_000))
    # Message 2 failed at the third try; the two before it were committed then, so that
    # its second try (the fourth) ran in a new transaction.
    assert commits[0] == (raws[:2], 3)
    assert store.tries == 2 + RECEIVE_TRIES + 1
    assert store.committed == [raws[0], raws[1], raws[3]]
    assert [left[0] for left in store.left] == [f"UID {uids[raws[2]]} in folder 'INBOX'"]


def test_a_message_whose_processing_raises_is_left_unflagged_and_the_next_ones_land(dovecot, imaps_settings):
    uids = append(dovecot, 5)
    failing = sample_message(2)
    store = Store(ImapCheckpoint(), failing=FAILING)
    report = run(imap_folder(dovecot, imaps_settings), store)
    assert store.committed == [raw for raw in uids if raw != failing]
    assert store.tries == 4 + RECEIVE_TRIES
    [(message, reason, error)] = store.left
    assert message == f"UID {uids[failing]} in folder 'INBOX'"
    assert reason == "processing raised ValueError: this one cannot be stored"
    assert isinstance(error, ValueError)
    assert seen(dovecot) == set(uids.values()) - {uids[failing]}
    assert (report.received, report.left) == (4, 1)
    assert report.outcomes == {'odd': 2, 'even': 2}, "what receive() said of each committed message"
    # Passed: the next run does not take it again, nor anything else.
    assert store.checkpoint.last_uid == max(uids.values())
    again = Store(store.checkpoint, failing=FAILING)
    run(imap_folder(dovecot, imaps_settings, store.checkpoint), again)
    assert (again.tries, again.left) == (0, [])


def test_a_message_too_large_is_left_without_being_fetched(dovecot):
    small, large = sample_message(0), sample_message(1, size=300_000)
    uids = dovecot.append_all('INBOX', [small, large, sample_message(2)])
    limits = Limits(count=10, batch_bytes=10_000_000, max_message_bytes=100_000)
    with Proxy(dovecot.ports.imaps) as proxy:
        # Were the large message fetched, the connection would be cut and drain would raise.
        proxy.cut_after(200_000)
        conn_settings = ConnectionSettings(dovecot.host, proxy.port, 'ssl', timeout=5, ca_file=str(dovecot.ca_file))
        store = Store(ImapCheckpoint())
        report = run(imap_folder(dovecot, conn_settings), store, limits)
    assert store.committed == [small, sample_message(2)]
    [(message, reason, error)] = store.left
    assert message == f"UID {uids[1]} in folder 'INBOX'"
    assert reason == f"{len(large)} bytes, more than the largest message fetched (100000 bytes)"
    assert error is None
    assert seen(dovecot) == {uids[0], uids[2]}
    assert report.left == 1
    assert store.checkpoint.last_uid == uids[2]


def test_batches_are_bounded_by_bytes(dovecot, imaps_settings):
    uids = append(dovecot, 5, size=100_000)
    size = len(sample_message(0, size=100_000))
    flagged_at_commit = []
    store = Store(ImapCheckpoint(), on_commit=lambda raws: flagged_at_commit.append(len(seen(dovecot))))
    run(imap_folder(dovecot, imaps_settings), store, Limits(count=50, batch_bytes=2 * size + 1,
                                                            max_message_bytes=10_000_000))
    # Batches of two (flagged together, after their commit), two, one; then the last commit.
    assert flagged_at_commit == [0, 2, 4, 5]
    assert store.committed == list(uids)


def test_uids_and_uidvalidity_above_two_to_the_31(dovecot, imaps_settings):
    dovecot.change_uidvalidity('INBOX', MAX_UID)
    dovecot.raise_next_uid('INBOX', 2**31 + 5)
    uids = append(dovecot, 3)
    assert min(uids.values()) > 2**31
    store = Store(ImapCheckpoint())
    run(imap_folder(dovecot, imaps_settings), store)
    assert store.checkpoint == ImapCheckpoint(MAX_UID, max(uids.values()))
    new = dovecot.append('INBOX', sample_message(9))
    again = Store(store.checkpoint)
    run(imap_folder(dovecot, imaps_settings, store.checkpoint), again)
    assert again.committed == [sample_message(9)]
    assert again.checkpoint == ImapCheckpoint(MAX_UID, new)


def test_a_uid_the_server_does_not_return_is_left_not_skipped(dovecot):
    uids = append(dovecot, 3)
    missing = list(uids.values())[1]

    def drop_the_second(data):
        # The FETCH asks for the first UID and the third only: the second does not come back.
        return re.sub(rb'UID FETCH \S+ \(UID BODY', b'UID FETCH %d,%d (UID BODY' % (missing - 1, missing + 1), data)

    with Proxy(dovecot.ports.imap, rewrite_requests=drop_the_second) as proxy:
        store = Store(ImapCheckpoint())
        report = run(imap_folder(dovecot, ConnectionSettings(dovecot.host, proxy.port, 'none', timeout=5)),
                     store, Limits(count=3, batch_bytes=10_000_000, max_message_bytes=10_000_000))
    assert store.committed == [raw for raw, uid in uids.items() if uid != missing]
    assert store.left == [(f"UID {missing} in folder 'INBOX'",
                           "the server did not give its bytes: it was not in the answer to UID FETCH", None)]
    assert seen(dovecot) == set(uids.values()) - {missing}
    assert report.left == 1


def test_a_first_fetch_takes_the_unseen_then_goes_on_by_uid(dovecot, imaps_settings):
    unseen = dovecot.append('INBOX', sample_message(0))
    read = dovecot.append('INBOX', sample_message(1), flags=[r'\Seen'])
    store = Store(ImapCheckpoint())
    run(imap_folder(dovecot, imaps_settings), store)
    assert store.committed == [sample_message(0)]
    assert store.checkpoint == ImapCheckpoint(dovecot.uidvalidity('INBOX'), read)
    read_in_webmail = dovecot.append('INBOX', sample_message(2), flags=[r'\Seen'])
    again = Store(store.checkpoint)
    run(imap_folder(dovecot, imaps_settings, store.checkpoint), again)
    assert again.committed == [sample_message(2)]
    assert again.checkpoint.last_uid == read_in_webmail > unseen


def test_out_of_time_before_a_batch_leaves_it_for_the_next_run(dovecot, imaps_settings):
    uids = append(dovecot, 3)
    start = ImapCheckpoint(dovecot.uidvalidity('INBOX'), 0)
    store = Store(start)
    report = run(imap_folder(dovecot, imaps_settings, start), store, until=time.monotonic())
    assert (report.received, report.more, store.committed, store.checkpoint) == (0, True, [], start)
    assert seen(dovecot) == set()
    run(imap_folder(dovecot, imaps_settings, start), store)
    assert store.committed == list(uids)


# POP3


def test_pop3_deletes_each_batch_after_its_commits_and_quits(dovecot, pop3s_settings):
    uids = append(dovecot, 5)

    def still_there(raws):
        assert {uids[raw] for raw in raws} <= set(dovecot.flags('INBOX')), "deleted before its commit"

    in_maildrop_at_commit = []
    store = Store(Pop3Checkpoint(), on_commit=lambda raws: (still_there(raws), in_maildrop_at_commit.append(
        len(dovecot.flags('INBOX')))))
    report = run(pop3_maildrop(dovecot, pop3s_settings), store)
    assert store.committed == list(uids)
    # QUIT after each batch of two: their deletions take effect before the next batch.
    assert in_maildrop_at_commit == [5, 3, 1, 0]
    assert dovecot.flags('INBOX') == {}
    assert report.received == 5
    assert len(store.checkpoint.done) == 5


def test_pop3_a_message_whose_processing_raises_stays_and_is_not_taken_again(dovecot, pop3s_settings):
    uids = append(dovecot, 5)
    failing = sample_message(2)
    store = Store(Pop3Checkpoint(), failing=FAILING)
    report = run(pop3_maildrop(dovecot, pop3s_settings), store)
    assert store.committed == [raw for raw in uids if raw != failing]
    [(message, reason, _error)] = store.left
    assert message.startswith("UIDL ") and "ValueError" in reason
    assert set(dovecot.flags('INBOX')) == {uids[failing]}
    assert (report.received, report.left) == (4, 1)
    assert len(store.checkpoint.left) == 1
    again = Store(store.checkpoint, failing=FAILING)
    run(pop3_maildrop(dovecot, pop3s_settings, store.checkpoint), again)
    assert (again.tries, again.left) == (0, [])
    assert set(dovecot.flags('INBOX')) == {uids[failing]}, "left: never deleted"
    assert again.checkpoint == Pop3Checkpoint(left=store.checkpoint.left)  # the deleted ones forgotten


def test_pop3_a_message_too_large_is_left_without_being_fetched(dovecot):
    small, large = sample_message(0), sample_message(1, size=300_000)
    uids = dovecot.append_all('INBOX', [small, large])
    with Proxy(dovecot.ports.pop3s) as proxy:
        proxy.cut_after(200_000)
        conn_settings = ConnectionSettings(dovecot.host, proxy.port, 'ssl', timeout=5, ca_file=str(dovecot.ca_file))
        store = Store(Pop3Checkpoint())
        run(pop3_maildrop(dovecot, conn_settings), store,
            Limits(count=10, batch_bytes=10_000_000, max_message_bytes=100_000))
    assert store.committed == [small]
    [(_message, reason, _error)] = store.left
    assert reason.startswith(f"{len(large)} bytes, more than")
    assert set(dovecot.flags('INBOX')) == {uids[1]}


def test_a_connection_cut_in_a_batch_keeps_the_messages_processed_before_it(dovecot):
    # A POP3 batch retrieves message by message: the cut comes after the first was processed.
    small, large = sample_message(0), sample_message(1, size=300_000)
    uids = dovecot.append_all('INBOX', [small, large])
    with Proxy(dovecot.ports.pop3s) as proxy:
        proxy.cut_after(200_000)
        conn_settings = ConnectionSettings(dovecot.host, proxy.port, 'ssl', timeout=5, ca_file=str(dovecot.ca_file))
        store = Store(Pop3Checkpoint())
        with pytest.raises(poplib.error_proto, match='EOF'):
            run(pop3_maildrop(dovecot, conn_settings), store,
                Limits(count=10, batch_bytes=10_000_000, max_message_bytes=10_000_000))
    # Committed (what it did, a bounce it sent, is not done again), not deleted: the next
    # run takes it again and the ledger skips it.
    assert store.committed == [small]
    assert store.checkpoint == Pop3Checkpoint()
    assert set(dovecot.flags('INBOX')) == set(uids)


def test_pop3_messages_committed_but_not_deleted_are_deleted_without_processing(dovecot, pop3s_settings):
    append(dovecot, 3)
    with pop3_maildrop(dovecot, pop3s_settings) as maildrop:
        # As after a crash between the commit and QUIT: the first is done, still there.
        done = maildrop.pending()[0].key
    store = Store(Pop3Checkpoint(done=frozenset({done})))
    run(pop3_maildrop(dovecot, pop3s_settings, store.checkpoint), store)
    assert store.committed == [sample_message(1), sample_message(2)]
    assert dovecot.flags('INBOX') == {}
    again = Store(store.checkpoint)
    run(pop3_maildrop(dovecot, pop3s_settings, store.checkpoint), again)
    assert again.checkpoint == Pop3Checkpoint()  # gone from the server: forgotten


def test_pop3_without_uidl_one_session_and_nothing_remembered(dovecot):
    uids = append(dovecot, 3)
    # Dovecot has UIDL; renamed on the way, the command is unknown to it and answered -ERR.
    with Proxy(dovecot.ports.pop3, rewrite_requests=lambda data: data.replace(b'UIDL', b'XUID')) as proxy:
        conn_settings = ConnectionSettings(dovecot.host, proxy.port, 'none', timeout=5)
        store = Store(Pop3Checkpoint(), failing=sample_message(1))
        run(pop3_maildrop(dovecot, conn_settings), store)
    assert store.committed == [sample_message(0), sample_message(2)]
    assert [message for message, _reason, _error in store.left] == ["message 2 (the server gives no UIDL)"]
    # Numbers change at QUIT: the deletions of the whole run take effect at its one QUIT.
    assert set(dovecot.flags('INBOX')) == {uids[sample_message(1)]}
    assert store.checkpoint == Pop3Checkpoint()


# Batches, as a pure function


@given(sizes=st.lists(st.integers(min_value=0, max_value=1000), max_size=40),
       count=st.integers(min_value=1, max_value=10), batch_bytes=st.integers(min_value=1, max_value=2000))
def test_batches_keep_the_order_and_the_bounds(sizes, count, batch_bytes):
    limits = Limits(count=count, batch_bytes=batch_bytes, max_message_bytes=800)
    pending = [Pending(index, size) for index, size in enumerate(sizes)]
    cut = list(batches(pending, limits))
    assert [item for batch in cut for item in batch] == pending
    for batch in cut:
        fetched = [item.size for item in batch if item.size <= limits.max_message_bytes]
        assert 1 <= len(batch) <= count
        assert sum(fetched) <= batch_bytes or len(fetched) == 1
