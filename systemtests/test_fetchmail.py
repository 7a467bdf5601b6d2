"""fetchmail.server against a real Dovecot, on a committed database: what arrives in
the mailbox ends on a record exactly once, and is flagged only after its commit."""
import base64
import logging
import time
import uuid

import pytest

from testsupport.messages import sample_message

PARTNER = "res.partner"
BLACKLIST = "mail.blacklist"  # its message_new raises (UserError) for a sender with no address
FETCH_LOGGER = "odoo.addons.mail_router.fetchmail"


def message(tag, index, failing=False):
    """A sample message with a Message-ID unique to ``tag`` (the ledger spans the database);
    ``failing``: a From without address, on which mail.blacklist's message_new raises."""
    raw = sample_message(index).replace(b"<test-%d@example.com>" % index, f"<{tag}-{index}@example.com>".encode())
    if failing:
        raw = raw.replace(b"From: Sender %d <sender%d@example.com>" % (index, index), b"From: no address at all")
    return raw


@pytest.fixture
def tag():
    return uuid.uuid4().hex[:8]


def make_server(env, dovecot, *, model=PARTNER, **values):
    return env["fetchmail.server"].create({
        "name": f"Dovecot {uuid.uuid4().hex[:6]}",
        "server_type": "imap",
        "server": dovecot.host,
        "port": dovecot.ports.imaps,
        "connection_security": "ssl",
        "ca_file": str(dovecot.ca_file),
        "user": dovecot.user,
        "password": dovecot.password,
        "object_id": env["ir.model"]._get_id(model),
        "state": "done",
        **values,
    }).id


def fetch(db, server_id):
    with db.env() as env:
        env["fetchmail.server"].browse(server_id).fetch_mail(raise_exception=False)


def posted(db, tag):
    """{Message-ID: times it is stored on a record} for the messages of ``tag``."""
    rows = db.query("SELECT message_id, count(*) FROM mail_message WHERE message_id LIKE %s"
                    " AND model IS NOT NULL GROUP BY message_id", [f"<{tag}-%"])
    return dict(rows)


def test_new_mail_is_routed_then_flagged(mail_router_db, dovecot, tag):
    uids = dovecot.append_all("INBOX", [message(tag, n) for n in range(3)])
    with mail_router_db.env() as env:
        server_id = make_server(env, dovecot, batch_size=2)
    fetch(mail_router_db, server_id)
    assert posted(mail_router_db, tag) == {f"<{tag}-{n}@example.com>": 1 for n in range(3)}
    assert all("\\Seen" in dovecot.flags("INBOX")[uid] for uid in uids)
    [(last_uid,)] = mail_router_db.query(
        "SELECT last_uid FROM mail_router_mailbox_state WHERE server_id = %s", [server_id])
    assert last_uid == uids[-1]


def test_mail_read_in_webmail_first_is_still_imported(mail_router_db, dovecot, tag):
    dovecot.append("INBOX", message(tag, 0))
    with mail_router_db.env() as env:
        server_id = make_server(env, dovecot)
    fetch(mail_router_db, server_id)
    read_first = dovecot.append("INBOX", message(tag, 1), flags=["\\Seen"])
    fetch(mail_router_db, server_id)
    assert posted(mail_router_db, tag) == {f"<{tag}-0@example.com>": 1, f"<{tag}-1@example.com>": 1}
    assert "\\Seen" in dovecot.flags("INBOX")[read_first]


def test_another_folder(mail_router_db, dovecot, tag):
    dovecot.create_folder("Orders")
    dovecot.append("Orders", message(tag, 0))
    dovecot.append("INBOX", message(tag, 1))
    with mail_router_db.env() as env:
        server_id = make_server(env, dovecot, folder="Orders")
    fetch(mail_router_db, server_id)
    assert posted(mail_router_db, tag) == {f"<{tag}-0@example.com>": 1}
    assert dovecot.flags("INBOX") == {1: set()}


def test_failing_message_is_quarantined_the_others_go_through(mail_router_db, dovecot, tag):
    raws = [message(tag, 0), message(tag, 1, failing=True), message(tag, 2)]
    uids = dovecot.append_all("INBOX", raws)
    with mail_router_db.env() as env:
        server_id = make_server(env, dovecot, model=BLACKLIST)
    fetch(mail_router_db, server_id)
    assert posted(mail_router_db, tag) == {f"<{tag}-0@example.com>": 1, f"<{tag}-2@example.com>": 1}
    with mail_router_db.env() as env:
        entry = env["mail.router.quarantine"].search([("message_id", "=", f"<{tag}-1@example.com>")])
        assert entry.fetchmail_server_id.id == server_id
        assert "processing failed" in entry.reason
        assert base64.b64decode(entry.with_context(bin_size=False).raw) == raws[1]
    # kept safe in the database, so flagged on the server like the others
    assert all("\\Seen" in flags for flags in dovecot.flags("INBOX").values())
    assert set(dovecot.flags("INBOX")) == set(uids)


