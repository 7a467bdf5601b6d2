"""The errors this package raises, and ``explain``: an error in words an
administrator can act on, naming the server. No sentence ever contains the
password: none is built from it, and the servers' replies do not echo it."""
import imaplib
import poplib
import socket
import ssl

from .oauth import Provider
from .settings import ConnectionSettings

# poplib's pseudo reply when the server closed the connection.
POP3_EOF = '-ERR EOF'
# OpenSSL verification codes (X509_V_ERR_*) that mean "no trusted CA signed this".
UNTRUSTED_CODES = frozenset({
    2,   # unable to get issuer certificate
    18,  # depth zero self-signed certificate
    19,  # self-signed certificate in certificate chain
    20,  # unable to get local issuer certificate
    21,  # unable to verify the first certificate
})
# ... and those that mean "signed by a trusted CA, but for another name".
WRONG_NAME_CODES = frozenset({
    62,  # host name mismatch
    64,  # IP address mismatch
})


class FetchError(Exception):
    """An error found by this package (as opposed to one raised by the socket,
    ssl, imaplib or poplib)."""


class StartTlsNotOffered(FetchError):
    def __init__(self, address: str):
        super().__init__(f"{address} does not offer STARTTLS")
        self.address = address


class LoginRefused(FetchError):
    def __init__(self, reply: str):
        super().__init__(f"login refused: {reply}")
        self.reply = reply


class FolderMissing(FetchError):
    def __init__(self, folder: str, reply: str):
        super().__init__(f"folder {folder!r} cannot be selected: {reply}")
        self.folder = folder
        self.reply = reply


class CaFileUnreadable(FetchError):
    def __init__(self, path: str, reason: str):
        super().__init__(f"CA file {path!r} cannot be used: {reason}")
        self.path = path
        self.reason = reason


class TokenRefused(FetchError):
    """The provider refused to renew the access token of ``account``: its
    answer's HTTP ``status``, OAuth2 ``error`` (invalid_grant...) and
    ``description`` (Microsoft's begins with its AADSTS code), each None when
    the answer said nothing."""

    def __init__(self, provider: Provider, account: str, status: int, error: str | None,
                 description: str | None):
        super().__init__(f"{provider.company} refused to renew the access token of {account}: "
                         f"HTTP {status} {error}: {description}")
        self.provider, self.account, self.status = provider, account, status
        self.error, self.description = error, description

    @property
    def reason(self) -> str:
        """The provider's own words, on one line."""
        description = ' '.join((self.description or '').split())
        return ': '.join(part for part in (self.error, description) if part) or f"HTTP {self.status}"


class TokenEndpointUnreachable(FetchError):
    """The provider's token endpoint did not answer: no token could be renewed."""

    def __init__(self, provider: Provider, account: str, reason: str):
        super().__init__(f"{provider.token_url} cannot be reached: {reason}")
        self.provider, self.account, self.reason = provider, account, reason


class TokenLoginRefused(LoginRefused):
    """The IMAP server refused the access token of ``account`` that the
    provider issued; ``granted``: the scopes the provider said it granted, or
    None when unknown."""

    def __init__(self, provider: Provider, account: str, reply: str, granted: tuple[str, ...] | None):
        super().__init__(reply)
        self.provider, self.account, self.granted = provider, account, granted


class WrongHostName(ssl.SSLCertVerificationError):
    """A certificate signed by a trusted CA, but for other names than the host
    we connected to. ``names`` are those it holds, so the admin can pick one."""

    def __init__(self, host: str, names: tuple[str, ...]):
        listed = ", ".join(names) or "no host name"
        super().__init__(f"certificate is for {listed}, not {host}")
        self.host = host
        self.names = names
        self.verify_code = 62  # X509_V_ERR_HOSTNAME_MISMATCH, as OpenSSL says it
        self.verify_message = str(self)


def reply_text(reply) -> str:
    """A server reply (bytes from imaplib/poplib, or str) as text."""
    if isinstance(reply, bytes):
        reply = reply.decode('utf-8', 'replace')
    return str(reply).strip()


