"""XOAUTH2 through the fetch layer (open_imap, login_with), as Odoo's
microsoft_outlook and google_gmail log in, against a Dovecot that checks
each Bearer token with the harness's OAuth2 provider: no stand-in, a token
the provider no longer vouches for is refused by the IMAP server."""
import re

import pytest

from fetching import imap
from fetching.errors import LoginRefused
from fetching.settings import ConnectionSettings
from testsupport.dovecot import Dovecot
from testsupport.messages import sample_message
from testsupport.oauth2 import GOOGLE, GOOGLE_MAIL_SCOPE, MICROSOFT_SMTP_SCOPE, OFFLINE_ACCESS
from testsupport.oauth2_client import fresh_access_token, refresh, refresh_at_once, xoauth2

TIMEOUT = 5.0
REFUSED = r'\[AUTHENTICATIONFAILED\]'
# What Dovecot answers when it could not ask the provider: not the token's fault.
UNAVAILABLE = r'\[UNAVAILABLE\] Temporary authentication failure'
EXISTS = re.compile(rb'^\* (\d+) EXISTS\r\n$')


def imaps(server):
    return ConnectionSettings(server.host, server.ports.imaps, 'ssl', timeout=TIMEOUT, ca_file=str(server.ca_file))


def open_xoauth2(server, access_token, user=None, sasl=xoauth2):
    """A connection over verified TLS, logged in with XOAUTH2 (or ``sasl``);
    closed if the login fails."""
    conn = imap.open_imap(imaps(server))
    try:
        imap.login_with(conn, lambda connection: sasl(connection, user or server.user, access_token))
    except BaseException:
        imap.close(conn)
        raise
    return conn


def assert_refused(server, access_token, reply=REFUSED, user=None):
    with pytest.raises(LoginRefused, match=reply):
        open_xoauth2(server, access_token, user)


def test_a_valid_token_logs_in_over_tls_and_fetches(token_service, dovecot_oauth2):
    server = dovecot_oauth2
    uid = server.append('INBOX', sample_message(1))
    access_token = fresh_access_token(token_service, token_service.consent(server.user))
    conn = open_xoauth2(server, access_token)
    try:
        assert conn.state == 'AUTH'
        imap.select_folder(conn, 'INBOX')
        assert imap.message_count(conn) == 1
        assert imap.fetch_raw(conn, [uid]).messages == {uid: sample_message(1)}
    finally:
        imap.close(conn)
    # Dovecot asked the provider, once per login: nothing is cached.
    assert token_service.count('introspect', account=server.user, ok=True) == 1


def test_the_password_still_logs_in_but_is_no_token(token_service, dovecot_oauth2):
    server = dovecot_oauth2
    conn = imap.open_imap(imaps(server))
    try:
        imap.login(conn, server.user, server.password)
    finally:
        imap.close(conn)
    assert_refused(server, server.password.replace(' ', ''))
    assert token_service.count('introspect') == 1  # the token; the password never went there


def test_an_expired_token_is_refused_until_refreshed(token_service, dovecot_oauth2):
    server = dovecot_oauth2
    refresh_token = token_service.consent(server.user)
    access_token = fresh_access_token(token_service, refresh_token)
    token_service.expire_access_tokens(server.user)
    assert_refused(server, access_token)
    imap.close(open_xoauth2(server, fresh_access_token(token_service, refresh_token)))
    assert token_service.count('introspect', ok=False) == token_service.count('introspect', ok=True) == 1


def test_a_revoked_consent_refuses_its_tokens_and_their_refresh(token_service, dovecot_oauth2):
    server = dovecot_oauth2
    refresh_token = token_service.consent(server.user)
    access_token = fresh_access_token(token_service, refresh_token)
    token_service.revoke(refresh_token, 'AADSTS50173')
    assert_refused(server, access_token)
    status, answer = refresh(token_service, refresh_token)
    assert (status, answer['error']) == (400, 'invalid_grant')
    assert answer['error_description'].startswith('AADSTS50173: ')


def test_microsoft_s_access_token_outlives_its_revoked_refresh_token(token_service, dovecot_oauth2):
    server = dovecot_oauth2
    refresh_token = token_service.consent(server.user)
    access_token = fresh_access_token(token_service, refresh_token)
    token_service.revoke(refresh_token, access_tokens=False)
    imap.close(open_xoauth2(server, access_token))
    assert refresh(token_service, refresh_token)[0] == 400


