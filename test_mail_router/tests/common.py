from email import policy
from email.message import EmailMessage
from email.utils import make_msgid

from odoo.addons.mail.tests.common import MailCommon

DSN = """\
From: MAILER-DAEMON@mail.vendor.example (Mail Delivery System)
To: {bounce_to}
Subject: {subject}
Message-ID: <dsn-{bounced}@mail.vendor.example>
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="BOUNDARY"

--BOUNDARY
Content-Type: text/plain

This is the mail system: your message could not be delivered to {bounced}.

--BOUNDARY
Content-Type: message/delivery-status

Reporting-MTA: dns; mail.vendor.example

Final-Recipient: rfc822; {bounced}
Action: failed
Status: 5.1.1

--BOUNDARY
Content-Type: text/rfc822-headers

Message-ID: {original}
Subject: Our RFQ

--BOUNDARY--
"""


class MailRouterCase(MailCommon):
    """A ticket of a vendor, an alias for tickets, and helpers to receive mail."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.ticket_model = cls.env["ir.model"]._get("mail.router.test.ticket")
        cls.alias = cls.env["mail.alias"].create({
            "alias_name": "tickets",
            "alias_domain_id": cls.mail_alias_domain.id,
            "alias_model_id": cls.ticket_model.id,
            "alias_contact": "everyone",
        })
        cls.vendor = cls.env["res.partner"].create({"name": "Ann Vendor", "email": "ann@vendor.example"})
        cls.ticket = cls.env["mail.router.test.ticket"].create({"name": "PO0001", "partner_id": cls.vendor.id})
        cls.other_ticket = cls.env["mail.router.test.ticket"].create({"name": "PO0002"})
        cls.codec = cls.env["mail.thread"]._mail_router_codec()
        cls.catchall = f"{cls.alias_catchall}@{cls.alias_domain}"

    def address(self, local):
        return f"{local}@{self.alias_domain}"

    def incoming(self, to, subject="Hello", email_from="Ann Vendor <ann@vendor.example>",
                 message_id=None, body="Hi there.", **headers):
        """Raw bytes of a mail as a client would send it. ``headers``: In_Reply_To=..."""
        mail = EmailMessage()
        mail["From"] = email_from
        mail["To"] = to
        mail["Subject"] = subject
        if message_id is not False:
            mail["Message-ID"] = message_id or make_msgid(domain="vendor.example")
        for name, value in headers.items():
            mail[name.replace("_", "-")] = value
        mail.set_content(body)
        # Mail clients never fold a Message-ID into encoded words, as Python's default policy would.
        return mail.as_bytes(policy=policy.SMTP.clone(max_line_length=0))

    def delivery_status(self, bounced_email, original_message_id, subject):
        """Raw bytes of a DSN (RFC 3464) from a mail server that could not deliver to ``bounced_email``."""
        return DSN.format(
            bounce_to=f"{self.alias_bounce}@{self.alias_domain}", subject=subject,
            bounced=bounced_email, original=original_message_id).replace("\n", "\r\n").encode()

    def process(self, raw, model=None):
        """Receive ``raw`` as the fetcher does: with administrative rights."""
        with self.mock_mail_gateway():
            self.env["mail.thread"].sudo().message_process(model, raw)
        return self.env["mail.router.log"].search([], limit=1)

    def post_on(self, record, body="Our RFQ", **kwargs):
        """A message posted on ``record`` by the company, as when sending an RFQ."""
        return record.with_user(self.user_employee).message_post(
            body=body, message_type="comment", subtype_xmlid="mail.mt_comment", **kwargs)

    def assertOnChatter(self, record, raw_subject, parent=None, author=None):
        message = record.message_ids.filtered(lambda m: m.subject == raw_subject)
        self.assertEqual(len(message), 1, f"{raw_subject!r} should be once on {record.display_name}'s chatter")
        if parent is not None:
            self.assertEqual(message.parent_id, parent)
        if author is not None:
            self.assertEqual(message.author_id, author)
        return message

    def assertNotOnChatter(self, records, raw_subject):
        self.assertFalse(records.message_ids.filtered(lambda m: m.subject == raw_subject),
                         f"{raw_subject!r} must not be on any chatter")
