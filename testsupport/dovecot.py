"""A private Dovecot on 127.0.0.1 for tests: its own configuration, ports,
certificates, user and Maildir in a temporary directory; nothing from /etc.

    with Dovecot() as server:
        uid = server.append('INBOX', b'Subject: hi\\r\\n\\r\\nbody\\r\\n')
        ... connect to server.host, server.ports.imaps, trusting server.ca_file ...
        assert server.flags('INBOX') == {uid: set()}

The helpers talk to the server independently of the code under test: IMAP
with imaplib on the plain port for messages and flags, doveadm for folders,
UIDVALIDITY and disconnecting clients.

In OAuth2 mode (``Dovecot(oauth2=introspection_url)``, see testsupport.oauth2)
the server also takes XOAUTH2 and OAUTHBEARER, and asks that URL whether each
Bearer token is active, whose it is and for which scopes: the user named in
the login must be the token's, and the token must hold ``oauth2_scope``
(Microsoft's IMAP scope by default: a server standing for Gmail takes Google's).
Nothing is cached: every login asks.
The password still logs in with PLAIN and LOGIN (the helpers do), and only
with them; a token is never tried as a password, nor a password as a token.
"""
import contextlib
import grp
import imaplib
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from . import certs
from .oauth2 import MICROSOFT_IMAP_SCOPE

DOVECOT = shutil.which('dovecot') or '/usr/sbin/dovecot'
DOVEADM = shutil.which('doveadm') or '/usr/bin/doveadm'
INSTALL_HINT = "install Debian packages dovecot-imapd dovecot-pop3d"
HOST = '127.0.0.1'
TLS_MODES = ('ca', 'self-signed', 'none')
# How long to wait for Dovecot to start, or for its processes to end.
WAIT_SECONDS = 10.0
# Ports are picked anew after each failure to bind one.
START_ATTEMPTS = 3
# doveadm kick's exit code when no connection was found to kick.
NOTHING_KICKED = 68
FETCHED_FLAGS = re.compile(rb'UID (\d+) FLAGS \(([^)]*)\)')
APPENDED_UID = re.compile(rb'APPENDUID \d+ (\d+)')


# Dovecot 2.3's capabilities after login, IDLE left out: a server that must be polled.
NO_IDLE_CAPABILITY = ("imap_capability = IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE SORT THREAD=REFERENCES "
                      "MULTIAPPEND UNSELECT CHILDREN NAMESPACE UIDPLUS LIST-EXTENDED I18NLEVEL=1 CONDSTORE "
                      "ESEARCH LITERAL+ SPECIAL-USE")


class PortTaken(Exception):
    """Between our picking a free port and Dovecot binding it, another process took it."""


@dataclass(frozen=True)
class ServiceUsers:
    login: str            # runs the login processes, which face the network
    internal: str         # runs Dovecot's own helper processes
    internal_group: str
    mail: str             # owns the Maildir


@dataclass(frozen=True)
class Ports:
    imap: int           # IMAP, offering STARTTLS unless the server runs without TLS
    pop3: int           # POP3, offering STLS unless the server runs without TLS
    imaps: int | None   # IMAP in TLS from the first byte; None without TLS
    pop3s: int | None   # POP3 in TLS from the first byte; None without TLS


