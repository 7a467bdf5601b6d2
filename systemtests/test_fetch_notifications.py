"""The notifications of fetched mail, against a real Dovecot and a real SMTP server:
queued while the fetch runs, then delivered right after it, all over one SMTP
connection, none left in the mail queue."""
import sys
import uuid
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
from pgcluster import free_port
from test_fetchmail import fetch, make_server

REPLIES = 3


class Sink:
    """An SMTP server's handler that keeps each mail with the connection it came on."""

    def __init__(self):
        self.received = []  # (connection, recipients, message)

    async def handle_DATA(self, server, session, envelope):
        self.received.append((id(session), envelope.rcpt_tos,
                              message_from_bytes(envelope.original_content, policy=policy.SMTP)))
        return "250 OK"


@pytest.fixture
def smtp_sink(mail_router_db):
    sink = Sink()
    controller = Controller(sink, hostname="127.0.0.1", port=free_port())
    controller.start()
    with mail_router_db.env() as env:
        env["ir.mail_server"].search([]).unlink()
        env["ir.mail_server"].create({"name": "sink", "smtp_host": "127.0.0.1", "smtp_port": controller.port})
    yield sink
    controller.stop()


def reply(tag, index, parent_message_id):
    message = EmailMessage()
    message["From"] = f"Vendor <vendor-{tag}@vendor.example>"
    message["To"] = "inbox@example.com"
    message["Subject"] = f"Re: order {tag} #{index}"
    message["Message-ID"] = f"<{tag}-reply-{index}@vendor.example>"
    message["In-Reply-To"] = parent_message_id
    message.set_content(f"Confirmed, reply {index}.")
    return message.as_bytes()


def test_followers_are_notified_over_one_smtp_connection_after_the_fetch(mail_router_db, dovecot, smtp_sink):
    tag = uuid.uuid4().hex[:8]
    follower_email = f"buyer-{tag}@company.example"
    with mail_router_db.env() as env:
        order = env["res.partner"].create({"name": f"Order {tag}"})
        order.message_subscribe(partner_ids=env["res.partner"].create(
            {"name": "Buyer", "email": follower_email}).ids)
        sent = order.with_context(mail_notify_force_send=False).message_post(
            body="Please confirm.", message_type="comment", subtype_xmlid="mail.mt_comment")
        env["mail.mail"].search([]).unlink()
        server_id = make_server(env, dovecot)
        parent_message_id, order_id = sent.message_id, order.id
    dovecot.append_all("INBOX", [reply(tag, n, parent_message_id) for n in range(REPLIES)])

    fetch(mail_router_db, server_id)

    landed = mail_router_db.query(
        "SELECT count(*) FROM mail_message WHERE model = 'res.partner' AND res_id = %s AND message_id LIKE %s",
        [order_id, f"<{tag}-reply-%"])
    assert landed == [(REPLIES,)]
    notified = [(connection, message["Subject"]) for connection, recipients, message in smtp_sink.received
                if recipients == [follower_email]]
    assert sorted(subject for _, subject in notified) == [f"Re: order {tag} #{n}" for n in range(REPLIES)]
    assert len({connection for connection, _ in notified}) == 1
    assert mail_router_db.query("SELECT count(*) FROM mail_mail WHERE state = 'outgoing'") == [(0,)]
