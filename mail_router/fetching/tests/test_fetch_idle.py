"""IMAP IDLE against a real Dovecot: new mail is announced within the wait, a stop request
or the renewal ends it, the session goes on after it, and a server without IDLE says so."""
import threading
import time

import pytest

from fetching import idle, imap
from fetching.settings import ConnectionSettings
from testsupport.dovecot import Dovecot
from testsupport.messages import sample_message


@pytest.fixture
def selected(imap_conn):
    imap.select_folder(imap_conn, 'INBOX')
    return imap_conn


def test_a_message_appended_while_idling_is_announced(dovecot, selected):
    assert idle.supports_idle(selected)
    assert idle.announced_count(selected) == 0, "the SELECT's count"
    timer = threading.Timer(0.5, lambda: dovecot.append('INBOX', sample_message(1)))
    timer.start()
    started = time.monotonic()
    assert idle.wait_for_mail(selected, lambda: False, renew=60) is True
    assert time.monotonic() - started < 30
    timer.join()
    # the session goes on after DONE, imaplib's own commands included
    assert [item.uid for item in imap.listing(selected, 0)] == [1]


def test_mail_that_arrived_before_the_wait_is_announced_to_the_noop_before_it(dovecot, selected):
    idle.announced_count(selected)  # the SELECT's
    dovecot.append('INBOX', sample_message(1))
    assert idle.announced_count(selected) == 1
    assert idle.announced_count(selected) is None, "announced once"


def test_the_wait_ends_at_its_renewal_or_when_asked_to_stop(selected):
    started = time.monotonic()
    assert idle.wait_for_mail(selected, lambda: False, renew=1.5) is False
    assert 1.4 < time.monotonic() - started < 10
    stop = threading.Event()
    threading.Timer(0.5, stop.set).start()
    assert idle.wait_for_mail(selected, stop.is_set, renew=60) is False
    assert imap.listing(selected, 0) == [], "the session is still usable"


def test_a_server_restarted_while_idling_is_an_abort():
    with Dovecot() as server:
        conn = imap.open_imap(ConnectionSettings(server.host, server.ports.imaps, 'ssl', timeout=10,
                                                 ca_file=str(server.ca_file)))
        imap.login(conn, server.user, server.password)
        imap.select_folder(conn, 'INBOX')
        restart = threading.Timer(0.5, server.restart)
        restart.start()
        with pytest.raises((imap.imaplib.IMAP4.abort, OSError)):
            idle.wait_for_mail(conn, lambda: False, renew=60)
        restart.join()
        server.append('INBOX', sample_message(1))  # the mail survived the restart
        assert set(server.flags('INBOX')) == {1}


def test_a_server_without_idle_does_not_offer_it():
    with Dovecot(idle=False) as server:
        conn = imap.open_imap(ConnectionSettings(server.host, server.ports.imaps, 'ssl', timeout=10,
                                                 ca_file=str(server.ca_file)))
        imap.login(conn, server.user, server.password)
        assert not idle.supports_idle(conn)
        imap.close(conn)