class Dovecot:
    """A Dovecot process, started by ``start()`` (or ``with``), stopped and
    its directory removed by ``stop()``, also when the start failed.

    ``tls``: 'ca' serves a certificate for ``server_names`` signed by a CA
    made for this server (``ca_file``); 'self-signed' serves one signed by
    itself (``ca_file`` is that certificate); 'none' offers no TLS at all,
    not even STARTTLS (``ca_file`` is None).

    ``oauth2``: the URL of a token introspection endpoint (RFC 7662, asked
    with POST token=...; ``TokenService.introspection_url``): XOAUTH2 and
    OAUTHBEARER are offered, and a token is good when that endpoint says
    ``active`` for the user logging in, with ``oauth2_scope`` among its
    scopes (None: any scope).
    """

    host = HOST

    # The default password has spaces and quotes, which LOGIN must quote.
    def __init__(self, *, tls: str = 'ca', server_names: Iterable[str] = ('localhost', HOST),
                 user: str = 'alice', password: str = 'correct horse "battery" staple',
                 oauth2: str | None = None, oauth2_scope: str | None = MICROSOFT_IMAP_SCOPE,
                 idle: bool = True):
        if tls not in TLS_MODES:
            raise ValueError(f"tls must be one of {TLS_MODES}, not {tls!r}")
        if ':' in password or '\n' in password:
            raise ValueError("the passwd-file format cannot hold ':' or a newline in a password")
        self.tls = tls
        self.server_names = tuple(server_names)
        self.user = user
        self.password = password
        self.oauth2 = oauth2
        self.oauth2_scope = oauth2_scope
        self.idle = idle  # False: IDLE is not advertised (a server that must be polled)
        self.directory: Path | None = None
        self.ports: Ports | None = None
        self.ca_file: Path | None = None
        self._process: subprocess.Popen | None = None

    def __enter__(self) -> 'Dovecot':
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    @property
    def config_file(self) -> Path:
        return self.directory / 'dovecot.conf'

    def start(self) -> 'Dovecot':
        _require_installed()
        failures = []
        for _ in range(START_ATTEMPTS):
            try:
                return self._start_once()
            except (PortTaken, RuntimeError) as exc:
                # Another process took a port we picked, or (rarely, under load) a start
                # failed: a fresh directory and fresh ports, once more.
                failures.append(str(exc))
        raise RuntimeError(f"dovecot failed to start {START_ATTEMPTS} times:\n" + "\n---\n".join(failures))

    def _start_once(self) -> 'Dovecot':
        # Dovecot's unprivileged processes (login, mail user) must traverse it.
        self.directory = Path(tempfile.mkdtemp(prefix='mail_router-dovecot-'))
        self.directory.chmod(0o755)
        try:
            self._prepare()
            self._run()
        except BaseException:
            self.stop()
            raise
        return self

    def _run(self) -> None:
        with (self.directory / 'stderr.log').open('ab') as stderr:
            # Its own process group, so that stop() reaches every child too.
            self._process = subprocess.Popen([DOVECOT, '-F', '-c', str(self.config_file)],
                                             stdout=subprocess.DEVNULL, stderr=stderr,
                                             start_new_session=True)
        self._wait_until_listening()

    def restart(self) -> None:
        """Kill every Dovecot process, as a crash or a restart does (every session is cut),
        and start it again on the same ports, with the same mail."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self._process.pid, signal.SIGKILL)
        self._process.wait()
        _wait_until_gone(self._process.pid)
        for _attempt in range(START_ATTEMPTS):
            try:
                self._run()
                return
            except RuntimeError:  # its ports still held by the dying processes' sockets
                time.sleep(0.5)
        raise RuntimeError(f"dovecot did not start again:\n{self.log()}")

    def stop(self) -> None:
        if self._process is not None:
            # SIGKILL to the group: a graceful stop takes Dovecot one to six
            # seconds, and nothing of a test server needs to survive.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self._process.pid, signal.SIGKILL)
            self._process.wait()
            _wait_until_gone(self._process.pid)
            self._process = None
        if self.directory is not None:
            shutil.rmtree(self.directory, ignore_errors=True)
            self.directory = None

    def _prepare(self) -> None:
        users = _service_users()
        self.ports = _pick_ports(self.tls != 'none')
        certificate = self._make_certificate()
        home = self.directory / 'home' / self.user
        home.mkdir(parents=True)
        mail_owner = pwd.getpwnam(users.mail)
        os.chown(home, mail_owner.pw_uid, mail_owner.pw_gid)
        (self.directory / 'passwd').write_text(f"{self.user}:{{PLAIN}}{self.password}::::::\n")
        if self.oauth2:
            (self.directory / 'oauth2.conf').write_text(_oauth2_config(self.oauth2, self.oauth2_scope))
        self.config_file.write_text(
            _config(self.directory, self.ports, certificate, users, mail_owner, bool(self.oauth2), self.idle))

    def _make_certificate(self) -> certs.Certificate | None:
        if self.tls == 'none':
            return None
        if self.tls == 'self-signed':
            certificate = certs.make_self_signed(self.directory, self.server_names)
            self.ca_file = certificate.cert_file
            return certificate
        ca = certs.make_ca(self.directory)
        self.ca_file = ca.cert_file
        return certs.make_server_certificate(self.directory, ca, self.server_names)

    def _wait_until_listening(self) -> None:
        """Until the plain ports greet (the login processes run) and the TLS
        ports accept. A port that accepts is not enough: Dovecot binds its
        ports before it may still fail on the rest of its setup."""
        deadline = time.monotonic() + WAIT_SECONDS
        checks = [(self.ports.imap, b'* OK'), (self.ports.pop3, b'+OK')]
        checks += [(port, None) for port in (self.ports.imaps, self.ports.pop3s) if port]
        for port, greeting in checks:
            while not _answers(port, greeting):
                if self._process.poll() is not None:
                    log = self.log()
                    if 'Address already in use' in log:
                        raise PortTaken(log)
                    raise RuntimeError(f"dovecot exited with {self._process.returncode}:\n{log}")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"dovecot did not listen on port {port} "
                                       f"within {WAIT_SECONDS:g} s:\n{self.log()}")
                time.sleep(0.01)

    def log(self) -> str:
        """What dovecot wrote: its log file and its standard error."""
        return '\n'.join(path.read_text(errors='replace')
                         for path in (self.directory / 'dovecot.log', self.directory / 'stderr.log')
                         if path.exists())

    # Mailbox helpers, independent of the code under test.

    def append(self, folder: str, raw: bytes, flags: Iterable[str] = ()) -> int:
        """Store ``raw`` in ``folder`` (an ASCII name) with ``flags``; return its UID."""
        with self._imap() as conn:
            return _append(conn, folder, raw, flags)

    def append_all(self, folder: str, raws: Iterable[bytes]) -> list[int]:
        """Store each of ``raws`` in ``folder``, in one session; return their UIDs."""
        with self._imap() as conn:
            return [_append(conn, folder, raw, ()) for raw in raws]

    def flags(self, folder: str) -> dict[int, set[str]]:
        """{uid: flags} for every message in ``folder`` (an ASCII name), as the
        server has them now, without \\Recent (which depends on the session)."""
        with self._imap() as conn:
            _expect_ok(*conn.select(_quoted(folder), readonly=True), 'EXAMINE')
            typ, data = conn.uid('FETCH', '1:*', '(FLAGS)')
        _expect_ok(typ, data, 'UID FETCH')
        found = (FETCHED_FLAGS.search(line) for line in data if isinstance(line, bytes))
        return {int(match[1]): set(match[2].decode().split()) - {'\\Recent'}
                for match in found if match}

    def create_folder(self, folder: str) -> None:
        """Create ``folder``; any Unicode name, since doveadm takes UTF-8."""
        self._doveadm('mailbox', 'create', '-u', self.user, folder)

    def uidvalidity(self, folder: str) -> int:
        output = self._doveadm('mailbox', 'status', '-u', self.user, 'uidvalidity', folder)
        return int(output.split('uidvalidity=')[1])

    def change_uidvalidity(self, folder: str, new: int | None = None) -> int:
        """Give ``folder`` a new UIDVALIDITY (``new``, else the current one
        plus one), keeping its messages and UIDs, as a server restored or
        migrated may; return the new value."""
        new = self.uidvalidity(folder) + 1 if new is None else new
        self._doveadm('mailbox', 'update', '-u', self.user, '--uid-validity', str(new), folder)
        return new

    def raise_next_uid(self, folder: str, uid: int) -> None:
        """Make the next message stored in ``folder`` get UID ``uid`` at least.
        Stay a few below 2**32 - 1: Dovecot 2.3 panics setting a flag on UID
        4294967294, and stores nothing above it."""
        self._doveadm('mailbox', 'update', '-u', self.user, '--min-next-uid', str(uid), folder)

    def kick(self) -> None:
        """Disconnect every IMAP and POP3 session of the user, as an admin would."""
        self._doveadm('kick', self.user, allowed_exit_codes=(0, NOTHING_KICKED))

    @contextlib.contextmanager
    def _imap(self) -> Iterator[imaplib.IMAP4]:
        conn = imaplib.IMAP4(self.host, self.ports.imap, timeout=10)
        try:
            conn.login(self.user, self.password)
            yield conn
        finally:
            conn.logout()

    def _doveadm(self, *args: str, allowed_exit_codes: tuple[int, ...] = (0,)) -> str:
        result = subprocess.run([DOVEADM, '-c', str(self.config_file), *args],
                                capture_output=True, text=True, check=False)
        if result.returncode not in allowed_exit_codes:
            raise RuntimeError(f"doveadm {' '.join(args)} failed ({result.returncode}): "
                               f"{result.stderr.strip()}")
        return result.stdout


def _require_installed() -> None:
    missing = [path for path in (DOVECOT, DOVEADM) if not Path(path).exists()]
    if missing:
        raise RuntimeError(f"{', '.join(missing)} not found: {INSTALL_HINT}")


def _service_users() -> ServiceUsers:
    """As root, Dovecot drops to its own users and keeps the mail under an
    unprivileged one ('mail'); as anyone else, it runs everything as that user."""
    if os.geteuid() == 0:
        return ServiceUsers(login='dovenull', internal='dovecot', internal_group='dovecot',
                            mail='mail')
    me = pwd.getpwuid(os.geteuid())
    return ServiceUsers(login=me.pw_name, internal=me.pw_name,
                        internal_group=grp.getgrgid(me.pw_gid).gr_name, mail=me.pw_name)


def _wait_until_gone(group: int) -> None:
    """Until no process of ``group`` runs any more, so none writes into the
    directory being removed. Children of the master are reaped by init."""
    deadline = time.monotonic() + WAIT_SECONDS
    while live_processes_in_group(group) and time.monotonic() < deadline:
        time.sleep(0.01)


def live_processes_in_group(group: int) -> list[int]:
    """The PIDs of the processes of process group ``group`` that are not
    zombies, from Linux's /proc."""
    pids = []
    for stat_file in Path('/proc').glob('[0-9]*/stat'):
        try:
            # "pid (command) state ppid pgrp ...": the command may hold spaces and parentheses.
            state, _, pgrp = stat_file.read_text().rsplit(')', 1)[1].split()[:3]
        except OSError:
            continue  # ended while we looked
        if int(pgrp) == group and state != 'Z':
            pids.append(int(stat_file.parent.name))
    return pids


