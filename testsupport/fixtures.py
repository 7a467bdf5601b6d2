"""pytest fixtures around the harness. A suite takes them with
``from testsupport.fixtures import dovecot, ...`` in its conftest.py."""
import pytest

from .dovecot import Dovecot
from .oauth2 import TokenService
from .proxy import Proxy


@pytest.fixture
def dovecot():
    """A fresh Dovecot for each test (about 50 ms): no test sees another's mail."""
    with Dovecot() as server:
        yield server


@pytest.fixture
def dovecot_without_tls():
    """A Dovecot that offers no TLS at all, not even STARTTLS or STLS."""
    with Dovecot(tls='none') as server:
        yield server


@pytest.fixture
def dovecot_wrong_name():
    """A Dovecot whose certificate, signed by its CA, is for wrong.example only."""
    with Dovecot(server_names=('wrong.example',)) as server:
        yield server


@pytest.fixture
def dovecot_self_signed():
    """A Dovecot whose certificate is signed by itself."""
    with Dovecot(tls='self-signed') as server:
        yield server


@pytest.fixture
def imaps_proxy(dovecot):
    """A proxy to ``dovecot``'s IMAPS port that the test can cut."""
    with Proxy(dovecot.ports.imaps) as proxy:
        yield proxy


@pytest.fixture
def token_service():
    """An OAuth2 provider (Microsoft's and Google's token endpoints, and token
    introspection) on 127.0.0.1, with no consent given yet."""
    with TokenService() as service:
        yield service


@pytest.fixture
def dovecot_oauth2(token_service):
    """A Dovecot that takes XOAUTH2 and OAUTHBEARER, checking each token with
    ``token_service``, as Microsoft 365's IMAP server (its IMAP scope)."""
    with Dovecot(oauth2=token_service.introspection_url) as server:
        yield server
