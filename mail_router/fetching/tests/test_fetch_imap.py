"""IMAP by UID against a real Dovecot: what is new, exact bytes, flags."""
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fetching.errors import FolderMissing
from fetching.imap import (
    close,
    fetch_raw,
    highest_uid,
    login,
    mailbox_name,
    mark_seen,
    open_imap,
    parse_fetch,
    select_folder,
    uid_set,
    uids_after,
    unseen_uids,
)
from testsupport.messages import sample_message


def append_messages(dovecot, count):
    return dovecot.append_all('INBOX', map(sample_message, range(count)))


def test_uids_after_lists_the_new_uids_in_order(dovecot, imap_conn):
    uids = append_messages(dovecot, 4)
    select_folder(imap_conn, 'INBOX')
    assert uids_after(imap_conn, 0) == uids
    assert uids_after(imap_conn, uids[1]) == uids[2:]


def test_uids_after_drops_the_highest_uid_that_star_adds(dovecot, imap_conn):
    uids = append_messages(dovecot, 2)
    select_folder(imap_conn, 'INBOX')
    # The quirk itself, as the server shows it: 'n:*' names the highest UID even below n.
    assert imap_conn.uid('SEARCH', 'UID', f'{uids[-1] + 1}:*') == ('OK', [str(uids[-1]).encode()])
    assert uids_after(imap_conn, uids[-1]) == []
    assert uids_after(imap_conn, uids[-1] + 100) == []


def test_highest_uid(dovecot, imap_conn):
    select_folder(imap_conn, 'INBOX')
    assert highest_uid(imap_conn) == 0
    uids = append_messages(dovecot, 3)
    select_folder(imap_conn, 'INBOX')
    assert highest_uid(imap_conn) == uids[-1]


def test_mail_that_came_after_select_shows_at_the_next_select(dovecot, imap_conn):
    select_folder(imap_conn, 'INBOX')
    uid = dovecot.append('INBOX', sample_message(1))
    assert uids_after(imap_conn, 0) == []
    select_folder(imap_conn, 'INBOX')
    assert uids_after(imap_conn, 0) == [uid]


def test_a_message_read_in_webmail_first_is_still_new(dovecot, imap_conn):
    read = dovecot.append('INBOX', sample_message(1), flags=[r'\Seen'])
    select_folder(imap_conn, 'INBOX')
    assert uids_after(imap_conn, 0) == [read]
    assert fetch_raw(imap_conn, [read]) == [(read, sample_message(1))]


def test_unseen_uids_skips_the_seen(dovecot, imap_conn):
    unseen = dovecot.append('INBOX', sample_message(1))
    dovecot.append('INBOX', sample_message(2), flags=[r'\Seen'])
    also_unseen = dovecot.append('INBOX', sample_message(3), flags=[r'\Flagged'])
    select_folder(imap_conn, 'INBOX')
    assert unseen_uids(imap_conn) == [unseen, also_unseen]


def test_fetch_raw_returns_the_exact_bytes_and_sets_no_flag(dovecot, imap_conn):
    originals = {dovecot.append('INBOX', sample_message(index, size=50_000)):
                 sample_message(index, size=50_000) for index in range(3)}
    select_folder(imap_conn, 'INBOX')
    assert fetch_raw(imap_conn, originals) == sorted(originals.items())
    assert dovecot.flags('INBOX') == {uid: set() for uid in originals}


def test_fetch_raw_takes_one_round_trip_per_batch(dovecot, imap_conn):
    uids = append_messages(dovecot, 120)
    select_folder(imap_conn, 'INBOX')
    commands_before = imap_conn.tagnum
    fetched = fetch_raw(imap_conn, uids)
    assert imap_conn.tagnum - commands_before == 1
    assert fetched == [(uid, sample_message(index)) for index, uid in enumerate(uids)]


def test_fetch_raw_of_nothing_sends_nothing(imap_conn):
    select_folder(imap_conn, 'INBOX')
    commands_before = imap_conn.tagnum
    assert fetch_raw(imap_conn, []) == []
    assert imap_conn.tagnum == commands_before


def test_fetch_raw_leaves_out_uids_no_longer_there(dovecot, imap_conn):
    uids = append_messages(dovecot, 2)
    select_folder(imap_conn, 'INBOX')
    assert fetch_raw(imap_conn, [uids[0], uids[1] + 1]) == [(uids[0], sample_message(0))]


def test_fetch_raw_ignores_flag_changes_made_by_another_client(dovecot, imap_conn, imaps_settings):
    uids = append_messages(dovecot, 2)
    select_folder(imap_conn, 'INBOX')
    other = open_imap(imaps_settings)
    login(other, dovecot.user, dovecot.password)
    select_folder(other, 'INBOX')
    mark_seen(other, uids)
    close(other)
    # Our session hears of those flags now, in FETCH responses of their own.
    assert fetch_raw(imap_conn, uids) == [(uid, sample_message(index)) for index, uid in enumerate(uids)]


def test_mark_seen_sets_seen_on_those_uids_only(dovecot, imap_conn):
    uids = append_messages(dovecot, 3)
    select_folder(imap_conn, 'INBOX')
    mark_seen(imap_conn, uids[:2])
    assert dovecot.flags('INBOX') == {uids[0]: {r'\Seen'}, uids[1]: {r'\Seen'}, uids[2]: set()}


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
    assert fetch_raw(imap_conn, uids_after(imap_conn, 0)) == [(in_folder, sample_message(2))]
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
    assert list(parse_fetch(data)) == [(7, b'abc'), (9, b'de')]


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
