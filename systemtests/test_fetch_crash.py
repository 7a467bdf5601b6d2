"""Crash safety: a fetch SIGKILLed at any point, then run again, leaves every message on
its record exactly once, the failing one in the quarantine once, and the server's flags
set (IMAP \\Seen) or the maildrop empty (POP3). Nothing is flagged before its commit.

The fetch runs in a subprocess (fetch_driver.py) that kills itself at the k-th time it
gets to a point: after the FETCH, before or after a commit, before or after the flag.
"""
import time
import uuid

import fetch_driver
import pytest
from test_fetchmail import BLACKLIST, make_server, message, posted

MESSAGES = 5
FAILING = 2  # its processing raises (mail.blacklist refuses a From without address): quarantined
BATCH = 2  # 5 messages: batches of 2, 2 and 1, so a kill can fall mid-batch and between batches
KILLED = -9  # Popen's returncode for a process ended by SIGKILL
DRIVER_TIMEOUT = 120
BACKEND_TIMEOUT = 10

# Messages committed when the fetch dies the k-th time at a point. Each batch is one
# transaction. IMAP fetches and flags a batch at once; POP3 retrieves message by message,
# deletes a batch once it is committed, and QUITs after each batch.
IMAP_COMMITTED = {
    "after_fetch": lambda k: (k - 1) * BATCH,
    "before_commit": lambda k: min((k - 1) * BATCH, MESSAGES),
    "after_commit": lambda k: min(k * BATCH, MESSAGES),
    "before_flag": lambda k: min(k * BATCH, MESSAGES),
    "after_flag": lambda k: min(k * BATCH, MESSAGES),
}
POP3_COMMITTED = {
    "after_fetch": lambda k: (k - 1) // BATCH * BATCH,
    "before_commit": lambda k: min((k - 1) * BATCH, MESSAGES),
    "after_commit": lambda k: min(k * BATCH, MESSAGES),
    "before_flag": lambda k: min(-(-k // BATCH) * BATCH, MESSAGES),
    "after_flag": lambda k: min(-(-k // BATCH) * BATCH, MESSAGES),
    "after_quit": lambda k: min(k * BATCH, MESSAGES),
}
IMAP_KILLS = [
    ("after_fetch", 1), ("after_fetch", 2),
    ("before_commit", 1), ("before_commit", 2),  # the 2nd holds the quarantined message
    ("before_commit", 4),  # the run's own last commit, after every batch
    ("after_commit", 1), ("after_commit", 3),  # after the first batch, after the last
    ("before_flag", 1), ("before_flag", 2),
    ("after_flag", 1), ("after_flag", 3),  # after the last batch's flag
]
POP3_KILLS = [
    ("after_fetch", 1), ("after_fetch", 3),
    ("before_commit", 1), ("before_commit", 2),
    ("after_commit", 1), ("after_commit", 3),
    ("before_flag", 1), ("before_flag", 3),
    ("after_flag", 2),  # deleted, but only QUIT makes it so
    ("after_quit", 1), ("after_quit", 2),
]

@pytest.fixture
def tag():
    return uuid.uuid4().hex[:8]


def imap_cases():
    """Each kill, on a first fetch (of the unseen messages) and on a fetch by UID (the folder
    was fetched before: its UIDVALIDITY and last UID are known)."""
    for by_uid in (False, True):
        for point, occurrence in IMAP_KILLS:
            mode = "by_uid" if by_uid else "first_fetch"
            yield pytest.param(point, occurrence, by_uid, id=f"{point}-{occurrence}-{mode}")


def message_id(tag, index):
    return f"<{tag}-{index}@example.com>"


def append_messages(dovecot, tag):
    """Append the test's messages; returns {UID: Message-ID}."""
    raws = [message(tag, index, failing=index == FAILING) for index in range(MESSAGES)]
    uids = dovecot.append_all("INBOX", raws)
    return {uid: message_id(tag, index) for index, uid in enumerate(uids)}


def create_server(db, dovecot, **values):
    with db.env() as env:
        # all tests here share the database and their senders: stock would soon throttle them
        env["ir.config_parameter"].set_param("mail.gateway.loop.threshold", 1000)
        return make_server(env, dovecot, model=BLACKLIST, batch_size=BATCH, **values)


def fetch(db, server_id):
    """A fetch in this process, that raises when it fails."""
    with db.env() as env:
        env["fetchmail.server"].browse(server_id).fetch_mail()


def fetch_killed(db, server_id, output, point, occurrence):
    """Run a fetch in a subprocess that kills itself at ``point``; check that it did."""
    process = fetch_driver.start(db, server_id, output, kill_at=point, occurrence=occurrence)
    try:
        returncode = process.wait(timeout=DRIVER_TIMEOUT)
    finally:
        process.kill()
        process.wait()
    assert returncode == KILLED, f"the fetch was not killed at {point} #{occurrence}:\n{output.read_text()}"
    wait_until_sessions_end(db, process.pid)


def wait_until_sessions_end(db, pid):
    """PostgreSQL ends a killed client's sessions, rolling back and releasing its locks
    (the server's advisory lock among them), only once it notices the closed socket."""
    deadline = time.monotonic() + BACKEND_TIMEOUT
    while db.query("SELECT count(*) FROM pg_stat_activity WHERE application_name = %s", [f"odoo-{pid}"])[0][0]:
        assert time.monotonic() < deadline, f"the database sessions of killed process {pid} are still there"
        time.sleep(0.01)


def ledger(db, tag):
    """The Message-IDs of ``tag`` the database has committed an outcome for (posted or
    quarantined): the routing log, without its 'duplicate' entries."""
    rows = db.query("SELECT DISTINCT message_id FROM mail_router_log WHERE message_id LIKE %s"
                    " AND stage != 'duplicate'", [f"<{tag}-%"])
    return {row[0] for row in rows}


def quarantined(db, tag):
    """{Message-ID: entries in the quarantine} for the messages of ``tag``."""
    return dict(db.query("SELECT message_id, count(*) FROM mail_router_quarantine WHERE message_id LIKE %s"
                         " GROUP BY message_id", [f"<{tag}-%"]))


def seen(dovecot, message_ids):
    """The Message-IDs of the messages flagged \\Seen on the server."""
    return {message_ids[uid] for uid, flags in dovecot.flags("INBOX").items() if "\\Seen" in flags}


def deleted(dovecot, message_ids):
    """The Message-IDs of the messages no longer in the maildrop."""
    return {message_ids[uid] for uid in set(message_ids) - set(dovecot.flags("INBOX"))}


def assert_each_once(db, tag):
    expected = {message_id(tag, index): 1 for index in range(MESSAGES) if index != FAILING}
    assert posted(db, tag) == expected
    assert quarantined(db, tag) == {message_id(tag, FAILING): 1}


@pytest.mark.parametrize(("point", "occurrence", "by_uid"), imap_cases())
def test_imap_fetch_killed_then_run_again(mail_router_db, dovecot, tag, tmp_path, point, occurrence, by_uid):
    server_id = create_server(mail_router_db, dovecot)
    if by_uid:
        fetch(mail_router_db, server_id)
    message_ids = append_messages(dovecot, tag)

    fetch_killed(mail_router_db, server_id, tmp_path / "driver.log", point, occurrence)
    committed = ledger(mail_router_db, tag)
    assert len(committed) == IMAP_COMMITTED[point](occurrence)
    assert seen(dovecot, message_ids) <= committed, "flagged \\Seen before its commit"

    fetch(mail_router_db, server_id)
    assert_each_once(mail_router_db, tag)
    assert seen(dovecot, message_ids) == set(message_ids.values())


@pytest.mark.parametrize(("point", "occurrence"), POP3_KILLS)
def test_pop3_fetch_killed_then_run_again(mail_router_db, dovecot, tag, tmp_path, point, occurrence):
    message_ids = append_messages(dovecot, tag)
    server_id = create_server(mail_router_db, dovecot, server_type="pop", port=dovecot.ports.pop3s)

    fetch_killed(mail_router_db, server_id, tmp_path / "driver.log", point, occurrence)
    committed = ledger(mail_router_db, tag)
    assert len(committed) == POP3_COMMITTED[point](occurrence)
    assert deleted(dovecot, message_ids) <= committed, "deleted before its commit"

    fetch(mail_router_db, server_id)
    assert_each_once(mail_router_db, tag)
    assert dovecot.flags("INBOX") == {}, "the maildrop is not empty"
