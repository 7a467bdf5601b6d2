"""The OAuth2 provider of the harness (testsupport.oauth2): it must answer
as Microsoft's and Google's token endpoints do, success and refusal, since
the OAuth2 tests of the addon will read what Odoo makes of those answers."""
import urllib.error

import pytest

from testsupport.oauth2 import (
    AADSTS,
    GOOGLE,
    GOOGLE_HOSTS,
    GOOGLE_MAIL_SCOPE,
    GOOGLE_REVOKED,
    MICROSOFT,
    MICROSOFT_HOSTS,
    MICROSOFT_IMAP_SCOPE,
    TokenService,
)
from testsupport.oauth2_client import post_form, refresh, refresh_at_once, request_token


def test_a_microsoft_refresh_answers_a_new_refresh_token_too(token_service):
    first = token_service.consent('alice')
    status, answer = refresh(token_service, first)
    assert status == 200
    assert answer['token_type'] == 'Bearer'
    assert answer['scope'] == MICROSOFT_IMAP_SCOPE  # offline_access is not repeated
    assert answer['expires_in'] == answer['ext_expires_in'] == 3599
    # microsoft_outlook stores it: its _fetch_outlook_access_token reads response['refresh_token']
    assert answer['refresh_token'] not in (first, None)
    # the old one still works (Microsoft does not revoke it), the new one too
    assert refresh(token_service, first)[0] == refresh(token_service, answer['refresh_token'])[0] == 200
    assert token_service.count('token', grant_type='refresh_token', account='alice', ok=True) == 3


def test_a_google_refresh_answers_an_access_token_only(token_service):
    refresh_token = token_service.consent('alice', GOOGLE)
    status, answer = refresh(token_service, refresh_token, GOOGLE)
    assert status == 200
    assert set(answer) == {'access_token', 'expires_in', 'scope', 'token_type'}
    assert answer['scope'] == GOOGLE_MAIL_SCOPE
    assert isinstance(answer['expires_in'], int)  # google_gmail adds it to time.time() as is


@pytest.mark.parametrize('provider', [MICROSOFT, GOOGLE])
def test_an_authorization_code_gives_a_refresh_token_once(token_service, provider):
    code = token_service.authorization_code('alice', provider)
    status, answer = request_token(token_service, 'authorization_code', provider, code=code)
    assert status == 200
    assert refresh(token_service, answer['refresh_token'], provider)[0] == 200
    status, answer = request_token(token_service, 'authorization_code', provider, code=code)
    assert (status, answer['error']) == (400, 'invalid_grant')


@pytest.mark.parametrize('code', sorted(AADSTS))
def test_microsoft_refuses_a_revoked_refresh_token_with_its_aadsts_code(token_service, code):
    refresh_token = token_service.consent('alice')
    rotated = refresh(token_service, refresh_token)[1]['refresh_token']
    token_service.revoke(refresh_token, code)
    for token in (refresh_token, rotated):  # the whole consent is gone
        status, answer = refresh(token_service, token)
        assert (status, answer['error']) == (400, 'invalid_grant')
        assert answer['error_description'].startswith(f'{code}: ')
        assert 'Trace ID: ' in answer['error_description']
        assert answer['error_codes'] == [int(code.removeprefix('AADSTS'))]
    assert token_service.count('token', account='alice', ok=False) == 2


def test_google_refuses_a_revoked_refresh_token(token_service):
    refresh_token = token_service.consent('alice', GOOGLE)
    token_service.revoke(refresh_token)
    assert refresh(token_service, refresh_token, GOOGLE) == (
        400, {'error': 'invalid_grant', 'error_description': GOOGLE_REVOKED})


@pytest.mark.parametrize('provider, description', [
    (MICROSOFT, 'AADSTS7000215: Invalid client secret provided.'),
    (GOOGLE, 'Unauthorized'),
])
def test_a_wrong_client_secret_is_an_invalid_client(token_service, provider, description):
    refresh_token = token_service.consent('alice', provider)
    status, answer = refresh(token_service, refresh_token, provider, client_secret='wrong')
    assert (status, answer['error']) == (401, 'invalid_client')
    assert answer['error_description'].startswith(description)