def test_duplicate_delivery_is_posted_once(mail_router_db, dovecot, tag):
    dovecot.append_all("INBOX", [message(tag, 0), message(tag, 0)])
    with mail_router_db.env() as env:
        server_id = make_server(env, dovecot)
    fetch(mail_router_db, server_id)
    assert posted(mail_router_db, tag) == {f"<{tag}-0@example.com>": 1}
    assert all("\\Seen" in flags for flags in dovecot.flags("INBOX").values())


def test_uidvalidity_change_starts_over_without_duplicates(mail_router_db, dovecot, tag):
    dovecot.append_all("INBOX", [message(tag, 0), message(tag, 1)])
    with mail_router_db.env() as env:
        server_id = make_server(env, dovecot)
    fetch(mail_router_db, server_id)
    dovecot.append("INBOX", message(tag, 2))
    new_validity = dovecot.change_uidvalidity("INBOX")
    fetch(mail_router_db, server_id)
    assert posted(mail_router_db, tag) == {f"<{tag}-{n}@example.com>": 1 for n in range(3)}
    [(validity,)] = mail_router_db.query(
        "SELECT uidvalidity FROM mail_router_mailbox_state WHERE server_id = %s", [server_id])
    assert validity == new_validity


def test_connection_cut_mid_fetch_then_the_rest(mail_router_db, dovecot, imaps_proxy, tag):
    uids = dovecot.append_all("INBOX", [message(tag, n) for n in range(4)])
    with mail_router_db.env() as env:
        server_id = make_server(env, dovecot, port=imaps_proxy.port, batch_size=1)
    # Past the TLS handshake, login and the first message or two: then the line goes dead.
    imaps_proxy.cut_after(len(message(tag, 0)) * 2 + 8000)
    fetch(mail_router_db, server_id)
    with mail_router_db.env() as env:
        server = env["fetchmail.server"].browse(server_id)
        assert server.consecutive_failures == 1
        assert server.last_error
    first_run = posted(mail_router_db, tag)
    assert len(first_run) < 4
    fetch(mail_router_db, server_id)
    assert posted(mail_router_db, tag) == {f"<{tag}-{n}@example.com>": 1 for n in range(4)}
    assert all("\\Seen" in dovecot.flags("INBOX")[uid] for uid in uids)
    with mail_router_db.env() as env:
        assert env["fetchmail.server"].browse(server_id).consecutive_failures == 0


def test_pop3_more_than_fifty_some_failing(mail_router_db, dovecot, tag):
    raws = [message(tag, n, failing=not n % 10) for n in range(60)]
    dovecot.append_all("INBOX", raws)
    with mail_router_db.env() as env:
        # stock counts the senders without address as one, who would soon be throttled
        env["ir.config_parameter"].set_param("mail.gateway.loop.threshold", 1000)
        server_id = make_server(env, dovecot, model=BLACKLIST, server_type="pop", port=dovecot.ports.pop3s,
                                batch_size=25)
    fetch(mail_router_db, server_id)
    assert posted(mail_router_db, tag) == {f"<{tag}-{n}@example.com>": 1 for n in range(60) if n % 10}
    quarantined = mail_router_db.query(
        "SELECT count(*) FROM mail_router_quarantine WHERE message_id LIKE %s", [f"<{tag}-%"])
    assert quarantined == [(6,)]
    assert dovecot.flags("INBOX") == {}  # all deleted, after their commit


def test_failures_are_recorded_and_alert_once(mail_router_db, dovecot, tag):
    with mail_router_db.env() as env:
        env["ir.config_parameter"].set_param("mail_router.fetch_failure_alert_threshold", 2)
        server_id = make_server(env, dovecot, password="wrong password")
    for _run in range(3):
        fetch(mail_router_db, server_id)
    with mail_router_db.env() as env:
        server = env["fetchmail.server"].browse(server_id)
        assert server.consecutive_failures == 3
        assert "login" in server.last_error.lower()
        assert not server.last_success_date
        alerts = env["mail.mail"].search([("subject", "=", f"Incoming mail server {server.name} is failing")])
        assert len(alerts) == 1
        assert "wrong password" not in server.last_error + alerts.body_html


