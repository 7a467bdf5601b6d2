"""A small OAuth2 provider for tests, on 127.0.0.1: the token endpoint of
Microsoft and of Google as Odoo's ``microsoft_outlook`` and ``google_gmail``
call it, and the introspection endpoint a Dovecot in OAuth2 mode asks whether
a Bearer token is good (``testsupport.dovecot.Dovecot(oauth2=...)``).

    with TokenService() as tokens, Dovecot(oauth2=tokens.introspection_url) as server:
        refresh_token = tokens.consent(server.user)           # Microsoft's, by default
        ... POST grant_type=refresh_token to tokens.microsoft_endpoint + 'token' ...
        ... AUTHENTICATE XOAUTH2 with the access token it answered ...
        tokens.revoke(refresh_token)                          # invalid_grant from now on
        assert tokens.count('token', grant_type='refresh_token') == 1

Where a client finds it:

- Microsoft (``microsoft_outlook``): the system parameter
  ``microsoft_outlook.endpoint`` = ``microsoft_endpoint``; Odoo posts to
  ``<endpoint>token``. Any ``/<tenant>/oauth2/v2.0/token`` path is Microsoft's.
- Google (``google_gmail``): its URL, https://oauth2.googleapis.com/token, is
  written in Odoo's code. With ``intercept=GOOGLE_HOSTS`` the service is also an
  HTTPS proxy that answers for those hosts itself, with a certificate of its own
  CA: a process started with ``proxy_environment()`` (``HTTPS_PROXY``,
  ``REQUESTS_CA_BUNDLE``, which ``requests`` reads) reaches it there unchanged.
  ``/token`` is Google's.

Tokens are random strings: nothing but this service can tell what they mean,
as with a real provider's opaque tokens. The answers, errors included, have
the providers' shapes (status, ``error``, ``error_description``; Microsoft's
AADSTS codes, its trace and correlation ids).
"""
import contextlib
import datetime
import http.server
import json
import re
import secrets
import shutil
import ssl
import tempfile
import threading
import time
import urllib.parse
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from . import certs

HOST = '127.0.0.1'
MICROSOFT = 'microsoft'
GOOGLE = 'google'
# The scopes Odoo asks for: microsoft_outlook's fetchmail.server._OUTLOOK_SCOPE
# (with offline_access, for a refresh token) and google_gmail's _SERVICE_SCOPE.
MICROSOFT_IMAP_SCOPE = 'https://outlook.office.com/IMAP.AccessAsUser.All'
MICROSOFT_SMTP_SCOPE = 'https://outlook.office.com/SMTP.Send'
GOOGLE_MAIL_SCOPE = 'https://mail.google.com/'
OFFLINE_ACCESS = 'offline_access'
DEFAULT_SCOPES = {MICROSOFT: (OFFLINE_ACCESS, MICROSOFT_IMAP_SCOPE), GOOGLE: (GOOGLE_MAIL_SCOPE,)}
# The real hosts whose token endpoints the service answers for as an HTTPS proxy.
GOOGLE_HOSTS = ('oauth2.googleapis.com',)
MICROSOFT_HOSTS = ('login.microsoftonline.com',)
# Both providers say an access token lives an hour (less a second).
ACCESS_TOKEN_SECONDS = 3599
MICROSOFT_TOKEN_PATH = re.compile(r'^/[^/]+/oauth2/v2\.0/token$')
GOOGLE_TOKEN_PATH = '/token'
INTROSPECTION_PATH = '/introspect'
# Microsoft Entra ID's reasons for refusing a refresh token (``revoke(code=...)``).
AADSTS = {
    'AADSTS70008': "The provided authorization code or refresh token has expired due to inactivity. "
                   "Send a new interactive authorization request for this user and resource.",
    'AADSTS700082': "The refresh token has expired due to inactivity. The token was issued on {issued} "
                    "and was inactive for 90.00:00:00.",
    'AADSTS50173': "The provided grant has expired due to it being revoked, a fresh auth token is needed. "
                   "The user might have changed or reset their password. The grant was issued on "
                   "'{issued}' and the TokensValidFrom date (before which tokens are not valid) for "
                   "this user is '{now}'.",
    'AADSTS65001': "The user or administrator has not consented to use the application with ID "
                   "'{client_id}'. Send an interactive authorization request for this user and resource.",
}
DEFAULT_REVOKE_CODE = 'AADSTS70008'
GOOGLE_REVOKED = "Token has been expired or revoked."
# How long a request waits in ``overlap`` for the others before giving up.
OVERLAP_SECONDS = 5.0