def first_arg_text(exc: BaseException) -> str:
    return reply_text(exc.args[0]) if exc.args else type(exc).__name__


def explain(exc: BaseException, settings: ConnectionSettings) -> str:
    """One or two sentences saying what went wrong with ``settings``' server
    and what to change."""
    for kind, sentence in SENTENCES:
        if isinstance(exc, kind):
            return sentence(exc, settings)
    return f"Fetching mail from {settings.address} failed: {type(exc).__name__}: {exc}"


def _does_not_resolve(exc, settings):
    return (f"The server name {settings.host!r} does not resolve ({exc.strerror}): "
            f"check its spelling, and that this machine can resolve names (DNS).")


def _invalid_name(exc, settings):
    return f"The server name {settings.host!r} is not a valid host name ({exc})."


def _timeout(exc, settings):
    return (f"{settings.address} did not answer within {settings.timeout:g} s (timeout): "
            f"check the server name, the port and any firewall in between. A server on an SSL/TLS "
            f"port (993, 995) also stays silent when the security is set to STARTTLS or none.")


def _refused(exc, settings):
    return (f"{settings.address} refused the connection: nothing listens on port {settings.port}. "
            f"Check the port: IMAP is 993 with SSL/TLS or 143 with STARTTLS, "
            f"POP3 is 995 with SSL/TLS or 110 with STARTTLS.")


def _wrong_host_name(exc, settings):
    names = ", ".join(exc.names) or "no host name"
    return (f"The certificate of {settings.address} is for {names}, not {exc.host}: "
            f"enter one of the names it holds as the server name.")


def _certificate_refused(exc, settings):
    if exc.verify_code in UNTRUSTED_CODES:
        return (f"The certificate of {settings.address} is not trusted ({exc.verify_message}): "
                f"add the file of the CA that signed it as the CA file, or, only if you accept "
                f"that anyone in between could read the password, turn off verification.")
    if exc.verify_code in WRONG_NAME_CODES:
        return (f"The certificate of {settings.address} is not valid for {settings.host} "
                f"({exc.verify_message}): enter a name the certificate holds as the server name.")
    return f"The certificate of {settings.address} was refused: {exc.verify_message}."


def _tls_failed(exc, settings):
    return (f"TLS with {settings.address} failed ({exc.reason or exc}): check that the security "
            f"matches the port (SSL/TLS on 993 or 995, STARTTLS on 143 or 110).")


def _starttls_not_offered(exc, settings):
    return (f"{settings.address} does not offer STARTTLS, so the password would travel in clear "
            f"text: choose SSL/TLS (usually port 993 or 995), or no security only on a network "
            f"you trust.")


def _login_refused(exc, settings):
    return (f"{settings.address} refused the login ({exc.reply}): check the user name and the "
            f"password (some providers require an app password or OAuth).")


# The OAuth2 errors that mean "this consent is gone": connect the account again.
CONSENT_GONE = frozenset({'invalid_grant', 'interaction_required', 'consent_required'})
# Microsoft's "the user or administrator has not consented" (AADSTS65001).
NO_CONSENT_CODE = 'AADSTS65001'


def _connect_again(provider: Provider, account: str) -> str:
    return (f"The {provider.account} account must be connected again: press \"{provider.connect}\" on this "
            f"server's form (the gear next to \"{provider.token_valid}\") and sign in as {account}. "
            f"Until then its mail waits, unread, on the server.")