def test_test_and_confirm_names_the_cause(mail_router_db, dovecot):
    with mail_router_db.env() as env:
        server = env["fetchmail.server"].browse(make_server(env, dovecot, state="draft", ca_file=False))
        action = server.button_confirm_login()
        assert "certificate" in server.last_error.lower()
        assert (action["res_model"], action["res_id"], action["target"]) == ("fetchmail.server", server.id, "new")
        assert server.state == "draft"
        server.ca_file = str(dovecot.ca_file)
        server.button_confirm_login()
        assert server.state == "done"


def test_a_failed_test_and_confirm_is_kept_in_the_health_tab(mail_router_db, dovecot):
    """No error raised, so nothing rolled back: the request commits the Health tab, and the
    dialog that shows the error reloads the form when closed."""
    with mail_router_db.env() as env:
        server_id = make_server(env, dovecot, state="draft", password="wrong password")
    with mail_router_db.env() as env:
        action = env["fetchmail.server"].browse(server_id).button_confirm_login()
        dialog = env.ref("mail_router.fetchmail_server_view_form_test_failed")
        assert action["views"] == [(dialog.id, "form")] and action["name"].startswith("Test & Confirm failed")
    with mail_router_db.env() as env:
        server = env["fetchmail.server"].browse(server_id)
        assert server.last_error.startswith("Test & Confirm: ") and "refused the login" in server.last_error
        assert server.last_error_date
        assert "wrong password" not in server.last_error
        assert (server.state, server.consecutive_failures) == ("draft", 0), "not a failed fetch"
        assert server.failing, "the list shows it in red"


def test_a_failed_test_and_confirm_in_the_transaction_that_wrote_the_server(mail_router_db, dovecot):
    """Tested in the transaction that wrote the server (a form saved, then the button):
    the Health tab is written in it, at once."""
    with mail_router_db.env() as env:
        server_id = make_server(env, dovecot, state="draft")
    with mail_router_db.env() as env:
        server = env["fetchmail.server"].browse(server_id)
        server.password = "wrong password"
        env.flush_all()
        started = time.monotonic()
        server.button_confirm_login()
        assert time.monotonic() - started < 30
        assert "refused the login" in server.last_error


def test_a_successful_test_connection_says_what_waits(mail_router_db, dovecot, tag):
    dovecot.append_all("INBOX", [message(tag, n) for n in range(2)])
    with mail_router_db.env() as env:
        imap_id = make_server(env, dovecot, state="draft")
        pop_id = make_server(env, dovecot, state="draft", server_type="pop", port=dovecot.ports.pop3s)
    with mail_router_db.env() as env:
        imap_server, pop_server = env["fetchmail.server"].browse([imap_id, pop_id])
        action = imap_server.button_confirm_login()
        assert action["params"]["message"] == f"Connection to {imap_server.name} succeeded: 2 messages in folder INBOX."
        assert (action["params"]["type"], action["params"]["next"]["tag"]) == ("success", "soft_reload")
        said = pop_server.button_confirm_login()["params"]["message"]
        assert said == f"Connection to {pop_server.name} succeeded: 2 messages in the maildrop."
        assert (imap_server.state, pop_server.state) == ("done", "done")
    assert len(dovecot.flags("INBOX")) == 2, "a test takes nothing"


def reply_to(tag, message_id):
    return (f"From: Ann Vendor <ann@vendor.example>\r\nTo: inbox@example.com\r\nSubject: Re: RFQ {tag}\r\n"
            f"Message-ID: <{tag}-reply@example.com>\r\nIn-Reply-To: {message_id}\r\n\r\nOn its way.\r\n").encode()


def test_fetch_now_says_what_it_fetched(mail_router_db, dovecot, tag):
    """One reply routed, one mail quarantined (no default model), one too large left."""
    with mail_router_db.env() as env:
        partner = env[PARTNER].create({"name": f"Vendor {tag}"})
        note = partner.message_post(body="Our RFQ", subtype_xmlid="mail.mt_note")
        server_id = make_server(env, dovecot, object_id=False, max_message_megabytes=1)
        partner_id, note_id = partner.id, note.message_id
    dovecot.append_all("INBOX", [reply_to(tag, note_id), message(tag, 1),
                                 message(tag, 2) + b"x" * 1_100_000 + b"\r\n"])
    with mail_router_db.env() as env:
        server = env["fetchmail.server"].browse(server_id)
        action = server.action_fetch_now()
        assert action["params"]["title"] == f"Fetch Now: {server.name}"
        assert action["params"]["message"] == "2 fetched (1 routed, 1 quarantined), 1 left on the server."
        assert action["params"]["type"] == "warning"
        assert f"Re: RFQ {tag}" in env[PARTNER].browse(partner_id).message_ids.mapped("subject")
        action = server.action_fetch_now()
        assert action["params"]["message"] == "0 fetched (0 routed, 0 quarantined), 0 left on the server."
        assert action["params"]["type"] == "success"


