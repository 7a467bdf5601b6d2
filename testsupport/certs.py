"""Certificates for test servers, made with the openssl command line (the
``cryptography`` package is not installed everywhere the tests run)."""
import ipaddress
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

OPENSSL = shutil.which('openssl') or '/usr/bin/openssl'
DAYS_VALID = '2'
# P-256 keys are made in milliseconds, RSA keys in a noticeable fraction of a second.
KEY_OPTIONS = ('-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes')


@dataclass(frozen=True)
class Certificate:
    cert_file: Path  # PEM certificate
    key_file: Path   # PEM private key, unencrypted


def make_ca(directory: Path, stem: str = 'ca') -> Certificate:
    """A CA that tests trust explicitly, through ``ca_file``."""
    return _make(directory, stem, 'mail_router test CA', (
        'basicConstraints=critical,CA:TRUE',
        'keyUsage=critical,keyCertSign,cRLSign',
    ))


def make_server_certificate(directory: Path, ca: Certificate, names: Sequence[str],
                            stem: str = 'server') -> Certificate:
    """A server certificate signed by ``ca`` for host names and IP addresses ``names``."""
    return _make(directory, stem, names[0], _server_extensions(names), signer=ca)


def make_self_signed(directory: Path, names: Sequence[str], stem: str = 'self-signed') -> Certificate:
    """A server certificate signed by itself: trusted by no one unless named as the CA."""
    return _make(directory, stem, names[0], _server_extensions(names))


def _server_extensions(names: Sequence[str]) -> tuple[str, ...]:
    return (
        'subjectAltName=' + ','.join(map(_alt_name, names)),
        'basicConstraints=critical,CA:FALSE',
        'keyUsage=critical,digitalSignature',
        'extendedKeyUsage=serverAuth',
    )


def _alt_name(name: str) -> str:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return f'DNS:{name}'
    return f'IP:{name}'


def _make(directory: Path, stem: str, common_name: str, extensions: Sequence[str],
          signer: Certificate | None = None) -> Certificate:
    certificate = Certificate(Path(directory) / f'{stem}.crt', Path(directory) / f'{stem}.key')
    command = [OPENSSL, 'req', '-x509', *KEY_OPTIONS, '-days', DAYS_VALID,
               '-subj', f'/CN={common_name}',
               '-keyout', str(certificate.key_file), '-out', str(certificate.cert_file)]
    for extension in extensions:
        command += ['-addext', extension]
    if signer:
        command += ['-CA', str(signer.cert_file), '-CAkey', str(signer.key_file)]
    _run(command)
    return certificate


def _run(command: list[str]) -> None:
    if not Path(command[0]).exists():
        raise RuntimeError(f"{command[0]} not found: install the Debian package openssl")
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{result.stderr}")
