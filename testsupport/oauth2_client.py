"""The client side of testsupport.oauth2, for tests: the token request as
Odoo's OAuth2 modules send it (``_fetch_outlook_token``, ``_fetch_gmail_token``)
and the XOAUTH2 login of their ``fetchmail.server._imap_login``, in the same
form. Standard library only (Odoo's modules use requests)."""
import json
import threading
import urllib.error
import urllib.parse
import urllib.request
from http import HTTPStatus

from .oauth2 import MICROSOFT, MICROSOFT_IMAP_SCOPE, OFFLINE_ACCESS

TIMEOUT = 5.0
REDIRECT_URI = 'http://odoo.example.com/microsoft_outlook/confirm'


def token_url(service, provider=MICROSOFT):
    return service.microsoft_endpoint + 'token' if provider == MICROSOFT else service.google_token_url


def post_form(url, form):
    """POST ``form`` (urlencoded) to ``url``: (HTTP status, the JSON answer)."""
    data = urllib.parse.urlencode(form).encode()
    try:
        with urllib.request.urlopen(url, data=data, timeout=TIMEOUT) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        with error:
            return error.code, json.load(error)


def request_token(service, grant_type, provider=MICROSOFT, *, client_secret=None, **values):
    """The token request as Odoo sends it: Microsoft's with scope and
    redirect_uri, Google's with redirect_uri."""
    form = {'client_id': service.client_id,
            'client_secret': service.client_secret if client_secret is None else client_secret,
            'redirect_uri': REDIRECT_URI, 'grant_type': grant_type, **values}
    if provider == MICROSOFT:
        form['scope'] = f'{OFFLINE_ACCESS} {MICROSOFT_IMAP_SCOPE}'
    return post_form(token_url(service, provider), form)


def refresh(service, refresh_token, provider=MICROSOFT, **options):
    return request_token(service, 'refresh_token', provider, refresh_token=refresh_token, **options)


def fresh_access_token(service, refresh_token, provider=MICROSOFT):
    status, answer = refresh(service, refresh_token, provider)
    assert status == HTTPStatus.OK, answer
    return answer['access_token']


def refresh_at_once(service, refresh_tokens, provider=MICROSOFT):
    """One refresh per token of ``refresh_tokens``, each in its own thread, all
    in flight together (``TokenService.overlap``): their answers, in order."""
    answers = [None] * len(refresh_tokens)

    def run(index, token):
        answers[index] = refresh(service, token, provider)
    threads = [threading.Thread(target=run, args=item) for item in enumerate(refresh_tokens)]
    with service.overlap(len(threads)):
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    return answers


def xoauth2(conn, user, access_token):
    """AUTHENTICATE XOAUTH2, exactly as microsoft_outlook and google_gmail do
    (a str, answered to every challenge)."""
    auth_string = 'user=%s\1auth=Bearer %s\1\1' % (user, access_token)  # noqa: UP031 (Odoo's own line)
    return conn.authenticate('XOAUTH2', lambda x: auth_string)
