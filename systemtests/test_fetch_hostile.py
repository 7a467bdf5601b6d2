"""Exactly once across processes and mailboxes: one mail sent to two of our mailboxes,
fetched at the same moment by two servers in two processes (fetch_driver.py), is posted
once; each mailbox's copy ends flagged \\Seen, none is left on the server."""
import uuid

import fetch_driver
import pytest
from test_fetch_concurrency import finish, start_driver, wait_until
from test_fetchmail import make_server, message, posted

MESSAGES = 6
BATCH = 2
FOLDERS = ("INBOX", "Copy")  # two mailboxes of one account: two servers, two locks
LEFT = "left on the server"


@pytest.fixture
def tag():
    return uuid.uuid4().hex[:8]


def skipped_as_duplicates(db, tag):
    return db.query("SELECT count(*) FROM mail_router_log WHERE message_id LIKE %s AND stage = 'duplicate'",
                    [f"<{tag}-%"])[0][0]


def test_two_servers_fetch_the_same_mail_at_once(mail_router_db, dovecot, tag, tmp_path):
    dovecot.create_folder("Copy")
    raws = [message(tag, index) for index in range(MESSAGES)]
    uids = {folder: dovecot.append_all(folder, raws) for folder in FOLDERS}
    with mail_router_db.env() as env:
        env["ir.config_parameter"].set_param("mail.gateway.loop.threshold", 1000)
        servers = [make_server(env, dovecot, folder=folder, batch_size=BATCH) for folder in FOLDERS]
    go = tmp_path / "go"
    with fetch_driver.stopped_at_exit() as drivers:
        started = [start_driver(mail_router_db, server_id, tmp_path, f"server-{server_id}", go, drivers)
                   for server_id in servers]
        wait_until(lambda: all(ready.exists() for _process, ready, _output in started), "ready files", drivers)
        go.touch()  # the barrier: both loaded, both polling for this file every 5 ms
        logs = [finish(process, output) for process, _ready, output in started]

    assert posted(mail_router_db, tag) == {f"<{tag}-{index}@example.com>": 1 for index in range(MESSAGES)}
    assert skipped_as_duplicates(mail_router_db, tag) == MESSAGES, "each mail is the other server's duplicate"
    for folder in FOLDERS:
        flags = dovecot.flags(folder)
        assert all("\\Seen" in flags[uid] for uid in uids[folder]), (folder, flags)
    for log in logs:
        assert LEFT not in log, log
