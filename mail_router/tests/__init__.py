from . import test_fetchmail_server
from . import test_install
from . import test_fetch_tour
from . import test_fetch_jobs
