"""Two fetches at once on one server (stock's "Fetch Now" during the cron, odoo/odoo#7380):
one takes the server's lock and imports every message once, the other skips the server
and says so. Each fetch runs in a process of its own (fetch_driver.py)."""
import time
import uuid

import fetch_driver
import pytest
from test_fetchmail import make_server, message, posted

MESSAGES = 6
BATCH = 2  # three FETCHes, with commits in between
# Seconds each fetch sleeps after a FETCH, lock held: the run that has the lock is still at
# it when the other tries, however the two are scheduled.
SLOW = 1.0
SKIPPED = "is being fetched by another run: skipped"
FETCHED = "fetchmail: fetched "  # "... 6 email(s) on imap server ...": the end of a fetch
FETCHED_ALL = f"{FETCHED}{MESSAGES} email(s)"
READY_TIMEOUT = 60  # loading Odoo takes a few seconds; more on a busy machine
DRIVER_TIMEOUT = 60


@pytest.fixture
def tag():
    return uuid.uuid4().hex[:8]


@pytest.fixture
def drivers():
    """The driver processes a test starts: killed and waited for at the end, whatever happened."""
    with fetch_driver.stopped_at_exit() as started:
        yield started


def prepare(db, dovecot, tag):
    """An IMAP server with MESSAGES new messages; returns (server id, their UIDs)."""
    uids = dovecot.append_all("INBOX", [message(tag, index) for index in range(MESSAGES)])
    with db.env() as env:
        return make_server(env, dovecot, batch_size=BATCH), uids


def start_driver(db, server_id, directory, name, go_file, drivers):
    """A driver for ``server_id`` that loads Odoo, creates its ready file, then waits for
    ``go_file`` before fetching; returns (process, ready file, output file)."""
    ready, output = directory / f"{name}.ready", directory / f"{name}.log"
    process = fetch_driver.start(db, server_id, output, slow=SLOW, ready_file=ready, go_file=go_file)
    drivers.append(process)
    return process, ready, output


def wait_until(condition, what, processes):
    """Until ``condition()``; fails at once if a driver has ended meanwhile."""
    deadline = time.monotonic() + READY_TIMEOUT
    while not condition():
        for process in processes:
            assert process.poll() is None, f"a driver exited ({process.returncode}) before {what}"
        assert time.monotonic() < deadline, f"no {what} within {READY_TIMEOUT} s"
        time.sleep(0.01)


def finish(process, output):
    """Wait for a driver; returns what it logged, once sure that its fetch_mail() returned."""
    returncode = process.wait(timeout=DRIVER_TIMEOUT)
    log = output.read_text()
    assert returncode == 0, f"the driver exited {returncode}:\n{log}"
    return log


def committed_count(db, tag):
    rows = db.query("SELECT count(DISTINCT message_id) FROM mail_router_log WHERE message_id LIKE %s"
                    " AND stage != 'duplicate'", [f"<{tag}-%"])
    return rows[0][0]


def assert_imported_once_and_seen(db, dovecot, tag, uids):
    assert posted(db, tag) == {f"<{tag}-{index}@example.com>": 1 for index in range(MESSAGES)}
    flags = dovecot.flags("INBOX")
    assert all("\\Seen" in flags[uid] for uid in uids), flags


def test_two_fetches_released_together(mail_router_db, dovecot, tag, tmp_path, drivers):
    """Both take the lock at the same instant: only one may get it."""
    server_id, uids = prepare(mail_router_db, dovecot, tag)
    go = tmp_path / "go"
    started = [start_driver(mail_router_db, server_id, tmp_path, name, go, drivers) for name in ("a", "b")]
    processes = [process for process, _ready, _output in started]
    wait_until(lambda: all(ready.exists() for _process, ready, _output in started), "ready files", processes)
    go.touch()  # the barrier: both are loaded and polling for this file every 5 ms

    logs = sorted((finish(process, output) for process, _ready, output in started), key=lambda log: SKIPPED in log)
    fetched, skipped = logs
    assert SKIPPED not in fetched and FETCHED_ALL in fetched, fetched
    assert SKIPPED in skipped and FETCHED not in skipped, skipped
    assert_imported_once_and_seen(mail_router_db, dovecot, tag, uids)


def test_a_fetch_started_while_another_commits_skips(mail_router_db, dovecot, tag, tmp_path, drivers):
    """The second starts once the first has committed a message: a lock that a commit
    released (a row lock, a transaction-level advisory lock) would let it in."""
    server_id, uids = prepare(mail_router_db, dovecot, tag)
    first, first_ready, first_output = start_driver(mail_router_db, server_id, tmp_path, "first",
                                                    tmp_path / "go-first", drivers)
    second, second_ready, second_output = start_driver(mail_router_db, server_id, tmp_path, "second",
                                                       tmp_path / "go-second", drivers)
    wait_until(lambda: first_ready.exists() and second_ready.exists(), "ready files", [first, second])
    (tmp_path / "go-first").touch()
    wait_until(lambda: committed_count(mail_router_db, tag) > 0, "message committed by the first", [first])
    (tmp_path / "go-second").touch()

    skipped = finish(second, second_output)
    assert first.poll() is None, "the first fetch ended before the second started: no overlap"
    fetched = finish(first, first_output)
    assert SKIPPED in skipped and FETCHED not in skipped, skipped
    assert SKIPPED not in fetched and FETCHED_ALL in fetched, fetched
    assert_imported_once_and_seen(mail_router_db, dovecot, tag, uids)
