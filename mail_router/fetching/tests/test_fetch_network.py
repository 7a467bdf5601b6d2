"""A real network failure in the middle of a fetch: a proxy that cuts or
freezes the stream, and Dovecot disconnecting its clients (doveadm kick).
A clear exception every time, and no wait past the timeout."""
import imaplib
import poplib
import time

import pytest

from fetching import imap, pop3
from fetching.errors import explain
from fetching.settings import ConnectionSettings
from testsupport.messages import sample_message
from testsupport.proxy import Proxy

# Three messages of 300 kB: a fetch of them spans many reads.
MESSAGES = [sample_message(index, size=300_000) for index in range(3)]
TIMEOUT = 1.0


@pytest.fixture
def messages(dovecot):
    return dovecot.append_all('INBOX', MESSAGES)


def through(proxy, dovecot):
    """IMAPS settings to ``dovecot`` through ``proxy``: same host, same certificate."""
    return ConnectionSettings(dovecot.host, proxy.port, 'ssl', timeout=TIMEOUT,
                              ca_file=str(dovecot.ca_file))


def selected_inbox(conn_settings, dovecot):
    conn = imap.open_imap(conn_settings)
    imap.login(conn, dovecot.user, dovecot.password)
    imap.select_folder(conn, 'INBOX')
    return conn


def test_a_cut_mid_fetch_raises_at_once(watchdog, dovecot, messages, imaps_proxy):
    conn_settings = through(imaps_proxy, dovecot)
    conn = selected_inbox(conn_settings, dovecot)
    imaps_proxy.cut_after(400_000)
    with pytest.raises((imaplib.IMAP4.abort, OSError)) as raised:
        imap.fetch_raw(conn, messages)
    assert not isinstance(raised.value, TimeoutError)  # the cut was noticed, not waited out
    assert f"The connection to {conn_settings.address} was cut" in explain(raised.value, conn_settings)
    imap.close(conn)  # never raises, even on a dead connection
    # Nothing was flagged, and the next connection gets every message.
    assert dovecot.flags('INBOX') == {uid: set() for uid in messages}
    conn = selected_inbox(conn_settings, dovecot)
    assert imap.fetch_raw(conn, messages).messages == dict(zip(messages, MESSAGES, strict=True))
    imap.close(conn)


def test_a_frozen_stream_ends_at_the_timeout(watchdog, dovecot, messages, imaps_proxy):
    conn_settings = through(imaps_proxy, dovecot)
    conn = selected_inbox(conn_settings, dovecot)
    imaps_proxy.stall_after(400_000)
    started = time.monotonic()
    with pytest.raises(TimeoutError) as raised:
        imap.fetch_raw(conn, messages)
    assert TIMEOUT <= time.monotonic() - started < TIMEOUT + 1
    assert "(timeout)" in explain(raised.value, conn_settings)
    started = time.monotonic()
    imap.close(conn)
    assert time.monotonic() - started < TIMEOUT + 1


def test_a_pop3_cut_mid_retrieve(dovecot, messages):
    with Proxy(dovecot.ports.pop3s) as proxy:
        conn_settings = ConnectionSettings(dovecot.host, proxy.port, 'ssl', timeout=TIMEOUT,
                                           ca_file=str(dovecot.ca_file))
        conn = pop3.open_pop3(conn_settings)
        pop3.login_pop3(conn, dovecot.user, dovecot.password)
        pop3.delete(conn, 1)
        proxy.cut_after(100_000)
        with pytest.raises((poplib.error_proto, OSError)) as raised:
            pop3.retrieve(conn, 2)
        assert "was cut" in explain(raised.value, conn_settings)
        with pytest.raises((poplib.error_proto, OSError)):
            pop3.quit(conn)
    # No QUIT went through: the deletion did not happen.
    assert set(dovecot.flags('INBOX')) == set(messages)


def test_an_imap_session_kicked_by_the_server(dovecot, messages, imaps_settings):
    conn = selected_inbox(imaps_settings, dovecot)
    dovecot.kick()
    with pytest.raises(imaplib.IMAP4.abort) as raised:
        imap.listing(conn, 0)
    assert "was cut" in explain(raised.value, imaps_settings)
    imap.close(conn)


def test_a_pop3_session_kicked_by_the_server(dovecot, messages, pop3_conn, pop3s_settings):
    dovecot.kick()
    with pytest.raises((poplib.error_proto, OSError)) as raised:
        pop3.uidl_listing(pop3_conn)
    assert "was cut" in explain(raised.value, pop3s_settings)
