"""explain: each failure in words an admin can act on, naming the server,
never the password; the failures provoked for real."""
import contextlib
import socket
import time

import pytest

from fetching import imap, pop3
from fetching.errors import explain
from fetching.settings import ConnectionSettings

TIMEOUT = 5.0


def settings(server, port, security, **options):
    return ConnectionSettings(server.host, port, security, timeout=TIMEOUT, **options)


def explanation(attempt, conn_settings, *passwords):
    """What explain says of the error ``attempt()`` raises, checked to name
    the host and to hold none of ``passwords``, nor does the error itself."""
    with pytest.raises(Exception) as raised:
        attempt()
    message = explain(raised.value, conn_settings)
    assert conn_settings.host in message
    for password in passwords:
        assert password not in message
        assert password not in str(raised.value) and password not in repr(raised.value)
    return message


def open_and_login_imap(conn_settings, user, password, folder='INBOX'):
    conn = imap.open_imap(conn_settings)
    try:
        imap.login(conn, user, password)
        imap.select_folder(conn, folder)
    finally:
        imap.close(conn)


def open_and_login_pop3(conn_settings, user, password):
    conn = pop3.open_pop3(conn_settings)
    try:
        pop3.login_pop3(conn, user, password)
    finally:
        pop3.quit(conn)


@contextlib.contextmanager
def silent_server():
    """A port whose connections the kernel accepts and nobody ever answers."""
    with socket.create_server(('127.0.0.1', 0)) as listener:
        yield listener.getsockname()[1]


def closed_port():
    with socket.create_server(('127.0.0.1', 0)) as listener:
        return listener.getsockname()[1]


def test_a_name_that_does_not_resolve():
    # .invalid never resolves (RFC 2606); resolvers say "not known" or "temporary failure".
    nowhere = ConnectionSettings('mail.invalid', 993, 'ssl', timeout=TIMEOUT)
    message = explanation(lambda: imap.open_imap(nowhere), nowhere)
    assert "'mail.invalid' does not resolve" in message


@pytest.mark.parametrize('security', ['ssl', 'starttls', 'none'])
def test_a_server_that_never_answers(watchdog, security):
    timeout = 0.5
    with silent_server() as port:
        quiet = ConnectionSettings('127.0.0.1', port, security, timeout=timeout)
        started = time.monotonic()
        message = explanation(lambda: imap.open_imap(quiet), quiet)
        waited = time.monotonic() - started
    assert f"127.0.0.1:{port} did not answer within 0.5 s (timeout)" in message
    assert timeout <= waited < timeout + 1


def test_a_port_where_nothing_listens():
    port = closed_port()
    refused = ConnectionSettings('127.0.0.1', port, 'ssl', timeout=TIMEOUT)
    message = explanation(lambda: pop3.open_pop3(refused), refused)
    assert f"127.0.0.1:{port} refused the connection" in message


def test_a_certificate_from_an_unknown_ca(dovecot):
    untrusting = settings(dovecot, dovecot.ports.imaps, 'ssl')
    message = explanation(lambda: imap.open_imap(untrusting), untrusting)
    assert f"certificate of {untrusting.address} is not trusted" in message
    assert "add the file of the CA that signed it as the CA file" in message


def test_a_self_signed_certificate(dovecot_self_signed):
    server = dovecot_self_signed
    untrusting = settings(server, server.ports.pop3, 'starttls')
    message = explanation(lambda: pop3.open_pop3(untrusting), untrusting)
    assert "is not trusted (self-signed certificate)" in message


def test_a_certificate_for_another_name(dovecot_wrong_name):
    server = dovecot_wrong_name
    trusting = settings(server, server.ports.imaps, 'ssl', ca_file=str(server.ca_file))
    message = explanation(lambda: imap.open_imap(trusting), trusting)
    assert f"certificate of {trusting.address} is for wrong.example, not 127.0.0.1" in message


def test_starttls_not_offered(dovecot_without_tls):
    server = dovecot_without_tls
    requiring = settings(server, server.ports.imap, 'starttls')
    message = explanation(lambda: imap.open_imap(requiring), requiring)
    assert f"{requiring.address} does not offer STARTTLS, so the password would travel in clear text" in message


def test_implicit_tls_on_a_plain_port(dovecot):
    mismatched = settings(dovecot, dovecot.ports.pop3, 'ssl', ca_file=str(dovecot.ca_file))
    message = explanation(lambda: pop3.open_pop3(mismatched), mismatched)
    assert f"TLS with {mismatched.address} failed" in message


def test_a_missing_ca_file(dovecot, tmp_path):
    missing = str(tmp_path / 'ca.pem')
    broken = settings(dovecot, dovecot.ports.imaps, 'ssl', ca_file=missing)
    message = explanation(lambda: imap.open_imap(broken), broken)
    assert f"The CA file '{missing}' for {broken.address} cannot be used: no such file" in message


@pytest.mark.parametrize('attempted', ['wrong', 'correct horse "battery" staple!'])
def test_an_imap_login_refused(dovecot, attempted):
    trusting = settings(dovecot, dovecot.ports.imaps, 'ssl', ca_file=str(dovecot.ca_file))
    message = explanation(lambda: open_and_login_imap(trusting, dovecot.user, attempted),
                          trusting, attempted, dovecot.password)
    assert f"{trusting.address} refused the login ([AUTHENTICATIONFAILED] Authentication failed.)" in message


@pytest.mark.parametrize('attempted', ['wrong', 'correct horse "battery" staple!'])
def test_a_pop3_login_refused(dovecot, attempted):
    trusting = settings(dovecot, dovecot.ports.pop3s, 'ssl', ca_file=str(dovecot.ca_file))
    message = explanation(lambda: open_and_login_pop3(trusting, dovecot.user, attempted),
                          trusting, attempted, dovecot.password)
    assert f"{trusting.address} refused the login (-ERR [AUTH] Authentication failed.)" in message


def test_a_missing_folder(dovecot):
    trusting = settings(dovecot, dovecot.ports.imaps, 'ssl', ca_file=str(dovecot.ca_file))
    message = explanation(
        lambda: open_and_login_imap(trusting, dovecot.user, dovecot.password, folder='Nope'),
        trusting, dovecot.password)
    assert f"The folder 'Nope' does not exist on {trusting.address}" in message
