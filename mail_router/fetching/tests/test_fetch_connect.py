"""Connection security against real Dovecot servers: implicit TLS, required
STARTTLS, clear text only when chosen, and certificates verified."""
import imaplib
import os
import ssl
from pathlib import Path

import pytest

from fetching import imap, pop3
from fetching.errors import CaFileUnreadable, LoginRefused, StartTlsNotOffered, WrongHostName
from fetching.settings import ConnectionSettings
from fetching.tls import certificate_names, client_context
from testsupport.messages import sample_message

# Short enough that a test waiting on a dead server fails fast.
TIMEOUT = 5.0


def settings(server, port, security, **options):
    return ConnectionSettings(server.host, port, security, timeout=TIMEOUT, **options)


def trusted(server, port, security):
    return settings(server, port, security, ca_file=str(server.ca_file))


def fetch_all_imap(server, conn_settings):
    """Open, log in, fetch every INBOX message, close; and the socket's kind."""
    conn = imap.open_imap(conn_settings)
    try:
        encrypted = isinstance(conn.sock, ssl.SSLSocket)
        imap.login(conn, server.user, server.password)
        imap.select_folder(conn, 'INBOX')
        messages = imap.fetch_raw(conn, [item.uid for item in imap.listing(conn, 0)]).messages
        return encrypted, list(messages.values())
    finally:
        imap.close(conn)


def fetch_all_pop3(server, conn_settings):
    conn = pop3.open_pop3(conn_settings)
    try:
        encrypted = isinstance(conn.sock, ssl.SSLSocket)
        pop3.login_pop3(conn, server.user, server.password)
        return encrypted, [pop3.retrieve(conn, number) for number, _ in pop3.uidl_listing(conn)]
    finally:
        pop3.quit(conn)


@pytest.mark.parametrize('fetch_all, port_name, security', [
    (fetch_all_imap, 'imaps', 'ssl'),
    (fetch_all_imap, 'imap', 'starttls'),
    (fetch_all_pop3, 'pop3s', 'ssl'),
    (fetch_all_pop3, 'pop3', 'starttls'),
])
def test_tls_connect_login_fetch(dovecot, fetch_all, port_name, security):
    dovecot.append('INBOX', sample_message(1))
    port = getattr(dovecot.ports, port_name)
    assert fetch_all(dovecot, trusted(dovecot, port, security)) == (True, [sample_message(1)])


@pytest.mark.parametrize('fetch_all, port_name', [(fetch_all_imap, 'imap'), (fetch_all_pop3, 'pop3')])
def test_clear_text_only_when_chosen(dovecot_without_tls, fetch_all, port_name):
    server = dovecot_without_tls
    server.append('INBOX', sample_message(1))
    port = getattr(server.ports, port_name)
    assert fetch_all(server, settings(server, port, 'none')) == (False, [sample_message(1)])


def test_clear_text_is_not_upgraded_even_where_starttls_is_offered(dovecot):
    assert fetch_all_imap(dovecot, settings(dovecot, dovecot.ports.imap, 'none')) == (False, [])


@pytest.mark.parametrize('open_connection, port_name', [
    (imap.open_imap, 'imap'), (pop3.open_pop3, 'pop3')])
def test_starttls_required_but_not_offered(dovecot_without_tls, open_connection, port_name):
    server = dovecot_without_tls
    with pytest.raises(StartTlsNotOffered):
        open_connection(settings(server, getattr(server.ports, port_name), 'starttls'))


@pytest.mark.parametrize('open_connection, port_name, security', [
    (imap.open_imap, 'imaps', 'ssl'), (imap.open_imap, 'imap', 'starttls'),
    (pop3.open_pop3, 'pop3s', 'ssl'), (pop3.open_pop3, 'pop3', 'starttls')])
def test_a_certificate_from_an_unknown_ca_is_refused(dovecot, open_connection, port_name, security):
    with pytest.raises(ssl.SSLCertVerificationError) as raised:
        open_connection(settings(dovecot, getattr(dovecot.ports, port_name), security))
    assert raised.value.verify_message == 'unable to get local issuer certificate'


def test_a_self_signed_certificate_is_refused(dovecot_self_signed):
    server = dovecot_self_signed
    with pytest.raises(ssl.SSLCertVerificationError) as raised:
        imap.open_imap(settings(server, server.ports.imaps, 'ssl'))
    assert raised.value.verify_message == 'self-signed certificate'


def test_a_self_signed_certificate_named_as_ca_file_is_accepted(dovecot_self_signed):
    server = dovecot_self_signed
    assert fetch_all_imap(server, trusted(server, server.ports.imaps, 'ssl')) == (True, [])


@pytest.mark.parametrize('open_connection, port_name, security', [
    (imap.open_imap, 'imaps', 'ssl'), (imap.open_imap, 'imap', 'starttls'),
    (pop3.open_pop3, 'pop3s', 'ssl'), (pop3.open_pop3, 'pop3', 'starttls')])
def test_a_certificate_for_another_name_is_refused(dovecot_wrong_name, open_connection,
                                                   port_name, security):
    server = dovecot_wrong_name
    with pytest.raises(WrongHostName) as raised:
        open_connection(trusted(server, getattr(server.ports, port_name), security))
    assert raised.value.names == ('wrong.example',)
    assert raised.value.host == '127.0.0.1'


