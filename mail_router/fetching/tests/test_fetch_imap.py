"""IMAP by UID against a real Dovecot: what is new, exact bytes, flags."""
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fetching.errors import FolderMissing
from fetching.imap import (
    MAX_UID,
    Fetched,
    Listed,
    _arrived,
    close,
    fetch_raw,
    listing,
    login,
    mailbox_name,
    mark_seen,
    open_imap,
    parse_fetch,
    select_folder,
    uid_set,
)
from testsupport.messages import sample_message


def append_messages(dovecot, count):
    return dovecot.append_all('INBOX', map(sample_message, range(count)))


def uids(listed):
    return [item.uid for item in listed]


def test_listing_gives_the_new_uids_in_order_with_their_sizes(dovecot, imap_conn):
    before = time.time()
    appended = append_messages(dovecot, 4)
    select_folder(imap_conn, 'INBOX')
    listed = listing(imap_conn, 0)
    assert [item[:3] for item in listed] == [Listed(uid, len(sample_message(index)), False)[:3]
                                             for index, uid in enumerate(appended)]
    # INTERNALDATE: when the server received it (to the second)
    assert all(before - 1 <= item.arrived <= time.time() + 1 for item in listed)
    assert uids(listing(imap_conn, appended[1])) == appended[2:]


def test_listing_drops_the_highest_uid_that_star_adds(dovecot, imap_conn):
    appended = append_messages(dovecot, 2)
    select_folder(imap_conn, 'INBOX')
    # The quirk itself, as the server shows it: 'n:*' names the highest UID even below n.
    assert imap_conn.uid('SEARCH', 'UID', f'{appended[-1] + 1}:*') == ('OK', [str(appended[-1]).encode()])
    assert listing(imap_conn, appended[-1]) == []
    assert listing(imap_conn, appended[-1] + 100) == []


def test_listing_an_empty_folder(imap_conn):
    select_folder(imap_conn, 'INBOX')
    assert listing(imap_conn, 0) == []


def test_listing_after_the_highest_possible_uid_sends_nothing(imap_conn):
    select_folder(imap_conn, 'INBOX')
    commands_before = imap_conn.tagnum
    assert listing(imap_conn, MAX_UID) == []
    assert imap_conn.tagnum == commands_before  # MAX_UID + 1 would be a BAD command


def test_uids_and_uidvalidity_above_two_to_the_31(dovecot, imap_conn):
    validity = dovecot.change_uidvalidity('INBOX', MAX_UID)
    dovecot.raise_next_uid('INBOX', MAX_UID - 9)
    appended = append_messages(dovecot, 2)
    assert appended == [MAX_UID - 9, MAX_UID - 8]
    assert select_folder(imap_conn, 'INBOX') == validity == 2**32 - 1
    assert uids(listing(imap_conn, 0)) == appended
    assert uids(listing(imap_conn, appended[0])) == appended[1:]
    assert fetch_raw(imap_conn, appended).messages == {uid: sample_message(index) for index, uid in enumerate(appended)}
    mark_seen(imap_conn, appended)
    assert dovecot.flags('INBOX') == {uid: {r'\Seen'} for uid in appended}


def test_mail_that_came_after_select_shows_at_the_next_select(dovecot, imap_conn):
    select_folder(imap_conn, 'INBOX')
    uid = dovecot.append('INBOX', sample_message(1))
    assert listing(imap_conn, 0) == []
    select_folder(imap_conn, 'INBOX')
    assert uids(listing(imap_conn, 0)) == [uid]


def test_listing_tells_the_seen(dovecot, imap_conn):
    unseen = dovecot.append('INBOX', sample_message(1))
    seen = dovecot.append('INBOX', sample_message(2), flags=[r'\Seen'])
    flagged = dovecot.append('INBOX', sample_message(3), flags=[r'\Flagged', r'\Answered'])
    select_folder(imap_conn, 'INBOX')
    assert [(item.uid, item.seen) for item in listing(imap_conn, 0)] == [(unseen, False), (seen, True),
                                                                        (flagged, False)]
    assert fetch_raw(imap_conn, [seen]).messages == {seen: sample_message(2)}


def test_fetch_raw_returns_the_exact_bytes_and_sets_no_flag(dovecot, imap_conn):
    originals = {dovecot.append('INBOX', sample_message(index, size=50_000)):
                 sample_message(index, size=50_000) for index in range(3)}
    select_folder(imap_conn, 'INBOX')
    assert fetch_raw(imap_conn, originals) == Fetched(originals, ())
    assert dovecot.flags('INBOX') == {uid: set() for uid in originals}


def test_fetch_raw_takes_one_round_trip_per_batch(dovecot, imap_conn):
    appended = append_messages(dovecot, 120)
    select_folder(imap_conn, 'INBOX')
    commands_before = imap_conn.tagnum
    fetched = fetch_raw(imap_conn, appended)
    assert imap_conn.tagnum - commands_before == 1
    assert fetched.messages == {uid: sample_message(index) for index, uid in enumerate(appended)}


def test_fetch_raw_of_nothing_sends_nothing(imap_conn):
    select_folder(imap_conn, 'INBOX')
    commands_before = imap_conn.tagnum
    assert fetch_raw(imap_conn, []) == Fetched({}, ())
    assert imap_conn.tagnum == commands_before


def test_fetch_raw_leaves_out_uids_no_longer_there(dovecot, imap_conn):
    appended = append_messages(dovecot, 2)
    select_folder(imap_conn, 'INBOX')
    assert fetch_raw(imap_conn, [appended[0], appended[1] + 1]) == Fetched({appended[0]: sample_message(0)}, ())