def test_fetch_now_says_why_it_failed(mail_router_db, dovecot):
    with mail_router_db.env() as env:
        server = env["fetchmail.server"].browse(make_server(env, dovecot, password="wrong password"))
        action = server.action_fetch_now()
        assert action["params"]["message"].startswith("failed: ")
        assert "refused the login" in action["params"]["message"]
        assert action["params"]["type"] == "danger"
        assert server.consecutive_failures == 1, "a failed Fetch Now is a failed fetch"


def test_run_manually_says_what_each_server_did(mail_router_db, dovecot, tag):
    dovecot.append_all("INBOX", [message(tag, n) for n in range(2)])
    with mail_router_db.env() as env:
        env["fetchmail.server"].search([]).active = False  # the servers of the tests before, on dead Dovecots
        make_server(env, dovecot)  # a new partner for each mail: routed by the default model
        broken_id = make_server(env, dovecot, password="wrong password")
        action = env.ref("mail.ir_cron_mail_gateway_action").method_direct_trigger()
        broken = env["fetchmail.server"].browse(broken_id)
        first, failing = action["params"]["message"].split("\n")
        assert (action["params"]["title"], action["params"]["type"]) == ("Mail: Fetchmail Service", "danger")
        assert first == "2 fetched from 2 server(s) (2 routed, 0 quarantined), 0 left on the server."
        assert failing.startswith(f"{broken.name}: failed: ") and "refused the login" in failing
    assert posted(mail_router_db, tag) == {f"<{tag}-{n}@example.com>": 1 for n in range(2)}


def test_run_manually_from_scheduled_actions(mail_router_db, dovecot, tag):
    """Settings > Mail Routing > Scheduled Fetch ("Mail: Fetchmail Service") > Run Manually."""
    dovecot.append_all("INBOX", [message(tag, n) for n in range(2)])
    with mail_router_db.env() as env:
        make_server(env, dovecot)
        cron = env.ref("mail.ir_cron_mail_gateway_action")
        assert cron.active, "stock enables its fetch cron when a server is confirmed"
        cron.method_direct_trigger()
    assert posted(mail_router_db, tag) == {f"<{tag}-{n}@example.com>": 1 for n in range(2)}


def test_run_out_of_time_leaves_the_rest_to_the_next_run(mail_router_db, dovecot, tag, monkeypatch):
    dovecot.append("INBOX", message(tag, 0))
    odoo = mail_router_db.env.odoo
    with mail_router_db.env() as env:
        make_server(env, dovecot)
        monkeypatch.setitem(odoo.tools.config.options, "limit_time_real_cron", 1e-9)
        cron = env.ref("mail.ir_cron_mail_gateway_action")
        cron.method_direct_trigger()
        progress = env["ir.cron.progress"].search([("cron_id", "=", cron.id)], order="id desc", limit=1)
        assert progress.remaining >= 1, "the cron is told to run again at once"
    assert posted(mail_router_db, tag) == {}
    monkeypatch.undo()
    with mail_router_db.env() as env:
        env.ref("mail.ir_cron_mail_gateway_action").method_direct_trigger()
    assert posted(mail_router_db, tag) == {f"<{tag}-0@example.com>": 1}


def state_row(db, server_id):
    [row] = db.query("SELECT uidvalidity, last_uid FROM mail_router_mailbox_state WHERE server_id = %s", [server_id])
    return row


def health(db, server_id):
    with db.env() as env:
        server = env["fetchmail.server"].browse(server_id)
        return server.left_count, server.last_left_message, server.last_left_reason