def test_one_context_per_ca_file_replaced_on_disk(dovecot, dovecot_self_signed, tmp_path):
    """Connections share a context (the system's CAs are loaded once); a CA file replaced
    on disk is read again."""
    ca_file = tmp_path / 'ca.pem'
    ca_file.write_bytes(Path(dovecot.ca_file).read_bytes())
    first = settings(dovecot, dovecot.ports.imaps, 'ssl', ca_file=str(ca_file))
    assert client_context(first) is client_context(first)
    assert fetch_all_imap(dovecot, first) == (True, [])
    written = ca_file.stat().st_mtime_ns
    ca_file.write_bytes(Path(dovecot_self_signed.ca_file).read_bytes())
    os.utime(ca_file, ns=(written + 10**9, written + 10**9))  # whatever the file system's clock says
    with pytest.raises(ssl.SSLCertVerificationError):
        imap.open_imap(first)
    second = settings(dovecot_self_signed, dovecot_self_signed.ports.imaps, 'ssl', ca_file=str(ca_file))
    assert fetch_all_imap(dovecot_self_signed, second) == (True, [])


def test_the_right_name_is_accepted_with_the_ca_file(dovecot):
    # 'localhost' rather than the address: the certificate holds both.
    localhost = ConnectionSettings('localhost', dovecot.ports.imaps, 'ssl', timeout=TIMEOUT,
                                   ca_file=str(dovecot.ca_file))
    assert fetch_all_imap(dovecot, localhost) == (True, [])


@pytest.mark.parametrize('fetch_all, port_name, security', [
    (fetch_all_imap, 'imaps', 'ssl'), (fetch_all_imap, 'imap', 'starttls'),
    (fetch_all_pop3, 'pop3s', 'ssl'), (fetch_all_pop3, 'pop3', 'starttls')])
def test_without_verification_any_certificate_is_accepted(dovecot_wrong_name, dovecot_self_signed,
                                                         fetch_all, port_name, security):
    for server in (dovecot_wrong_name, dovecot_self_signed):
        unverified = settings(server, getattr(server.ports, port_name), security, verify=False)
        assert fetch_all(server, unverified) == (True, [])


def test_implicit_tls_on_a_plain_port_fails(dovecot):
    with pytest.raises(ssl.SSLError):
        imap.open_imap(trusted(dovecot, dovecot.ports.imap, 'ssl'))


def test_a_missing_ca_file(dovecot, tmp_path):
    with pytest.raises(CaFileUnreadable):
        imap.open_imap(settings(dovecot, dovecot.ports.imaps, 'ssl', ca_file=str(tmp_path / 'no.pem')))


def test_a_ca_file_that_is_no_certificate(dovecot, tmp_path):
    not_pem = tmp_path / 'ca.pem'
    not_pem.write_text('hello')
    with pytest.raises(CaFileUnreadable):
        imap.open_imap(settings(dovecot, dovecot.ports.imaps, 'ssl', ca_file=str(not_pem)))


@pytest.mark.parametrize('port_name, security', [('imaps', 'ssl'), ('imap', 'starttls')])
def test_the_timeout_stays_on_the_socket(dovecot, port_name, security):
    conn = imap.open_imap(trusted(dovecot, getattr(dovecot.ports, port_name), security))
    assert conn.sock.gettimeout() == TIMEOUT
    imap.close(conn)


def test_the_connection_is_not_logged_in(dovecot, imaps_settings):
    conn = imap.open_imap(imaps_settings)
    assert conn.state == 'NONAUTH'
    imap.close(conn)


def test_login_with_runs_the_callers_authentication(dovecot, imaps_settings):
    conn = imap.open_imap(imaps_settings)
    # As the OAuth modules do it, with SASL PLAIN standing in for XOAUTH2.
    sasl_plain = f"\0{dovecot.user}\0{dovecot.password}".encode()
    imap.login_with(conn, lambda connection: connection.authenticate('PLAIN', lambda _: sasl_plain))
    assert conn.state == 'AUTH'
    imap.close(conn)


def test_a_wrong_password_is_a_refused_login(dovecot, imaps_settings):
    conn = imap.open_imap(imaps_settings)
    with pytest.raises(LoginRefused) as raised:
        imap.login(conn, dovecot.user, 'wrong')
    imap.close(conn)
    assert 'AUTHENTICATIONFAILED' in raised.value.reply


def test_a_broken_connection_during_login_is_no_refusal(dovecot, imaps_settings):
    conn = imap.open_imap(imaps_settings)
    conn.shutdown()  # doveadm kick reaches logged-in sessions only
    with pytest.raises(imaplib.IMAP4.abort):
        imap.login(conn, dovecot.user, dovecot.password)


def test_certificate_names_prefers_alt_names():
    certificate = {'subject': ((('commonName', 'cn.example'),),),
                   'subjectAltName': (('DNS', 'a.example'), ('IP Address', '192.0.2.1'),
                                      ('email', 'x@example.com'))}
    assert certificate_names(certificate) == ('a.example', '192.0.2.1')
    assert certificate_names({'subject': certificate['subject']}) == ('cn.example',)


def test_settings_are_checked():
    with pytest.raises(ValueError):
        ConnectionSettings('h', 993, 'tls')
    with pytest.raises(ValueError):
        ConnectionSettings('h', 0, 'ssl')
    with pytest.raises(ValueError):
        ConnectionSettings('h', 993, 'ssl', timeout=0)
