"""The token failures of Outlook and Gmail servers in words an administrator can
act on: the provider's real answers (testsupport.oauth2's shapes: Microsoft's
AADSTS codes, Google's one sentence), a Dovecot that really refuses the token,
an endpoint that really does not answer."""
import urllib.error

import pytest

from fetching import imap
from fetching.errors import LoginRefused, TokenEndpointUnreachable, TokenLoginRefused, TokenRefused, explain
from fetching.oauth import GOOGLE, MICROSOFT
from fetching.settings import ConnectionSettings
from testsupport.dovecot import Dovecot
from testsupport.oauth2 import GOOGLE as GOOGLE_KEY
from testsupport.oauth2 import GOOGLE_MAIL_SCOPE, MICROSOFT_SMTP_SCOPE, OFFLINE_ACCESS
from testsupport.oauth2_client import fresh_access_token, refresh, xoauth2

TIMEOUT = 5.0
USER = 'ann@example.com'


def imaps(server):
    return ConnectionSettings(server.host, server.ports.imaps, 'ssl', timeout=TIMEOUT, ca_file=str(server.ca_file))


def refused(service, refresh_token, provider=MICROSOFT, key='microsoft'):
    """The TokenRefused the Odoo layer makes of the provider's refusal."""
    status, answer = refresh(service, refresh_token, key)
    assert status >= 400, answer
    return TokenRefused(provider, USER, status, answer.get('error'), answer.get('error_description'))


def login_refused(server, access_token, provider, granted):
    conn = imap.open_imap(imaps(server))
    try:
        with pytest.raises(LoginRefused) as raised:
            imap.login_with(conn, lambda connection: xoauth2(connection, server.user, access_token))
    finally:
        imap.close(conn)
    return TokenLoginRefused(provider, server.user, raised.value.reply, granted)


@pytest.mark.parametrize('code', ['AADSTS70008', 'AADSTS700082', 'AADSTS50173'])
def test_an_outlook_consent_revoked_or_expired(token_service, code, imaps_settings):
    refresh_token = token_service.consent(USER)
    token_service.revoke(refresh_token, code=code)
    message = explain(refused(token_service, refresh_token), imaps_settings)
    assert message.startswith(f"Microsoft refused to renew the access token of the Outlook account {USER}: "
                              f"its consent was revoked or has expired (invalid_grant: {code}: ")
    assert ("The Outlook account must be connected again: press \"Connect your Outlook account\" on this "
            "server's form (the gear next to \"Outlook Token Valid\") and sign in as ann@example.com.") in message
    assert "Correlation ID:" in message and "\r" not in message and "\n" not in message, "one line, ids kept"
    assert "waits, unread, on the server" in message


def test_a_gmail_consent_revoked(token_service, imaps_settings):
    refresh_token = token_service.consent(USER, GOOGLE_KEY)
    token_service.revoke(refresh_token)
    message = explain(refused(token_service, refresh_token, GOOGLE, GOOGLE_KEY), imaps_settings)
    assert message.startswith(f"Google refused to renew the access token of the Gmail account {USER}: its consent "
                              f"was revoked or has expired (invalid_grant: Token has been expired or revoked.). "
                              f"The Gmail account must be connected again: press \"Connect your Gmail account\"")


def test_an_outlook_consent_never_given_for_the_application(token_service, imaps_settings):
    refresh_token = token_service.consent(USER)
    token_service.revoke(refresh_token, code='AADSTS65001')
    message = explain(refused(token_service, refresh_token), imaps_settings)
    assert message.startswith(f"Microsoft says {USER} has not consented to let Odoo read its mail "
                              f"(invalid_grant: AADSTS65001: ")
    assert "Grant admin consent" in message