def test_fetch_raw_ignores_flag_changes_made_by_another_client(dovecot, imap_conn, imaps_settings):
    appended = append_messages(dovecot, 2)
    select_folder(imap_conn, 'INBOX')
    other = open_imap(imaps_settings)
    login(other, dovecot.user, dovecot.password)
    select_folder(other, 'INBOX')
    mark_seen(other, appended)
    close(other)
    # Our session hears of those flags now, in FETCH responses of their own.
    expected = {uid: sample_message(index) for index, uid in enumerate(appended)}
    assert fetch_raw(imap_conn, appended) == Fetched(expected, ())


def test_mark_seen_sets_seen_on_those_uids_only(dovecot, imap_conn):
    appended = append_messages(dovecot, 3)
    select_folder(imap_conn, 'INBOX')
    mark_seen(imap_conn, appended[:2])
    assert dovecot.flags('INBOX') == {appended[0]: {r'\Seen'}, appended[1]: {r'\Seen'}, appended[2]: set()}


def test_close_expunges_nothing(dovecot, imap_conn):
    # Another client marked it \\Deleted; only that client may expunge it.
    uid = dovecot.append('INBOX', sample_message(1), flags=[r'\Deleted'])
    select_folder(imap_conn, 'INBOX')
    close(imap_conn)
    assert dovecot.flags('INBOX') == {uid: {r'\Deleted'}}


def test_another_folder(dovecot, imap_conn):
    dovecot.create_folder('Archive/2024')
    in_inbox = dovecot.append('INBOX', sample_message(1))
    in_folder = dovecot.append('Archive/2024', sample_message(2))
    assert select_folder(imap_conn, 'Archive/2024') == dovecot.uidvalidity('Archive/2024')
    assert fetch_raw(imap_conn, uids(listing(imap_conn, 0))).messages == {in_folder: sample_message(2)}
    mark_seen(imap_conn, [in_folder])
    assert dovecot.flags('Archive/2024') == {in_folder: {r'\Seen'}}
    assert dovecot.flags('INBOX') == {in_inbox: set()}


def test_a_folder_with_a_non_ascii_name(dovecot, imap_conn):
    dovecot.create_folder('Reçus & "traités"')
    assert select_folder(imap_conn, 'Reçus & "traités"') == dovecot.uidvalidity('Reçus & "traités"')


def test_a_new_uidvalidity_shows(dovecot, imap_conn):
    before = select_folder(imap_conn, 'INBOX')
    assert before == dovecot.uidvalidity('INBOX')
    after = dovecot.change_uidvalidity('INBOX')
    assert select_folder(imap_conn, 'INBOX') == after != before


def test_a_missing_folder(imap_conn):
    with pytest.raises(FolderMissing) as raised:
        select_folder(imap_conn, 'No Such Folder')
    assert raised.value.folder == 'No Such Folder'
    assert "doesn't exist" in raised.value.reply


def test_mailbox_name_is_modified_utf7_quoted():
    # RFC 3501 5.1.3's own example.
    assert mailbox_name('~peter/mail/台北/日本語') == '"~peter/mail/&U,BTFw-/&ZeVnLIqe-"'
    assert mailbox_name('A&B "q" \\') == '"A&-B \\"q\\" \\\\"'


def test_parse_fetch_finds_the_uid_after_the_body_too():
    # Some servers put UID after the literal; imaplib then gives it as the next item.
    data = [(b'1 (BODY[] {3}', b'abc'), b' UID 7)', b'2 (FLAGS (\\Seen))',
            (b'3 (UID 9 BODY[] {2}', b'de'), b')']
    assert parse_fetch(data) == Fetched({7: b'abc', 9: b'de'}, ())


def test_parse_fetch_keeps_what_it_cannot_read():
    # A body that is no literal, a literal without UID: not skipped silently.
    data = [b'1 (UID 7 BODY[] NIL)', (b'2 (BODY[] {3}', b'abc'), b')', (b'3 (UID 9 BODY[] {2}', b'de'), b')']
    assert parse_fetch(data) == Fetched({9: b'de'}, (b'1 (UID 7 BODY[] NIL)', b'2 (BODY[] {3}'))


def expand(sequence_set: str) -> set[int]:
    uids = set()
    for part in sequence_set.split(','):
        first, _, last = part.partition(':')
        uids.update(range(int(first), int(last or first) + 1))
    return uids


@given(st.sets(st.integers(min_value=1, max_value=300), min_size=1))
def test_uid_set_names_exactly_the_uids(uids):
    assert expand(uid_set(uids)) == uids


def test_uid_set_is_short_for_runs():
    assert uid_set([7, 1, 2, 3, 9, 10]) == '1:3,7,9:10'


@pytest.mark.parametrize('line', [
    b'1 (UID 7 RFC822.SIZE 10 INTERNALDATE "05-Xyz-2026 10:00:00 +0000")',  # a month imaplib does not know
    b'1 (UID 7 RFC822.SIZE 10 INTERNALDATE "99-Dec-9999 99:99:99 +9999")',  # out of range
    b'1 (UID 7 RFC822.SIZE 10)',
])
def test_an_arrival_date_that_cannot_be_read_is_none(line):
    assert _arrived(line) is None


def test_an_arrival_date_is_read():
    assert _arrived(b'1 (UID 7 RFC822.SIZE 10 INTERNALDATE "05-Dec-2026 10:00:00 +0000")') == 1796464800