def test_uidvalidity_and_uids_above_two_to_the_31(mail_router_db, dovecot, tag):
    validity = dovecot.change_uidvalidity("INBOX", 4_000_000_000)
    dovecot.raise_next_uid("INBOX", 3_000_000_000)
    uids = dovecot.append_all("INBOX", [message(tag, n) for n in range(2)])
    with mail_router_db.env() as env:
        server_id = make_server(env, dovecot)
    fetch(mail_router_db, server_id)
    assert state_row(mail_router_db, server_id) == (validity, uids[-1])
    newer = dovecot.append("INBOX", message(tag, 2))
    fetch(mail_router_db, server_id)
    assert posted(mail_router_db, tag) == {f"<{tag}-{n}@example.com>": 1 for n in range(3)}
    assert state_row(mail_router_db, server_id) == (validity, newer)
    assert all("\\Seen" in flags for flags in dovecot.flags("INBOX").values())


def test_a_message_too_large_stays_on_the_server_unread(mail_router_db, dovecot, tag, caplog):
    large = message(tag, 1) + b"x" * 1_100_000 + b"\r\n"
    uids = dovecot.append_all("INBOX", [message(tag, 0), large, message(tag, 2)])
    with mail_router_db.env() as env:
        server_id = make_server(env, dovecot, max_message_megabytes=1)
    with caplog.at_level(logging.ERROR, logger=FETCH_LOGGER):
        fetch(mail_router_db, server_id)
    assert posted(mail_router_db, tag) == {f"<{tag}-0@example.com>": 1, f"<{tag}-2@example.com>": 1}
    assert dovecot.flags("INBOX")[uids[1]] == set()
    left_count, left_message, reason = health(mail_router_db, server_id)
    assert (left_count, left_message) == (1, f"UID {uids[1]} in folder 'INBOX'")
    assert reason == f"{len(large)} bytes, more than the largest message fetched (1048576 bytes)"
    [record] = [record for record in caplog.records if left_message in record.getMessage()]
    assert record.levelno == logging.ERROR and "fetchmail" in record.getMessage()
    assert state_row(mail_router_db, server_id)[1] == uids[2], "the checkpoint passes it"


@pytest.fixture
def failing_receive(mail_router_db, monkeypatch):
    """Processing raises for a mail holding FAILS_HERE, whatever the pipeline would do:
    the fetcher's last resort."""
    with mail_router_db.env() as env:
        server_class = type(env["fetchmail.server"])
    receive = server_class._mail_router_receive

    def fail_here(self, raw, arrived=None):
        if FAILS_HERE in raw:
            raise RuntimeError("cannot store this one")
        return receive(self, raw, arrived)

    monkeypatch.setattr(server_class, "_mail_router_receive", fail_here)


FAILS_HERE = b"X-Test: fails here\r\n"


@pytest.mark.parametrize("server_type", ["imap", "pop"])
def test_a_message_whose_processing_raises_stays_unread_the_next_ones_land(
        mail_router_db, dovecot, tag, caplog, failing_receive, server_type):
    uids = dovecot.append_all("INBOX", [message(tag, 0), FAILS_HERE + message(tag, 1), message(tag, 2)])
    port = dovecot.ports.imaps if server_type == "imap" else dovecot.ports.pop3s
    with mail_router_db.env() as env:
        server_id = make_server(env, dovecot, server_type=server_type, port=port, batch_size=2)
    with caplog.at_level(logging.ERROR, logger=FETCH_LOGGER):
        fetch(mail_router_db, server_id)
    assert posted(mail_router_db, tag) == {f"<{tag}-0@example.com>": 1, f"<{tag}-2@example.com>": 1}
    left_count, left_message, reason = health(mail_router_db, server_id)
    assert left_count == 1
    assert reason == "processing raised RuntimeError: cannot store this one"
    [record] = [record for record in caplog.records if left_message in record.getMessage()]
    assert "fetchmail" in record.getMessage() and "Dovecot" in record.getMessage()  # the server's name
    assert record.exc_info, "with the traceback"
    if server_type == "imap":
        assert left_message == f"UID {uids[1]} in folder 'INBOX'"
        assert dovecot.flags("INBOX") == {uids[0]: {"\\Seen"}, uids[1]: set(), uids[2]: {"\\Seen"}}
    else:
        assert left_message.startswith("UIDL ")
        assert set(dovecot.flags("INBOX")) == {uids[1]}, "left in the maildrop, the others deleted"
    caplog.clear()
    with caplog.at_level(logging.ERROR, logger=FETCH_LOGGER):
        fetch(mail_router_db, server_id)
    assert not caplog.records, "passed: not tried again at every run"
    with mail_router_db.env() as env:
        server = env["fetchmail.server"].browse(server_id)
        assert (server.left_count, server.consecutive_failures) == (0, 0)