def test_wrong_application_credentials(token_service, imaps_settings):
    refresh_token = token_service.consent(USER)
    status, answer = refresh(token_service, refresh_token, client_secret='an expired secret')
    exc = TokenRefused(MICROSOFT, USER, status, answer['error'], answer['error_description'])
    message = explain(exc, imaps_settings)
    assert message.startswith("Microsoft refused the application's credentials while renewing the access token "
                              f"of {USER} (invalid_client: AADSTS7000215: Invalid client secret provided.")
    assert "Settings > General Settings > Emails > Use an Outlook Server (ID, Secret)" in message


def test_an_answer_without_words(imaps_settings):
    message = explain(TokenRefused(GOOGLE, USER, 502, None, None), imaps_settings)
    assert message.startswith(f"Google refused to renew the access token of {USER} (HTTP 502, HTTP 502). "
                              "The Gmail account must be connected again")


def test_the_token_endpoint_unreachable(token_service, imaps_settings):
    refresh_token = token_service.consent(USER)
    token_service.stop()
    with pytest.raises(urllib.error.URLError) as raised:
        refresh(token_service, refresh_token)
    message = explain(TokenEndpointUnreachable(MICROSOFT, USER, str(raised.value.reason)), imaps_settings)
    assert message.startswith(f"The access token of {USER} cannot be renewed: Microsoft's token endpoint cannot "
                              "be reached ([Errno 111] Connection refused). Check that this Odoo server reaches "
                              "https://login.microsoftonline.com/common/oauth2/v2.0/token over HTTPS")
    assert "Nothing is wrong with the account or the mailbox" in message
    assert imaps_settings.host not in message, "the IMAP server is not blamed"


def test_a_consent_without_the_imap_scope(token_service, dovecot_oauth2):
    granted = (OFFLINE_ACCESS, MICROSOFT_SMTP_SCOPE)
    access_token = fresh_access_token(token_service, token_service.consent(dovecot_oauth2.user, scopes=granted))
    exc = login_refused(dovecot_oauth2, access_token, MICROSOFT, (MICROSOFT_SMTP_SCOPE,))
    message = explain(exc, imaps(dovecot_oauth2))
    assert message.startswith(f"The consent {dovecot_oauth2.user} gave does not let Odoo read mail over IMAP: "
                              f"Microsoft granted {MICROSOFT_SMTP_SCOPE}, without "
                              "https://outlook.office.com/IMAP.AccessAsUser.All, so "
                              f"{dovecot_oauth2.host}:{dovecot_oauth2.ports.imaps} refused the login (")
    assert "accept every permission asked (IMAP.AccessAsUser.All, offline_access)" in message


@pytest.mark.parametrize('granted', [None, (MICROSOFT_SMTP_SCOPE.replace('SMTP.Send', 'IMAP.AccessAsUser.All'),)])
def test_an_account_that_may_not_read_the_mailbox(token_service, dovecot_oauth2, granted):
    access_token = fresh_access_token(token_service, token_service.consent(dovecot_oauth2.user))
    token_service.disable(dovecot_oauth2.user)
    message = explain(login_refused(dovecot_oauth2, access_token, MICROSOFT, granted), imaps(dovecot_oauth2))
    assert message.startswith(f"{dovecot_oauth2.host}:{dovecot_oauth2.ports.imaps} refused the Outlook access "
                              f"token of {dovecot_oauth2.user} (")
    assert "the account may not read this mailbox over IMAP" in message
    assert "Manage email apps > IMAP" in message


def test_a_gmail_account_without_imap(token_service):
    with Dovecot(oauth2=token_service.introspection_url, oauth2_scope=GOOGLE_MAIL_SCOPE) as server:
        access_token = fresh_access_token(token_service, token_service.consent(server.user, GOOGLE_KEY), GOOGLE_KEY)
        token_service.disable(server.user)
        message = explain(login_refused(server, access_token, GOOGLE, (GOOGLE_MAIL_SCOPE,)), imaps(server))
    assert "refused the Gmail access token" in message and "POP and IMAP access" in message
