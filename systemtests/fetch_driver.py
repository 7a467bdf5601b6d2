"""Run fetch_mail() on one fetchmail.server in a process of its own, for the system
tests that kill a fetch (test_fetch_crash) or run two at once (test_fetch_concurrency).
The tests call ``start()``; the process runs ``main()``:

    python fetch_driver.py --addons-path=... --data-dir=... --db_host=... --database=NAME

The arguments are Odoo's; what to do comes from the environment:

    FETCH_DRIVER_SERVER      id of the fetchmail.server to fetch (required)
    FETCH_DRIVER_KILL_AT     a point of POINTS: the process SIGKILLs itself there...
    FETCH_DRIVER_OCCURRENCE  ...the n-th time it gets there (default 1)
    FETCH_DRIVER_SLOW        seconds to sleep after each fetch of raw mail (default 0)
    FETCH_DRIVER_READY_FILE  created once Odoo is loaded, before waiting for the go file
    FETCH_DRIVER_GO_FILE     fetch only once this file exists: a barrier for several drivers

The production code has no test hooks: the points are module functions of the
fetching layer and the cursor's commit, wrapped here before fetch_mail() runs.
"""
import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
from odoo_cli import ODOO_SRC, addons_path

# Where a fetch can die: (module, function, "before" or "after" the call) for each
# protocol; the commits counted are the fetch cursor's once mail came in.
IMAP = "odoo.addons.mail_router.fetching.imap"
POP3 = "odoo.addons.mail_router.fetching.pop3"
# the run's notifications, rendered once it is done (a method of the mail.mail model's class)
NOTIFYING = "odoo.addons.mail_router.models.mail_mail:MailMail"
CURSOR = "the fetch's cursor"
RAW_FETCHES = [(IMAP, "fetch_raw"), (POP3, "retrieve")]
POINTS = {
    "after_fetch": [(IMAP, "fetch_raw", "after"), (POP3, "retrieve", "after")],
    "before_commit": [(CURSOR, "commit", "before")],
    "after_commit": [(CURSOR, "commit", "after")],
    "before_flag": [(IMAP, "mark_seen", "before"), (POP3, "delete", "before")],
    "after_flag": [(IMAP, "mark_seen", "after"), (POP3, "delete", "after")],
    "after_quit": [(POP3, "quit", "after")],  # POP3 deletes at QUIT only
    "before_notifying": [(NOTIFYING, "_mail_router_render", "before")],  # every mail committed
}
GO_FILE_POLL_SECONDS = 0.005
GO_FILE_TIMEOUT_SECONDS = 60
# Its INFO lines ("... is being fetched by another run: skipped") are kept; others' are not.
FETCH_LOGGER = "odoo.addons.mail_router.fetchmail"


def start(db, server_id, output, *, kill_at=None, occurrence=1, slow=0, ready_file=None, go_file=None):
    """Start a driver fetching ``server_id`` on ``db`` (conftest's OdooDatabase); what it
    prints and logs goes to the file ``output``. The caller waits for it, or kills it."""
    command = [sys.executable, __file__, f"--addons-path={addons_path()}", f"--data-dir={db.data_dir}",
               *db.database.odoo_args(), f"--database={db.name}", "--log-level=warn",
               f"--log-handler={FETCH_LOGGER}:INFO"]
    settings = {"SERVER": server_id, "KILL_AT": kill_at, "OCCURRENCE": occurrence, "SLOW": slow,
                "READY_FILE": ready_file, "GO_FILE": go_file}
    env = dict(os.environ, **{f"FETCH_DRIVER_{name}": str(value)
                              for name, value in settings.items() if value is not None})
    with open(output, "w") as out:
        return subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)


@contextlib.contextmanager
def stopped_at_exit():
    """A list for the drivers started in the block: each is killed and waited for at the
    end, whatever happened."""
    started = []
    try:
        yield started
    finally:
        for process in started:
            process.kill()
            process.wait()


class Countdown:
    """SIGKILL this process at the n-th tick: no cleanup, no rollback, no LOGOUT or QUIT,
    as when the machine loses power or the OOM killer strikes."""

    def __init__(self, occurrence):
        self.left = occurrence

    def tick(self):
        self.left -= 1
        if self.left == 0:
            sys.stdout.flush()
            sys.stderr.flush()
            os.kill(os.getpid(), signal.SIGKILL)


def wrap(owner, name, before=None, after=None):
    """Replace ``owner.name`` by a function calling ``before(*args)`` and ``after(*args)``
    around the original."""
    original = getattr(owner, name)

    def wrapper(*args, **kwargs):
        if before:
            before(*args)
        result = original(*args, **kwargs)
        if after:
            after(*args)
        return result

    setattr(owner, name, wrapper)


def install_kill(point, occurrence, fetch_cursor):
    countdown = Countdown(occurrence)
    mail_fetched = []

    def on_fetch_cursor(cursor, *_args):
        # Only the commits of the fetch's cursor once mail came in count: not the commit
        # of the caller's work before the fetch, nor bus notifications on cursors of their own.
        if cursor is fetch_cursor and mail_fetched:
            countdown.tick()

    def always(*_args):
        countdown.tick()

    def note_mail_fetched(*_args):
        mail_fetched.append(True)

    for module_name, function, when in POINTS[point]:
        if module_name == CURSOR:
            wrap(type(fetch_cursor), function, **{when: on_fetch_cursor})
            for fetching_module, fetch in RAW_FETCHES:
                wrap(sys.modules[fetching_module], fetch, after=note_mail_fetched)
        else:
            module_path, _colon, class_name = module_name.partition(":")
            owner = sys.modules[module_path]
            wrap(getattr(owner, class_name) if class_name else owner, function, **{when: always})


def install_slowdown(seconds):
    """Sleep after each fetch of raw mail: a run then holds its server long enough for
    another run to find it locked."""

    def sleep(*_args):
        time.sleep(seconds)

    for module_name, function in RAW_FETCHES:
        wrap(sys.modules[module_name], function, after=sleep)


def wait_for(path):
    deadline = time.monotonic() + GO_FILE_TIMEOUT_SECONDS
    while not os.path.exists(path):
        if time.monotonic() > deadline:
            sys.exit(f"fetch_driver: {path} did not appear within {GO_FILE_TIMEOUT_SECONDS} s")
        time.sleep(GO_FILE_POLL_SECONDS)


def main():
    sys.path.insert(0, str(ODOO_SRC))
    import odoo  # importable only once ODOO_SRC is on the path; and not in the tests' process

    odoo.tools.config.parse_config(sys.argv[1:], setup_logging=True)
    registry = odoo.modules.registry.Registry(odoo.tools.config["db_name"])
    with registry.cursor() as cr:
        env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})
        server = env["fetchmail.server"].browse(int(os.environ["FETCH_DRIVER_SERVER"]))
        if os.environ.get("FETCH_DRIVER_KILL_AT"):
            install_kill(os.environ["FETCH_DRIVER_KILL_AT"], int(os.environ.get("FETCH_DRIVER_OCCURRENCE", 1)), cr)
        if float(os.environ.get("FETCH_DRIVER_SLOW", 0)):
            install_slowdown(float(os.environ["FETCH_DRIVER_SLOW"]))
        if os.environ.get("FETCH_DRIVER_READY_FILE"):
            Path(os.environ["FETCH_DRIVER_READY_FILE"]).touch()
        if os.environ.get("FETCH_DRIVER_GO_FILE"):
            wait_for(os.environ["FETCH_DRIVER_GO_FILE"])
        server.fetch_mail()
    print("fetch_driver: fetch_mail() returned", flush=True)


if __name__ == "__main__":
    main()
