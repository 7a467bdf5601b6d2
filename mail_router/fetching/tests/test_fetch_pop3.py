"""POP3 against a real Dovecot: every message listed with its UIDL, exact
bytes, deletion only at QUIT."""
import pytest

from fetching import pop3
from fetching.settings import ConnectionSettings
from testsupport.messages import sample_message
from testsupport.proxy import Proxy

# Stock Odoo reads at most 50 messages per run; we must see them all.
MORE_THAN_STOCK_READS = 60


@pytest.fixture
def many_messages(dovecot):
    return dovecot.append_all('INBOX', map(sample_message, range(MORE_THAN_STOCK_READS)))


def test_every_message_is_listed_with_its_uidl(many_messages, pop3_conn):
    listing = pop3.uidl_listing(pop3_conn)
    assert [number for number, _ in listing] == list(range(1, MORE_THAN_STOCK_READS + 1))
    uidls = [uidl for _, uidl in listing]
    assert None not in uidls
    assert len(set(uidls)) == MORE_THAN_STOCK_READS


def test_without_uidl_every_message_is_listed_all_the_same(dovecot, many_messages):
    # Dovecot has UIDL; renamed on the way, the command is unknown to it and answered -ERR.
    with Proxy(dovecot.ports.pop3, rewrite_requests=lambda data: data.replace(b'UIDL', b'XUID')) as proxy:
        conn = pop3.open_pop3(ConnectionSettings(dovecot.host, proxy.port, 'none', timeout=5))
        pop3.login_pop3(conn, dovecot.user, dovecot.password)
        listing = pop3.uidl_listing(conn)
        pop3.quit(conn)
    assert listing == [(number, None) for number in range(1, MORE_THAN_STOCK_READS + 1)]


def test_uidls_stay_the_same_from_one_session_to_the_next(dovecot, many_messages, pop3s_settings):
    listings = []
    for _ in range(2):
        conn = pop3.open_pop3(pop3s_settings)
        pop3.login_pop3(conn, dovecot.user, dovecot.password)
        listings.append(pop3.uidl_listing(conn))
        pop3.quit(conn)
    assert listings[0] == listings[1]


# Dot-stuffed lines, 8-bit bytes, a 5000-byte line and a body of several reads.
BIG_MESSAGE = sample_message(1, size=200_000)


@pytest.fixture
def big_message(dovecot):
    return dovecot.append('INBOX', BIG_MESSAGE)


def test_retrieve_gives_the_exact_bytes(big_message, pop3_conn):
    assert pop3.retrieve(pop3_conn, 1) == BIG_MESSAGE


def test_retrieve_then_quit_deletes_nothing(dovecot, many_messages, pop3_conn):
    for number, _ in pop3.uidl_listing(pop3_conn):
        pop3.retrieve(pop3_conn, number)
    pop3.quit(pop3_conn)
    assert set(dovecot.flags('INBOX')) == set(many_messages)


def test_a_deletion_takes_effect_at_quit(dovecot, many_messages, pop3_conn):
    pop3.delete(pop3_conn, 1)
    pop3.delete(pop3_conn, MORE_THAN_STOCK_READS)
    assert set(dovecot.flags('INBOX')) == set(many_messages)
    pop3.quit(pop3_conn)
    assert set(dovecot.flags('INBOX')) == set(many_messages[1:-1])


def test_a_deletion_without_quit_does_not_happen(dovecot, many_messages, pop3_conn):
    pop3.delete(pop3_conn, 1)
    pop3_conn.close()  # the connection is lost before QUIT
    assert set(dovecot.flags('INBOX')) == set(many_messages)



@pytest.fixture
def small_and_big(dovecot):
    raws = [sample_message(1), BIG_MESSAGE]
    dovecot.append_all('INBOX', raws)
    return raws


def test_sizes_are_those_of_the_bytes_retrieved(small_and_big, pop3_conn):
    raws = small_and_big
    assert pop3.sizes(pop3_conn) == {1: len(raws[0]), 2: len(raws[1])}
    assert [len(pop3.retrieve(pop3_conn, number)) for number in (1, 2)] == [len(raw) for raw in raws]