@pytest.mark.parametrize('provider', [MICROSOFT, GOOGLE])
def test_an_unknown_or_other_provider_s_refresh_token_is_an_invalid_grant(token_service, provider):
    other = token_service.consent('alice', GOOGLE if provider == MICROSOFT else MICROSOFT)
    for token in ('rt-unknown', other):
        status, answer = refresh(token_service, token, provider)
        assert (status, answer['error']) == (400, 'invalid_grant')


def test_the_introspection_says_whose_token_it_is_until_it_expires(token_service):
    access_token = token_service.access_token(token_service.consent('alice'))
    introspect = token_service.introspection_url
    status, answer = post_form(introspect, {'token': access_token})
    assert status == 200
    assert answer['active'] is True
    assert (answer['username'], answer['scope']) == ('alice', f'offline_access {MICROSOFT_IMAP_SCOPE}')
    token_service.expire_access_tokens('alice')
    assert post_form(introspect, {'token': access_token}) == (200, {'active': False})
    assert post_form(introspect, {'token': 'at-unknown'}) == (200, {'active': False})
    assert token_service.count('introspect', ok=True) == 1
    assert token_service.count('introspect', ok=False) == 2


def test_two_refreshes_at_once_each_get_a_valid_token(token_service):
    refresh_token = token_service.consent('alice')
    answers = refresh_at_once(token_service, [refresh_token, refresh_token])
    assert [status for status, _ in answers] == [200, 200]
    access_tokens = {answer['access_token'] for _, answer in answers}
    assert len(access_tokens) == 2
    for token in access_tokens:
        assert post_form(token_service.introspection_url, {'token': token})[1]['active'] is True


def test_with_single_use_refresh_tokens_the_second_of_two_refreshes_at_once_is_refused():
    # What a provider that detects refresh token reuse does to two processes
    # refreshing with the same stored token: one of them loses.
    with TokenService(single_use_refresh_tokens=True) as service:
        refresh_token = service.consent('alice')
        answers = refresh_at_once(service, [refresh_token, refresh_token])
    assert sorted(status for status, _ in answers) == [200, 400]
    assert service.count('token', ok=True) == service.count('token', ok=False) == 1


def test_a_stopped_service_refuses_connections_then_serves_the_same_tokens_again(token_service):
    refresh_token = token_service.consent('alice')
    port = token_service.port
    token_service.stop()
    with pytest.raises(urllib.error.URLError, match='Connection refused'):
        refresh(token_service, refresh_token)
    token_service.start()
    assert token_service.port == port
    assert refresh(token_service, refresh_token)[0] == 200


@pytest.mark.parametrize('url, provider', [
    ('https://oauth2.googleapis.com/token', GOOGLE),  # google_gmail's, written in its code
    ('https://login.microsoftonline.com/common/oauth2/v2.0/token', MICROSOFT),  # microsoft_outlook's default
])
def test_requests_reaches_the_providers_real_urls_here_through_the_proxy_environment(monkeypatch, url, provider):
    # The seam for a process running Odoo: its environment, no change to Odoo's code.
    requests = pytest.importorskip('requests')
    with TokenService(intercept=GOOGLE_HOSTS + MICROSOFT_HOSTS) as service:
        for name, value in service.proxy_environment().items():
            monkeypatch.setenv(name, value)
        refresh_token = service.consent('alice', provider)
        response = requests.post(url, data={'client_id': service.client_id, 'client_secret': service.client_secret,
                                            'grant_type': 'refresh_token', 'refresh_token': refresh_token},
                                 timeout=5)
        assert response.status_code == 200
        assert service.count('token', grant_type='refresh_token', account='alice', ok=True) == 1
        service.revoke(refresh_token)
        response = requests.post(url, data={'client_id': service.client_id, 'client_secret': service.client_secret,
                                            'grant_type': 'refresh_token', 'refresh_token': refresh_token},
                                 timeout=5)
        assert (response.status_code, response.json()['error']) == (400, 'invalid_grant')
    assert service.directory is None  # its CA and certificate are removed


def test_the_proxy_answers_for_no_other_host(monkeypatch):
    requests = pytest.importorskip('requests')
    with TokenService(intercept=GOOGLE_HOSTS) as service:
        for name, value in service.proxy_environment().items():
            monkeypatch.setenv(name, value)
        with pytest.raises(requests.exceptions.ProxyError):
            requests.post('https://login.microsoftonline.com/common/oauth2/v2.0/token', timeout=5)
