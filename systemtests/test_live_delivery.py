"""Live delivery with real Odoo server processes, a real Dovecot and Odoo's own scheduler:
push (IMAP IDLE) makes a mailbox's fetch job due when mail arrives, each mailbox is
fetched by its own job, several Odoo servers share the mailboxes, and a listener that
dies or a Dovecot that restarts loses nothing."""
import uuid

import pytest
from odoo_servers import running, wait_for
from test_fetchmail import make_server, message, posted

from testsupport.dovecot import Dovecot

POLL_MINUTES = 60  # polling that never comes within a test: only push can explain a fetch


@pytest.fixture
def tag():
    return uuid.uuid4().hex[:8]


@pytest.fixture
def quiet_db(mail_router_db):
    """The module's database with no server of earlier tests (their Dovecots are gone)."""
    with mail_router_db.env() as env:
        env["fetchmail.server"].search([]).active = False
        env["ir.config_parameter"].set_param("mail.gateway.loop.threshold", 10000)
    return mail_router_db


def server_for(db, dovecot, **values):
    with db.env() as env:
        return make_server(env, dovecot, poll_interval=POLL_MINUTES, **values)


def listener(db, server_id):
    """(state, owner, last new mail) of the listener of ``server_id``, or None."""
    rows = db.query("SELECT state, owner, last_event FROM mail_router_listener WHERE server_id = %s", [server_id])
    return rows[0] if rows else None


def listening(db, server_id, owner=None):
    status = listener(db, server_id)
    return status and status[0] == "listening" and (owner is None or status[1] == owner)


def first_run_done(db, server_id):
    """The job's first run (at its creation) is over: what comes later is push's."""
    return db.query("SELECT count(*) FROM mail_router_fetch_run WHERE server_id = %s", [server_id])[0][0]


@pytest.mark.parametrize("workers", [0, 2], ids=["threaded", "prefork"])
def test_a_reply_appended_is_fetched_by_push(quiet_db, dovecot, tag, tmp_path, workers):
    server_id = server_for(quiet_db, dovecot)
    with running(quiet_db, tmp_path, workers=workers) as [odoo]:
        # prefork: the listener is a process of its own beside the HTTP and cron workers
        owner = odoo.owner if not workers else None
        wait_for(lambda: listening(quiet_db, server_id, owner), "the listener waits on the mailbox")
        if workers:
            assert listener(quiet_db, server_id)[1] != odoo.owner, "not in the prefork server's own process"
        wait_for(lambda: first_run_done(quiet_db, server_id), "the job's first run")
        dovecot.append("INBOX", message(tag, 1))
        wait_for(lambda: posted(quiet_db, tag), f"the mail on its record (odoo log:\n{odoo.tail()})")
    assert posted(quiet_db, tag) == {f"<{tag}-1@example.com>": 1}
    assert listener(quiet_db, server_id)[2], "the server announced it"
    [(arrived, delay)] = quiet_db.query("SELECT arrived_date, delay_ms FROM mail_router_log WHERE message_id = %s",
                                        [f"<{tag}-1@example.com>"])
    assert arrived and delay >= 0, "the log dates its arrival and its delay"
    assert dovecot.flags("INBOX") == {1: {"\\Seen"}}


def test_a_server_without_idle_is_polled(quiet_db, tag, tmp_path):
    with Dovecot(idle=False) as dovecot:
        server_id = server_for(quiet_db, dovecot)
        with running(quiet_db, tmp_path) as [odoo]:
            wait_for(lambda: (listener(quiet_db, server_id) or ("",))[0] == "polling", "the listener gives up")
            wait_for(lambda: first_run_done(quiet_db, server_id), "the job's first run")
            dovecot.append("INBOX", message(tag, 1))
            with quiet_db.env() as env:  # its polling interval has come
                env["fetchmail.server"].browse(server_id).mail_router_cron_id._trigger()
            wait_for(lambda: posted(quiet_db, tag), f"the mail on its record (odoo log:\n{odoo.tail()})")
            with quiet_db.env() as env:
                server = env["fetchmail.server"].browse(server_id)
                assert server.delivery == "polling"
                assert "does not offer IMAP IDLE" in server.delivery_note
        assert not listener(quiet_db, server_id)[2], "no push"


