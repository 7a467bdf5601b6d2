from . import test_fetchmail_server
from . import test_install
