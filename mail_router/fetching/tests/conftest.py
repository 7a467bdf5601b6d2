"""Fixtures for the fetching tests: real Dovecot servers (testsupport) and
connections to them made with the code under test."""
import signal

import pytest

from fetching import imap, pop3
from fetching.settings import ConnectionSettings

# Short enough that a test waiting on a dead server fails fast.
TIMEOUT = 5.0
# Longer than any timeout a test sets, shorter than a developer's patience.
WATCHDOG_SECONDS = 10


def pytest_configure(config):
    # The harness's fixtures (dovecot, dovecot_without_tls, ...), as a plugin:
    # importing them here by name would clash with the parameters that use them.
    config.pluginmanager.import_plugin('testsupport.fixtures')


@pytest.fixture
def imaps_settings(dovecot):
    return ConnectionSettings(dovecot.host, dovecot.ports.imaps, 'ssl', timeout=TIMEOUT,
                              ca_file=str(dovecot.ca_file))


@pytest.fixture
def imap_conn(dovecot, imaps_settings):
    """Logged in over IMAPS, nothing selected."""
    conn = imap.open_imap(imaps_settings)
    imap.login(conn, dovecot.user, dovecot.password)
    yield conn
    imap.close(conn)


@pytest.fixture
def pop3s_settings(dovecot):
    return ConnectionSettings(dovecot.host, dovecot.ports.pop3s, 'ssl', timeout=TIMEOUT,
                              ca_file=str(dovecot.ca_file))


@pytest.fixture
def pop3_conn(dovecot, pop3s_settings):
    """Logged in over POP3S; closed without QUIT if the test did not quit."""
    conn = pop3.open_pop3(pop3s_settings)
    pop3.login_pop3(conn, dovecot.user, dovecot.password)
    yield conn
    conn.close()


class Hung(Exception):
    """The code under test waited past every timeout it was given."""


@pytest.fixture
def watchdog():
    """Fails the test with Hung if it runs longer than ``WATCHDOG_SECONDS``,
    instead of letting a missing timeout hang the whole suite."""
    def interrupt(signum, frame):
        raise Hung(f"still waiting after {WATCHDOG_SECONDS} s")
    previous = signal.signal(signal.SIGALRM, interrupt)
    signal.setitimer(signal.ITIMER_REAL, WATCHDOG_SECONDS)
    yield
    signal.setitimer(signal.ITIMER_REAL, 0)
    signal.signal(signal.SIGALRM, previous)
