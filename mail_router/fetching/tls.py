"""The SSL context for a server, and the names on a certificate that did not
match, so that the error can say which name to use instead."""
import functools
import os
import ssl
from collections.abc import Callable
from typing import TypeVar

from .errors import WRONG_NAME_CODES, CaFileUnreadable, WrongHostName
from .settings import ConnectionSettings

Connection = TypeVar('Connection')


def client_context(settings: ConnectionSettings) -> ssl.SSLContext:
    """Verify certificate and host name against the system's CAs (which
    ``create_default_context`` takes from the system store and SSL_CERT_FILE)
    plus ``settings.ca_file``; verify nothing when ``settings.verify`` is off.

    Made once per process for each CA file (as it is on disk now) and verify
    setting, then shared by every connection: loading the system's CAs takes
    25 ms, which each fetch job paid for each login. A shared context must not
    be changed: ``fresh_context`` makes one to change. The system store is read
    once per process (a new system CA is trusted after a restart)."""
    return _shared_context(settings.ca_file or '', _file_version(settings.ca_file), settings.verify)


@functools.lru_cache(maxsize=32)
def _shared_context(ca_file: str, _version: tuple | None, verify: bool) -> ssl.SSLContext:
    # _version is only part of the key: a CA file replaced on disk makes a new context
    return fresh_context(ca_file, verify)


def fresh_context(ca_file: str, verify: bool) -> ssl.SSLContext:
    context = ssl.create_default_context()
    if ca_file:
        _trust_ca_file(context, ca_file)
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def _file_version(path: str) -> tuple | None:
    """(modification time, size) of the file at ``path``; None when there is none (or no
    file: _trust_ca_file says why)."""
    if not path:
        return None
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return stat.st_mtime_ns, stat.st_size


def _trust_ca_file(context: ssl.SSLContext, path: str) -> None:
    try:
        context.load_verify_locations(cafile=path)
    except FileNotFoundError:
        raise CaFileUnreadable(path, "no such file") from None
    except (OSError, ssl.SSLError) as exc:
        raise CaFileUnreadable(path, f"not a PEM certificate file ({exc})") from None


def open_secured(settings: ConnectionSettings,
                 connect_plain: Callable[[], Connection],
                 connect_tls: Callable[[ssl.SSLContext], Connection],
                 start_tls: Callable[[Connection, ssl.SSLContext], None],
                 drop: Callable[[Connection], None]) -> Connection:
    """A connection secured as ``settings.security`` says, for IMAP and POP3 alike:
    'ssl', TLS from the first byte (``connect_tls``); 'starttls', a plain connection
    upgraded by ``start_tls``, which raises when the server does not offer it (never
    a fall back to clear text); 'none', clear text, chosen explicitly."""
    if settings.security == 'none':
        return connect_plain()

    def open_with(context: ssl.SSLContext) -> Connection:
        if settings.security == 'ssl':
            return connect_tls(context)
        connection = connect_plain()
        try:
            start_tls(connection, context)
        except BaseException:
            drop(connection)
            raise
        return connection

    return open_verified(settings, open_with, drop)


def open_verified(settings: ConnectionSettings,
                  open_with: Callable[[ssl.SSLContext], Connection],
                  close: Callable[[Connection], None]) -> Connection:
    """``open_with(client_context(settings))``, turning a host-name mismatch
    into WrongHostName with the names the certificate holds. Learning them
    takes a second handshake that checks the chain but not the name (a failed
    handshake does not give the certificate), and is closed right away."""
    try:
        return open_with(client_context(settings))
    except ssl.SSLCertVerificationError as exc:
        if exc.verify_code not in WRONG_NAME_CODES:
            raise
        mismatch = exc
    try:
        names = _names_on_certificate(settings, open_with, close)
    except Exception:
        # Learning the names is a courtesy: if it fails, report the mismatch as it came.
        raise mismatch from None
    raise WrongHostName(settings.host, names) from mismatch


def _names_on_certificate(settings, open_with, close) -> tuple[str, ...]:
    context = fresh_context(settings.ca_file or '', settings.verify)
    context.check_hostname = False
    connection = open_with(context)
    try:
        # imaplib and poplib both keep the TLS socket in .sock
        return certificate_names(connection.sock.getpeercert())
    finally:
        close(connection)


def certificate_names(certificate: dict) -> tuple[str, ...]:
    """The host names and addresses a certificate (as ``getpeercert()`` gives
    it) is valid for: its subjectAltName, else its subject's common name."""
    alt_names = tuple(value for kind, value in certificate.get('subjectAltName', ())
                      if kind in ('DNS', 'IP Address'))
    if alt_names:
        return alt_names
    return tuple(value for rdn in certificate.get('subject', ())
                 for key, value in rdn if key == 'commonName')