def _token_refused(exc, settings):
    provider = exc.provider
    if exc.error == 'invalid_client':
        return (f"{provider.company} refused the application's credentials while renewing the access token "
                f"of {exc.account} ({exc.reason}): enter its Client ID and a current Client Secret in "
                f"{provider.credentials} (a new secret is made in {provider.secrets}). Until then mail waits, "
                f"unread, on the server.")
    if NO_CONSENT_CODE in (exc.description or ''):
        return (f"{provider.company} says {exc.account} has not consented to let Odoo read its mail "
                f"({exc.reason}): press \"{provider.connect}\" on this server's form and {provider.consent}. "
                f"Until then its mail waits, unread, on the server.")
    if exc.error in CONSENT_GONE:
        return (f"{provider.company} refused to renew the access token of the {provider.account} account "
                f"{exc.account}: its consent was revoked or has expired ({exc.reason}). "
                + _connect_again(provider, exc.account))
    return (f"{provider.company} refused to renew the access token of {exc.account} (HTTP {exc.status}, "
            f"{exc.reason}). " + _connect_again(provider, exc.account))


def _token_endpoint_unreachable(exc, settings):
    provider = exc.provider
    return (f"The access token of {exc.account} cannot be renewed: {provider.company}'s token endpoint "
            f"cannot be reached ({exc.reason}). Check that this Odoo server reaches {provider.token_url} over "
            f"HTTPS (DNS, firewall, proxy). Nothing is wrong with the account or the mailbox: its mail waits, "
            f"unread, on the server and is fetched once {provider.company} answers.")


def _token_login_refused(exc, settings):
    provider = exc.provider
    if exc.granted is not None and provider.imap_scope not in exc.granted:
        granted = ' '.join(exc.granted) or 'no scope'
        return (f"The consent {exc.account} gave does not let Odoo read mail over IMAP: {provider.company} "
                f"granted {granted}, without {provider.imap_scope}, so {settings.address} refused the login "
                f"({exc.reply}). Press \"{provider.connect}\" on this server's form and {provider.consent}. "
                f"Until then its mail waits, unread, on the server.")
    return (f"{settings.address} refused the {provider.account} access token of {exc.account} ({exc.reply}): "
            f"the account may not read this mailbox over IMAP. Check that the Username is the address of the "
            f"account that was connected and that {provider.imap_access}; then press \"{provider.connect}\" "
            f"on this server's form. Until then its mail waits, unread, on the server.")


def _folder_missing(exc, settings):
    return (f"The folder {exc.folder!r} does not exist on {settings.address} ({exc.reply}): "
            f"check its name as the mail client shows it.")


def _ca_file_unreadable(exc, settings):
    return f"The CA file {exc.path!r} for {settings.address} cannot be used: {exc.reason}."


def _connection_cut(exc, settings):
    return f"The connection to {settings.address} was cut ({first_arg_text(exc)})."


def _server_error(exc, settings):
    return f"{settings.address} answered with an error: {first_arg_text(exc)}."


def _pop3_error(exc, settings):
    if first_arg_text(exc) == POP3_EOF:
        return _connection_cut(exc, settings)
    return _server_error(exc, settings)


def _network_error(exc, settings):
    return f"Cannot talk to {settings.address}: {exc.strerror or exc}."


# Most specific first: most of these are OSError subclasses.
SENTENCES = (
    (socket.gaierror, _does_not_resolve),
    (UnicodeError, _invalid_name),
    (TimeoutError, _timeout),
    (ConnectionRefusedError, _refused),
    (WrongHostName, _wrong_host_name),
    (ssl.SSLCertVerificationError, _certificate_refused),
    # The peer closed the TLS connection without a word: a cut, not a TLS problem.
    (ssl.SSLEOFError, _connection_cut),
    (ssl.SSLZeroReturnError, _connection_cut),
    (ssl.SSLError, _tls_failed),
    (StartTlsNotOffered, _starttls_not_offered),
    (TokenRefused, _token_refused),
    (TokenEndpointUnreachable, _token_endpoint_unreachable),
    (TokenLoginRefused, _token_login_refused),
    (LoginRefused, _login_refused),
    (FolderMissing, _folder_missing),
    (CaFileUnreadable, _ca_file_unreadable),
    (imaplib.IMAP4.abort, _connection_cut),
    (ConnectionError, _connection_cut),
    (imaplib.IMAP4.error, _server_error),
    (poplib.error_proto, _pop3_error),
    (OSError, _network_error),
)