@dataclass
class _RefreshToken:
    token: str
    provider: str
    account: str
    scopes: tuple[str, ...]
    issued: float
    consent: str                 # the first refresh token of the consent: rotation keeps it
    revoked: str | None = None   # the AADSTS code (Google has one answer)
    used: bool = False


@dataclass
class _AccessToken:
    token: str
    account: str
    scopes: tuple[str, ...]
    expires: float
    refresh_token: str | None
    revoked: bool = False


@dataclass(frozen=True)
class Call:
    """One request the service answered."""
    endpoint: str                 # 'token' or 'introspect'
    provider: str | None          # MICROSOFT or GOOGLE for 'token'
    grant_type: str | None
    account: str | None           # whose token it was, when the token was known
    status: int
    error: str | None             # the OAuth2 'error', or 'inactive' for an introspection
    access_token: str | None      # issued, or introspected


@dataclass
class _State:
    refresh_tokens: dict[str, _RefreshToken] = field(default_factory=dict)
    access_tokens: dict[str, _AccessToken] = field(default_factory=dict)
    codes: dict[str, _RefreshToken] = field(default_factory=dict)  # authorization codes, single use
    disabled: set[str] = field(default_factory=set)
    calls: list[Call] = field(default_factory=list)


class TokenService:
    """The provider, started by ``start()`` (or ``with``) on a free port, stopped
    by ``stop()``. ``stop()`` then ``start()`` again serves the same tokens on
    the same port: in between, the provider is unreachable (connection refused).

    ``client_id``/``client_secret``: the application registered with the
    provider (Odoo's ``microsoft_outlook_client_id``... system parameters).
    ``rotate_refresh_tokens``: Microsoft answers a refresh with a new refresh
    token (Google never does); the old one stays valid unless
    ``single_use_refresh_tokens``, as with providers that detect reuse.
    ``intercept``: real host names (``GOOGLE_HOSTS``...) answered as an HTTPS
    proxy, with a certificate of a CA made in ``directory``, which leaving
    ``with`` removes. ``access_token_seconds`` may be changed at any time; to
    end tokens at a chosen moment, ``expire_access_tokens()`` is exact.
    """

    host = HOST

    def __init__(self, *, client_id: str = 'mail-router-test-client',
                 client_secret: str = 'mail-router-test-secret',
                 access_token_seconds: int = ACCESS_TOKEN_SECONDS,
                 rotate_refresh_tokens: bool = True, single_use_refresh_tokens: bool = False,
                 intercept: Iterable[str] = ()):
        self.client_id = client_id
        self.client_secret = client_secret
        self.access_token_seconds = access_token_seconds
        self.rotate_refresh_tokens = rotate_refresh_tokens
        self.single_use_refresh_tokens = single_use_refresh_tokens
        self.intercept = tuple(intercept)
        self.port: int | None = None
        self.directory: Path | None = None
        self.ca_file: Path | None = None
        self._tls_context: ssl.SSLContext | None = None
        self._server: http.server.ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._state = _State()
        self._barrier: threading.Barrier | None = None

    def __enter__(self) -> 'TokenService':
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()
        self._remove_directory()

    # Where clients find it.

    @property
    def url(self) -> str:
        return f'http://{self.host}:{self.port}'

    @property
    def microsoft_endpoint(self) -> str:
        """The value of Odoo's system parameter ``microsoft_outlook.endpoint``
        (its trailing slash matters: Odoo joins 'token' and 'authorize' to it)."""
        return f'{self.url}/common/oauth2/v2.0/'

    @property
    def google_token_url(self) -> str:
        return self.url + GOOGLE_TOKEN_PATH

    @property
    def introspection_url(self) -> str:
        return self.url + INTROSPECTION_PATH

    def proxy_environment(self) -> dict[str, str]:
        """The environment that sends a process's ``requests`` calls to the
        intercepted hosts here, trusting the service's CA for them (and, since
        ``REQUESTS_CA_BUNDLE`` replaces the default bundle, for nothing else)."""
        if not self.intercept:
            raise RuntimeError("TokenService(intercept=...) names no host to answer for")
        return {'HTTPS_PROXY': self.url, 'https_proxy': self.url,
                'REQUESTS_CA_BUNDLE': str(self.ca_file)}

    # Starting and stopping.

    def start(self) -> 'TokenService':
        if self._server is not None:
            return self
        if self.intercept and self._tls_context is None:
            self._make_certificate()
        handler = type('Handler', (_Handler,), {'service': self})
        self._server = _Server((self.host, self.port or 0), handler)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={'poll_interval': 0.05},
                                        name=f'token-service-{self.port}', daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop answering: new connections are refused (until ``start()``)."""
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
        self._server = self._thread = None

    def _make_certificate(self) -> None:
        self.directory = Path(tempfile.mkdtemp(prefix='mail_router-tokens-'))
        ca = certs.make_ca(self.directory)
        certificate = certs.make_server_certificate(self.directory, ca, self.intercept)
        self.ca_file = ca.cert_file
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(certificate.cert_file, certificate.key_file)
        self._tls_context = context

    def _remove_directory(self) -> None:
        if self.directory is not None:
            shutil.rmtree(self.directory, ignore_errors=True)
            self.directory = None

    # Test controls.

    def consent(self, account: str, provider: str = MICROSOFT, scopes: Iterable[str] | None = None) -> str:
        """``account`` consents to the application (``scopes``: what the
        consent screen granted; by default what Odoo asks for): its refresh token."""
        with self._lock:
            return self._new_refresh_token(provider, account, scopes).token

    def authorization_code(self, account: str, provider: str = MICROSOFT,
                           scopes: Iterable[str] | None = None) -> str:
        """The code the provider would hand Odoo's redirect URL after the consent
        screen; the token endpoint exchanges it once (grant_type=authorization_code)."""
        code = 'code-' + secrets.token_urlsafe(24)
        with self._lock:
            self._state.codes[code] = _RefreshToken(code, _provider(provider), account,
                                                    _scopes(provider, scopes), time.time(), code)
        return code

    def access_token(self, refresh_token: str) -> str:
        """A fresh access token for ``refresh_token``, without a request (not in ``calls``)."""
        with self._lock:
            return self._new_access_token(self._state.refresh_tokens[refresh_token]).token

    def expire_access_tokens(self, account: str | None = None) -> None:
        """Every access token issued so far (to ``account``) has expired: the
        introspection says inactive. Refresh tokens still work."""
        now = time.time()
        with self._lock:
            for token in self._state.access_tokens.values():
                if account is None or token.account == account:
                    token.expires = min(token.expires, now - 1)

    def revoke(self, refresh_token: str, code: str = DEFAULT_REVOKE_CODE,
               access_tokens: bool = True) -> None:
        """The consent ``refresh_token`` belongs to is gone: it and every refresh
        token rotated from it get invalid_grant (Microsoft: ``code``, one of
        ``AADSTS``; Google: "Token has been expired or revoked.").
        ``access_tokens``: those they gave stop working too (Google does so;
        Microsoft's live until they expire)."""
        if code not in AADSTS:
            raise ValueError(f"code must be one of {sorted(AADSTS)}")
        with self._lock:
            consent = self._state.refresh_tokens[refresh_token].consent
            revoked = {token.token for token in self._state.refresh_tokens.values() if token.consent == consent}
            for token in revoked:
                self._state.refresh_tokens[token].revoked = code
            if access_tokens:
                for token in self._state.access_tokens.values():
                    if token.refresh_token in revoked:
                        token.revoked = True

    def disable(self, account: str) -> None:
        """The account may no longer read mail over IMAP (disabled, or IMAP
        turned off for it): its tokens are still issued, the introspection says
        inactive."""
        with self._lock:
            self._state.disabled.add(account)

    @contextlib.contextmanager
    def overlap(self, requests: int = 2, timeout: float = OVERLAP_SECONDS) -> Iterator[None]:
        """Each token request waits until ``requests`` are in, then all are
        answered: proof that they were in flight at once. A request that waits
        ``timeout`` seconds in vain gets a 503 (the test then fails on it)."""
        self._barrier = threading.Barrier(requests, timeout=timeout)
        try:
            yield
        finally:
            self._barrier = None

    @property
    def calls(self) -> list[Call]:
        with self._lock:
            return list(self._state.calls)

    def count(self, endpoint: str = 'token', *, grant_type: str | None = None, account: str | None = None,
              ok: bool | None = None) -> int:
        """How many requests to ``endpoint`` matched: ``ok`` True counts those
        answered with a token (or an active introspection), False those refused."""
        return sum(1 for call in self.calls
                   if call.endpoint == endpoint
                   and (grant_type is None or call.grant_type == grant_type)
                   and (account is None or call.account == account)
                   and (ok is None or (call.error is None) == ok))

    # What the endpoints do, under the lock.

    def _new_refresh_token(self, provider: str, account: str, scopes: Iterable[str] | None,
                           consent: str | None = None) -> _RefreshToken:
        token = 'rt-' + secrets.token_urlsafe(32)
        grant = _RefreshToken(token, _provider(provider), account, _scopes(provider, scopes), time.time(),
                              consent or token)
        self._state.refresh_tokens[token] = grant
        return grant

    def _new_access_token(self, grant: _RefreshToken) -> _AccessToken:
        token = _AccessToken('at-' + secrets.token_urlsafe(32), grant.account, grant.scopes,
                             time.time() + self.access_token_seconds, grant.token)
        self._state.access_tokens[token.token] = token
        return token

    def _token(self, provider: str, form: dict[str, str]) -> tuple[int, dict, Call]:
        grant_type = form.get('grant_type')
        if (form.get('client_id'), form.get('client_secret')) != (self.client_id, self.client_secret):
            return self._refused(provider, grant_type, None, 401, 'invalid_client')
        if grant_type == 'refresh_token':
            grant = self._state.refresh_tokens.get(form.get('refresh_token', ''))
        elif grant_type == 'authorization_code':
            grant = self._state.codes.pop(form.get('code', ''), None)
            if grant is not None and grant.provider == provider:
                grant = self._new_refresh_token(grant.provider, grant.account, grant.scopes)
        else:
            return self._refused(provider, grant_type, None, 400, 'unsupported_grant_type')
        if grant is None or grant.provider != provider:
            return self._refused(provider, grant_type, None, 400, 'invalid_grant')
        if grant.revoked or (grant.used and self.single_use_refresh_tokens):
            return self._refused(provider, grant_type, grant, 400, 'invalid_grant')
        grant.used = True
        access = self._new_access_token(grant)
        body = {'token_type': 'Bearer', 'scope': ' '.join(s for s in grant.scopes if s != OFFLINE_ACCESS),
                'expires_in': self.access_token_seconds, 'access_token': access.token}
        if provider == MICROSOFT:
            body['ext_expires_in'] = self.access_token_seconds
            if grant_type == 'refresh_token' and self.rotate_refresh_tokens:
                grant = self._new_refresh_token(grant.provider, grant.account, grant.scopes, grant.consent)
            body['refresh_token'] = grant.token
        elif grant_type == 'authorization_code':
            body['refresh_token'] = grant.token
        return 200, body, Call('token', provider, grant_type, grant.account, 200, None, access.token)

    def _refused(self, provider: str, grant_type: str | None, grant: _RefreshToken | None,
                 status: int, error: str) -> tuple[int, dict, Call]:
        call = Call('token', provider, grant_type, grant.account if grant else None, status, error, None)
        if provider == GOOGLE:
            return status, _google_error(error, grant_type), call
        return status, _microsoft_error(error, grant, self.client_id), call

    def _introspect(self, token: str) -> tuple[int, dict, Call]:
        access = self._state.access_tokens.get(token)
        active = (access is not None and not access.revoked and access.expires > time.time()
                  and access.account not in self._state.disabled)
        account = access.account if access else None
        call = Call('introspect', None, None, account, 200, None if active else 'inactive', token)
        if not active:
            return 200, {'active': False}, call
        # RFC 7662's names; Dovecot reads username_attribute and scope.
        return 200, {'active': True, 'username': access.account, 'scope': ' '.join(access.scopes),
                     'client_id': self.client_id, 'token_type': 'Bearer', 'exp': int(access.expires)}, call

    def _answer(self, path: str, form: dict[str, str], bearer: str | None) -> tuple[int, dict]:
        barrier = self._barrier
        if path != INTROSPECTION_PATH and barrier is not None:
            try:
                barrier.wait()
            except threading.BrokenBarrierError:
                return 503, {'error': 'temporarily_unavailable',
                             'error_description': 'TokenService.overlap: the other requests never came'}
        with self._lock:
            if path == INTROSPECTION_PATH:
                status, body, call = self._introspect(form.get('token') or bearer or '')
            elif MICROSOFT_TOKEN_PATH.match(path):
                status, body, call = self._token(MICROSOFT, form)
            elif path == GOOGLE_TOKEN_PATH:
                status, body, call = self._token(GOOGLE, form)
            else:
                return 404, {'error': 'not_found'}
            self._state.calls.append(call)
        return status, body


def _provider(provider: str) -> str:
    if provider not in (MICROSOFT, GOOGLE):
        raise ValueError(f"provider must be {MICROSOFT!r} or {GOOGLE!r}, not {provider!r}")
    return provider


def _scopes(provider: str, scopes: Iterable[str] | None) -> tuple[str, ...]:
    return DEFAULT_SCOPES[_provider(provider)] if scopes is None else tuple(scopes)


def _google_error(error: str, grant_type: str | None) -> dict:
    descriptions = {
        'invalid_client': "Unauthorized",
        'unsupported_grant_type': f"Invalid grant_type: {grant_type or ''}",
    }
    description = descriptions.get(error, GOOGLE_REVOKED)
    return {'error': error, 'error_description': description}


def _microsoft_error(error: str, grant: _RefreshToken | None, client_id: str) -> dict:
    if error == 'invalid_client':
        code, text = 'AADSTS7000215', ("Invalid client secret provided. Ensure the secret being sent in the "
                                       "request is the client secret value, not the client secret ID, for a "
                                       f"secret added to app '{client_id}'.")
    elif error == 'unsupported_grant_type':
        code, text = 'AADSTS70003', "The app requested an unsupported grant type."
    elif grant is None:
        code, text = 'AADSTS9002313', "Invalid request. Request is malformed or invalid."
    else:
        code = grant.revoked or 'AADSTS70008'  # a single-use token used again: as if expired
        text = AADSTS[code].format(issued=_timestamp(grant.issued), now=_timestamp(time.time()),
                                   client_id=client_id)
    trace, correlation, now = uuid.uuid4(), uuid.uuid4(), _timestamp(time.time())
    return {
        'error': error,
        'error_description': f"{code}: {text} Trace ID: {trace}\r\nCorrelation ID: {correlation}\r\n"
                             f"Timestamp: {now[:19].replace('T', ' ')}Z",
        'error_codes': [int(code[len('AADSTS'):])],
        'timestamp': f"{now[:19].replace('T', ' ')}Z",
        'trace_id': str(trace),
        'correlation_id': str(correlation),
        'error_uri': f"https://login.microsoftonline.com/error?code={code[len('AADSTS'):]}",
    }


def _timestamp(seconds: float) -> str:
    return datetime.datetime.fromtimestamp(seconds, datetime.UTC).strftime('%Y-%m-%dT%H:%M:%S.%f0Z')


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    # stop() must not wait for a request held in overlap().
    block_on_close = False


class _Handler(http.server.BaseHTTPRequestHandler):
    # One request per connection: once stop() returns, no connection kept
    # alive still answers.
    protocol_version = 'HTTP/1.0'
    service: TokenService

    def do_POST(self):
        length = int(self.headers.get('Content-Length') or 0)
        body = self.rfile.read(length).decode('utf-8', 'replace')
        self._reply(urllib.parse.urlsplit(self.path).path, dict(urllib.parse.parse_qsl(body)))

    def do_GET(self):
        parts = urllib.parse.urlsplit(self.path)
        self._reply(parts.path, dict(urllib.parse.parse_qsl(parts.query)))

    def do_CONNECT(self):
        """HTTPS to an intercepted host: TLS with our certificate for it, then
        the request inside is answered as any other."""
        host = self.path.rsplit(':', 1)[0]
        if host not in self.service.intercept:
            self.send_error(502, f"{host} is not intercepted by this token service")
            return
        self.send_response(200, 'Connection established')
        self.end_headers()
        self.wfile.flush()
        try:
            with self.service._tls_context.wrap_socket(self.connection, server_side=True) as tls:
                type(self)(tls, self.client_address, self.server)
        except (ssl.SSLError, OSError):
            pass  # the client gave up the TLS handshake: nothing to answer
        self.close_connection = True

    def _reply(self, path: str, form: dict[str, str]) -> None:
        authorization = self.headers.get('Authorization') or ''
        bearer = authorization[7:] if authorization.lower().startswith('bearer ') else None
        status, body = self.service._answer(path, form, bearer)
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header('Content-Type', 'application/json; charset=utf-8')
        self.send_header('Content-Length', str(len(payload)))
        self.send_header('Cache-Control', 'no-store')
        # Headers and body in one write: one segment, as most servers send a small answer.
        self._headers_buffer.append(b'\r\n' + payload)
        self.flush_headers()

    def log_message(self, *args):
        pass  # the calls are in TokenService.calls
