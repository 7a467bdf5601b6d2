"""The seed's story, end to end: an RFQ leaves PO0001 over real SMTP, the vendor
replies from Gmail, Outlook and Thunderbird, each reply lands on PO0001's chatter."""
import email
import socket
from email import policy
from unittest.mock import patch

from aiosmtpd.controller import Controller

from odoo.tests import Form, TransactionCase, tagged


class SmtpSink:
    """aiosmtpd handler keeping what it receives."""

    def __init__(self):
        self.envelopes = []

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        return "250 OK"


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def gmail_reply(rfq, vendor, catchall):
    return f"""\
MIME-Version: 1.0
Date: Tue, 12 Dec 2023 10:01:02 +0100
Message-ID: <CAJx9Lx+gmail-1@mail.gmail.com>
In-Reply-To: {rfq["Message-ID"]}
References: {rfq["Message-ID"]}
Subject: Re: {rfq["Subject"]}
From: Ann Vendor <{vendor}>
To: {catchall}
Content-Type: multipart/alternative; boundary="000000000000gmail"

--000000000000gmail
Content-Type: text/plain; charset="UTF-8"

Gmail: our quote is attached.

--000000000000gmail
Content-Type: text/html; charset="UTF-8"

<div dir="ltr">Gmail: our quote is attached.</div>

--000000000000gmail--
"""


def outlook_reply(rfq, vendor, catchall):
    """Outlook sets In-Reply-To and Thread-Index, and no References."""
    return f"""\
From: Ann Vendor <{vendor}>
To: "catchall" <{catchall}>
Subject: RE: {rfq["Subject"]}
Thread-Topic: {rfq["Subject"]}
Thread-Index: AQHaLMr3k2b5mJ4xXUuVb3oA1Y2m4g==
Date: Tue, 12 Dec 2023 09:15:22 +0000
Message-ID: <AM0PR07MB1234ABCD5678EF90@AM0PR07MB1234.eurprd07.prod.outlook.com>
In-Reply-To: {rfq["Message-ID"]}
Accept-Language: en-US
Content-Language: en-US
Content-Type: text/plain; charset="iso-8859-1"
Content-Transfer-Encoding: quoted-printable
MIME-Version: 1.0

Outlook: prices valid until the end of the month, d=E9lai 2 weeks.
"""


def thunderbird_reply(rfq, vendor, catchall):
    return f"""\
Message-ID: <5b3a7c1e-1d2f-4b7e-9c1a-thunderbird@vendor.example>
Date: Tue, 12 Dec 2023 11:20:00 +0100
MIME-Version: 1.0
User-Agent: Mozilla Thunderbird
Subject: Re: {rfq["Subject"]}
Content-Language: en-US
To: {catchall}
References: {rfq["Message-ID"]}
From: Ann Vendor <{vendor}>
In-Reply-To: {rfq["Message-ID"]}
Content-Type: text/plain; charset=UTF-8; format=flowed
Content-Transfer-Encoding: 7bit

Thunderbird: confirmed.
"""


@tagged("post_install", "-at_install", "mail_router")
class TestPurchaseEndToEnd(TransactionCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.sink = SmtpSink()
        cls.smtp = Controller(cls.sink, hostname="127.0.0.1", port=free_port())
        cls.smtp.start()
        cls.addClassCleanup(cls.smtp.stop)
        cls.env["ir.mail_server"].search([]).unlink()
        cls.env["ir.mail_server"].create({
            "name": "test SMTP", "smtp_host": "127.0.0.1", "smtp_port": cls.smtp.port,
            "smtp_encryption": "none"})
        domain = cls.env["mail.alias.domain"].create({
            "name": "company.example", "catchall_alias": "catchall", "bounce_alias": "bounce",
            "default_from": "notifications"})
        cls.env.company.write({"alias_domain_id": domain.id, "email": "buyer@company.example"})
        cls.env.user.email = "buyer@company.example"
        cls.vendor = cls.env["res.partner"].create({"name": "Ann Vendor", "email": "ann@vendor.example"})
        product = cls.env["product.product"].create({"name": "Bolts", "purchase_ok": True})
        cls.po = cls.env["purchase.order"].create({
            "partner_id": cls.vendor.id,
            "order_line": [(0, 0, {"product_id": product.id, "product_qty": 100, "price_unit": 1.0})],
        })

    def send_rfq(self):
        """The user's path: "Send by Email" on the PO, the composer, Send."""
        action = self.po.action_rfq_send()
        composer = Form(self.env[action["res_model"]].with_context(**action["context"])).save()
        with patch("odoo.modules.module.current_test", None):  # let ir.mail_server really send
            composer.action_send_mail()
        rfq_message = self.po.message_ids.filtered(lambda m: m.message_type == "comment")[:1]
        self.assertEqual(len(self.sink.envelopes), 1, "the RFQ must reach the SMTP server")
        envelope = self.sink.envelopes[0]
        self.assertEqual(envelope.rcpt_tos, [self.vendor.email])
        return rfq_message, email.message_from_bytes(envelope.original_content, policy=policy.SMTP)

    def test_vendor_replies_land_on_the_po(self):
        rfq_message, sent = self.send_rfq()
        self.assertEqual(sent["Message-ID"], rfq_message.message_id)
        self.assertTrue(sent["Message-ID"].startswith(f"<purchase.order-{self.po.id}-"))
        catchall = email.utils.parseaddr(sent["Reply-To"])[1]
        self.assertEqual(catchall, "catchall@company.example")

        expected_parent = rfq_message.parent_id or rfq_message  # purchase.order flattens its thread
        for client, write_reply in (("Gmail", gmail_reply), ("Outlook", outlook_reply),
                                    ("Thunderbird", thunderbird_reply)):
            with self.subTest(client=client):
                raw = write_reply(sent, self.vendor.email, catchall).replace("\n", "\r\n").encode("latin-1")
                self.env["mail.thread"].sudo().message_process(False, raw)
                reply = self.po.message_ids.filtered(lambda m, client=client: client in (m.body or ""))
                self.assertEqual(len(reply), 1, f"the {client} reply must be once on {self.po.name}'s chatter")
                self.assertEqual(reply.parent_id, expected_parent)
                self.assertEqual(reply.author_id, self.vendor)
                log = self.env["mail.router.log"].search([("mail_message_id", "=", reply.id)])
                self.assertEqual((log.stage, log.matched), ("in_reply_to", rfq_message.message_id))