def test_a_consent_without_the_imap_scope_gives_tokens_that_dovecot_refuses(token_service, dovecot_oauth2):
    server = dovecot_oauth2
    # The consent screen granted sending mail only.
    refresh_token = token_service.consent(server.user, scopes=(OFFLINE_ACCESS, MICROSOFT_SMTP_SCOPE))
    status, answer = refresh(token_service, refresh_token)
    assert (status, answer['scope']) == (200, MICROSOFT_SMTP_SCOPE)
    assert_refused(server, answer['access_token'])
    # The provider vouched for the token: the IMAP server refused it for its scope.
    assert token_service.count('introspect', ok=True) == 1
    assert 'Token is not valid for scope' in server.log()


def test_another_account_s_token_cannot_read_the_mailbox(token_service, dovecot_oauth2):
    server = dovecot_oauth2
    # bob consented, and his token is good, but it is not alice's mailbox's.
    access_token = fresh_access_token(token_service, token_service.consent('bob'))
    assert_refused(server, access_token)
    assert token_service.count('introspect', account='bob', ok=True) == 1
    assert "Username 'alice' did not match 'bob'" in server.log()


def test_a_disabled_account_is_refused_though_its_token_is_issued(token_service, dovecot_oauth2):
    server = dovecot_oauth2
    refresh_token = token_service.consent(server.user)
    token_service.disable(server.user)
    assert_refused(server, fresh_access_token(token_service, refresh_token))


def test_an_unreachable_provider_fails_the_login_as_temporary(token_service, dovecot_oauth2):
    server = dovecot_oauth2
    access_token = fresh_access_token(token_service, token_service.consent(server.user))
    token_service.stop()
    # LoginRefused as today; only the reply's response code tells it from a refused token.
    assert_refused(server, access_token, UNAVAILABLE)
    token_service.start()
    imap.close(open_xoauth2(server, access_token))


def test_a_gmail_server_takes_google_s_tokens_not_microsoft_s(token_service):
    with Dovecot(oauth2=token_service.introspection_url, oauth2_scope=GOOGLE_MAIL_SCOPE) as gmail:
        google_token = fresh_access_token(token_service, token_service.consent(gmail.user, GOOGLE), GOOGLE)
        imap.close(open_xoauth2(gmail, google_token))
        assert_refused(gmail, fresh_access_token(token_service, token_service.consent(gmail.user)))


def test_two_processes_refreshing_at_once_each_log_in(token_service, dovecot_oauth2):
    server = dovecot_oauth2
    refresh_token = token_service.consent(server.user)
    answers = refresh_at_once(token_service, [refresh_token, refresh_token])
    assert token_service.count('token', grant_type='refresh_token', ok=True) == 2
    for _, answer in answers:
        imap.close(open_xoauth2(server, answer['access_token']))
        # each also rotated the refresh token differently: either one refreshes again
        assert refresh(token_service, answer['refresh_token'])[0] == 200


def test_idle_on_an_xoauth2_session_sees_new_mail(token_service, dovecot_oauth2, watchdog):
    server = dovecot_oauth2
    conn = open_xoauth2(server, fresh_access_token(token_service, token_service.consent(server.user)))
    try:
        imap.select_folder(conn, 'INBOX')
        assert 'IDLE' in conn.capabilities
        # RFC 2177, by hand: the fetching package has no IDLE of its own (yet).
        conn.send(b'I1 IDLE\r\n')
        assert conn.readline().startswith(b'+ ')
        server.append('INBOX', sample_message(1))
        line = conn.readline()
        while not EXISTS.match(line):  # '* 1 RECENT' may come first
            assert line.startswith(b'* '), line
            line = conn.readline()
        assert EXISTS.match(line)[1] == b'1'
        conn.send(b'DONE\r\n')
        line = conn.readline()
        while not line.startswith(b'I1 '):
            line = conn.readline()
        assert line.startswith(b'I1 OK')
        # the session goes on as before
        assert [item.uid for item in imap.listing(conn, 0)] == [1]
    finally:
        imap.close(conn)


def oauthbearer(conn, user, access_token):
    """RFC 7628, which Odoo does not use."""
    return conn.authenticate('OAUTHBEARER', lambda _: f'n,a={user},\1auth=Bearer {access_token}\1\1')


def test_oauthbearer_is_checked_the_same_way(token_service, dovecot_oauth2):
    server = dovecot_oauth2
    access_token = fresh_access_token(token_service, token_service.consent(server.user))
    conn = open_xoauth2(server, access_token, sasl=oauthbearer)
    assert conn.state == 'AUTH'
    imap.close(conn)
    token_service.expire_access_tokens()
    with pytest.raises(LoginRefused, match=REFUSED):
        open_xoauth2(server, access_token, sasl=oauthbearer)