def _pick_ports(with_tls: bool) -> Ports:
    # Ports the kernel just handed out and released: another process could
    # take one before Dovecot binds it, which startup would then report.
    return Ports(imap=_free_port(), pop3=_free_port(),
                 imaps=_free_port() if with_tls else None,
                 pop3s=_free_port() if with_tls else None)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def _answers(port: int, greeting: bytes | None) -> bool:
    """Whether ``port`` accepts a connection and, if given, sends ``greeting`` first."""
    try:
        with socket.create_connection((HOST, port), timeout=1) as sock:
            return greeting is None or sock.recv(len(greeting)) == greeting
    except OSError:
        return False


def _config(directory: Path, ports: Ports, certificate: certs.Certificate | None,
            users: ServiceUsers, mail_owner: pwd.struct_passwd, oauth2: bool = False, idle: bool = True) -> str:
    if certificate:
        tls = f"ssl = yes\nssl_cert = <{certificate.cert_file}\nssl_key = <{certificate.key_file}"
    else:
        tls = "ssl = no"
    mechanisms = "plain login"
    passdbs = f"""passdb {{
  driver = passwd-file
  args = scheme=PLAIN {directory}/passwd
}}"""
    if oauth2:
        mechanisms += " xoauth2 oauthbearer"
        # Each passdb for its own mechanisms: a token is never checked as a
        # password, nor a password sent to the token endpoint.
        passdbs = f"""passdb {{
  driver = oauth2
  mechanisms = xoauth2 oauthbearer
  args = {directory}/oauth2.conf
}}
passdb {{
  driver = passwd-file
  mechanisms = plain login
  args = scheme=PLAIN {directory}/passwd
}}
# Why a token was refused, in dovecot.log.
auth_verbose = yes"""
    return f"""\
# Written by testsupport.dovecot for one test server; includes nothing from /etc.
base_dir = {directory}/run
state_dir = {directory}/state
instance_name = mail_router-{directory.name}
log_path = {directory}/dovecot.log
protocols = imap pop3
listen = {HOST}
{tls}
# The tests log in on the plain ports too, to show what clear text means.
disable_plaintext_auth = no
auth_mechanisms = {mechanisms}
# Refused logins answered after 0.5 s (the least Dovecot waits) instead of 2 s.
auth_failure_delay = 0
default_login_user = {users.login}
default_internal_user = {users.internal}
default_internal_group = {users.internal_group}
first_valid_uid = 1
{"" if idle else NO_IDLE_CAPABILITY}
mail_location = maildir:~/Maildir
mail_fsync = never
namespace inbox {{
  inbox = yes
  separator = /
}}
{passdbs}
userdb {{
  driver = static
  args = uid={mail_owner.pw_uid} gid={mail_owner.pw_gid} home={directory}/home/%u
}}
# No chroot: a user other than root may not; and it protects nothing in a test.
service anvil {{
  chroot =
  # No auth penalty: after a refused login, Dovecot delays the next ones from
  # 127.0.0.1 (4 s after one refusal, measured), and tests refuse logins on purpose.
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
service imap-login {{
  chroot =
{_listeners('imap', ports.imap, ports.imaps)}
}}
service pop3-login {{
  chroot =
{_listeners('pop3', ports.pop3, ports.pop3s)}
}}
"""