def test_a_flooded_mailbox_does_not_delay_another(quiet_db, dovecot, tag, tmp_path):
    """300 mails wait in one mailbox; a reply to another lands while they are fetched, with
    one cron thread: the flood's job gives it back after each budget (Odoo's progress API
    would run it again up to ten times first)."""
    with quiet_db.env() as env:  # a short budget: the flood's job must stop and go on several times
        env["ir.config_parameter"].set_param("mail_router.fetch_job_seconds", 1)
    with Dovecot() as flooded:
        flooded.append_all("INBOX", [message(f"{tag}f", n) for n in range(300)])
        flood_id = server_for(quiet_db, flooded)
        quiet_id = server_for(quiet_db, dovecot)
        with running(quiet_db, tmp_path, cron_threads=1) as [odoo]:
            wait_for(lambda: posted(quiet_db, f"{tag}f"), "the flood's fetch begins")
            wait_for(lambda: listening(quiet_db, quiet_id), "the listener waits on the quiet mailbox")
            dovecot.append("INBOX", message(tag, 1))
            wait_for(lambda: posted(quiet_db, tag), f"the reply on its record (odoo log:\n{odoo.tail()})")
            flood_done = len(posted(quiet_db, f"{tag}f"))
            assert flood_done < 300, "the reply did not wait for the flood"
            wait_for(lambda: len(posted(quiet_db, f"{tag}f")) == 300, "the flood fetched", seconds=300)
    assert set(posted(quiet_db, f"{tag}f").values()) == {1}
    runs = quiet_db.query("SELECT count(*) FROM mail_router_fetch_run WHERE server_id = %s AND more", [flood_id])
    assert runs[0][0] >= 1, "the flood's job stopped at its budget and went on"
    with quiet_db.env() as env:
        env["ir.config_parameter"].set_param("mail_router.fetch_job_seconds", "")


def test_two_odoo_servers_share_the_mailboxes_each_mail_once(quiet_db, tag, tmp_path):
    with Dovecot() as box_1, Dovecot() as box_2, Dovecot() as box_3, Dovecot() as box_4:
        boxes = [box_1, box_2, box_3, box_4]
        for number, box in enumerate(boxes):
            box.append_all("INBOX", [message(f"{tag}{number}", n) for n in range(40)])
        server_ids = [server_for(quiet_db, box) for box in boxes]
        with running(quiet_db, tmp_path, count=2, cron_threads=1) as odoos:
            wait_for(lambda: all(len(posted(quiet_db, f"{tag}{number}")) == 40 for number in range(4)),
                     "every mailbox fetched", seconds=300)
            holders = {row[0] for row in quiet_db.query(
                "SELECT DISTINCT owner FROM mail_router_listener WHERE server_id = ANY(%s)", [server_ids])}
    for number in range(4):
        assert set(posted(quiet_db, f"{tag}{number}").values()) == {1}, "each mail once"
    workers = {row[0] for row in quiet_db.query(
        "SELECT DISTINCT worker FROM mail_router_fetch_run WHERE server_id = ANY(%s) AND fetched > 0", [server_ids])}
    assert workers == {odoo.owner for odoo in odoos}, "both Odoo servers fetched"
    assert holders <= {odoo.owner for odoo in odoos}


def test_the_listener_survives_a_dovecot_restart_and_its_process_death(quiet_db, dovecot, tag, tmp_path):
    server_id = server_for(quiet_db, dovecot)
    with running(quiet_db, tmp_path) as [first]:
        wait_for(lambda: listening(quiet_db, server_id, first.owner), "the first listener")
        wait_for(lambda: first_run_done(quiet_db, server_id), "the job's first run")
        dovecot.restart()  # every session cut
        dovecot.append("INBOX", message(tag, 1))
        wait_for(lambda: posted(quiet_db, tag), f"mail after the restart (odoo log:\n{first.tail()})")
        (tmp_path / "second").mkdir()
        with running(quiet_db, tmp_path / "second") as [second]:
            first.kill()
            wait_for(lambda: listening(quiet_db, server_id, second.owner), "the second listener takes over")
            dovecot.append("INBOX", message(tag, 2))
            wait_for(lambda: len(posted(quiet_db, tag)) == 2, f"mail after the takeover (log:\n{second.tail()})")
    assert posted(quiet_db, tag) == {f"<{tag}-1@example.com>": 1, f"<{tag}-2@example.com>": 1}
