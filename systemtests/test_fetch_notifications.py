"""The notifications of fetched mail, against a real Dovecot and a real SMTP server:
scheduled while the fetch runs, then delivered right after it, all over one SMTP
connection, none left in the mail queue; a fetch killed before it sent them loses none
and sends none twice."""
import sys
import uuid
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import fetch_driver
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


def order_with_follower(db, dovecot, tag):
    """A record followed by a buyer (notified by email), the message its replies answer,
    a server, and the replies in the mailbox: (server id, order id, the buyer's address)."""
    follower_email = f"buyer-{tag}@company.example"
    with db.env() as env:
        order = env["res.partner"].create({"name": f"Order {tag}"})
        order.message_subscribe(partner_ids=env["res.partner"].create(
            {"name": "Buyer", "email": follower_email}).ids)
        sent = order.with_context(mail_notify_force_send=False).message_post(
            body="Please confirm.", message_type="comment", subtype_xmlid="mail.mt_comment")
        env["mail.mail"].search([]).unlink()
        server_id = make_server(env, dovecot)
        parent_message_id, order_id = sent.message_id, order.id
    dovecot.append_all("INBOX", [reply(tag, n, parent_message_id) for n in range(REPLIES)])
    return server_id, order_id, follower_email


def landed(db, tag, order_id):
    return db.query(
        "SELECT count(*) FROM mail_message WHERE model = 'res.partner' AND res_id = %s AND message_id LIKE %s",
        [order_id, f"<{tag}-reply-%"])[0][0]


def notified(sink, follower_email):
    return sorted(message["Subject"] for _connection, recipients, message in sink.received
                  if recipients == [follower_email])


def test_followers_are_notified_over_one_smtp_connection_after_the_fetch(mail_router_db, dovecot, smtp_sink):
    tag = uuid.uuid4().hex[:8]
    server_id, order_id, follower_email = order_with_follower(mail_router_db, dovecot, tag)

    fetch(mail_router_db, server_id)

    assert landed(mail_router_db, tag, order_id) == REPLIES
    notified = [(connection, message["Subject"]) for connection, recipients, message in smtp_sink.received
                if recipients == [follower_email]]
    assert sorted(subject for _, subject in notified) == [f"Re: order {tag} #{n}" for n in range(REPLIES)]
    assert len({connection for connection, _ in notified}) == 1
    assert mail_router_db.query("SELECT count(*) FROM mail_mail WHERE state = 'outgoing'") == [(0,)]


def test_a_fetch_killed_before_it_notified_loses_no_notification_and_sends_none_twice(
        mail_router_db, dovecot, smtp_sink, tmp_path):
    """Killed once every reply is committed and before their notifications are rendered:
    they wait as stock's scheduled notifications, due later. While another transaction
    holds them (stock's scheduled action at work), a run leaves them to it; once due,
    stock's scheduled action sends each once; a later run sends none again."""
    tag = uuid.uuid4().hex[:8]
    server_id, order_id, follower_email = order_with_follower(mail_router_db, dovecot, tag)
    process = fetch_driver.start(mail_router_db, server_id, tmp_path / "driver.log", kill_at="before_notifying")
    assert process.wait(timeout=120) == -9, (tmp_path / "driver.log").read_text()
    assert landed(mail_router_db, tag, order_id) == REPLIES
    assert notified(smtp_sink, follower_email) == []
    waiting = """SELECT schedule.id, schedule.scheduled_datetime FROM mail_message_schedule schedule
                   JOIN mail_message message ON message.id = schedule.mail_message_id
                  WHERE message.model = 'res.partner' AND message.res_id = %s"""
    schedules = mail_router_db.query(waiting, [order_id])
    assert len(schedules) == REPLIES, "persisted as stock's schedules"
    assert len({due for _id, due in schedules}) == 1, "all due at the run's time"

    with mail_router_db.env() as env, mail_router_db.env() as holder:
        holder.cr.execute(waiting + " FOR UPDATE OF schedule", [order_id])
        rendered = env["mail.mail"]._mail_router_render({"res.partner": {order_id}}, schedules[0][1])
        assert rendered == 0, "schedules another transaction holds are left to it"
        holder.cr.rollback()

    # their time has come: stock's scheduled action sends them
    mail_router_db.query("UPDATE mail_message_schedule SET scheduled_datetime = now() at time zone 'UTC'"
                         " - interval '1 second' RETURNING id")
    with mail_router_db.env() as env:
        env["mail.message.schedule"]._send_notifications_cron()
    with mail_router_db.env() as env:
        env["mail.mail"].process_email_queue()
    assert notified(smtp_sink, follower_email) == [f"Re: order {tag} #{n}" for n in range(REPLIES)]

    fetch(mail_router_db, server_id)  # nothing new: nothing notified again
    assert notified(smtp_sink, follower_email) == [f"Re: order {tag} #{n}" for n in range(REPLIES)]