def _oauth2_config(introspection_url: str, scope: str | None) -> str:
    """The oauth2 passdb's settings (Dovecot 2.3): RFC 7662 introspection,
    POST token=...; the answer's ``active`` must be true, its ``username`` the
    user logging in (both lowercased), its ``scope`` must hold ``scope``.
    One scope only: Debian 12's Dovecot 2.3.19.1 requires every scope the
    setting lists (its documentation says any one of them)."""
    scope_line = f"scope = {scope}" if scope else "# no scope required"
    return f"""\
# Written by testsupport.dovecot for one test server.
introspection_mode = post
introspection_url = {introspection_url}
username_attribute = username
active_attribute = active
active_value = true
{scope_line}
# A token service that does not answer fails the login within this time.
timeout_msecs = 5000
"""


def _listeners(protocol: str, plain_port: int, tls_port: int | None) -> str:
    listeners = f"  inet_listener {protocol} {{\n    port = {plain_port}\n  }}"
    if tls_port:
        listeners += f"\n  inet_listener {protocol}s {{\n    port = {tls_port}\n    ssl = yes\n  }}"
    return listeners


def _append(conn: imaplib.IMAP4, folder: str, raw: bytes, flags: Iterable[str]) -> int:
    typ, data = conn.append(_quoted(folder), f"({' '.join(flags)})", None, raw)
    _expect_ok(typ, data, 'APPEND')
    return int(APPENDED_UID.search(data[-1])[1])


def _quoted(folder: str) -> str:
    return '"' + folder.replace('\\', '\\\\').replace('"', '\\"') + '"'


def _expect_ok(typ: str, data: list, command: str) -> None:
    if typ != 'OK':
        raise RuntimeError(f"{command} failed: {typ} {data}")
