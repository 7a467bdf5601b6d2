"""Inputs that `make fuzz` found to break the pipeline, each replayed as explicit bytes
with the outcome it must have now. Before, each was quarantined with "processing
failed": stock's parsing raised on it (or PostgreSQL refused what it looked up)."""
from odoo.tests import tagged

from .common import MailRouterCase


def mail(*headers, body=b"Hi there."):
    return b"\r\n".join(headers) + b"\r\n\r\n" + body + b"\r\n"


@tagged("post_install", "-at_install", "mail_router")
class TestHostileMail(MailRouterCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.rfq = cls.ticket.with_user(cls.user_employee).message_post(
            body="Our RFQ", message_type="comment", subtype_xmlid="mail.mt_comment")

    def reply(self, name, *headers, body=b"Hi there."):
        """A reply to the RFQ on the ticket, Message-ID <name@vendor.example>, Subject ``name``."""
        return mail(b"From: ann@vendor.example", b"To: " + self.catchall.encode(), b"Subject: " + name.encode(),
                    b"Message-ID: <" + name.encode() + b"@vendor.example>",
                    b"In-Reply-To: " + self.rfq.message_id.encode(), *headers, body=body)

    def assertPostedOn(self, raw, record, subject):
        log = self.process(raw)
        self.assertFalse(log.error, log.reason)
        self.assertEqual((log.mail_message_id.model, log.mail_message_id.res_id), (record._name, record.id))
        return self.assertOnChatter(record, subject)

    def test_nul_after_in_reply_to_posts_the_reply(self):
        raw = mail(b"From: ann@vendor.example", b"To: " + self.catchall.encode(), b"Subject: nul-irt",
                   b"Message-ID: <nul-irt@vendor.example>", b"In-Reply-To: " + self.rfq.message_id.encode() + b"\x00")
        self.assertPostedOn(raw, self.ticket, "nul-irt")

    def test_nul_in_a_cc_address_posts_the_reply(self):
        self.assertPostedOn(self.reply("nul-cc", b"Cc: a\x00b@vendor.example"), self.ticket, "nul-cc")

    def test_nul_in_another_recipient_still_creates_the_record(self):
        raw = mail(b"From: ann@vendor.example", b"To: " + self.address("tickets").encode() + b", x\x00@y.example",
                   b"Subject: New request", b"Message-ID: <nul-to@vendor.example>")
        log = self.process(raw)
        self.assertEqual(log.stage, "alias")
        ticket = self.env["mail.router.test.ticket"].search([("name", "=", "New request")])
        self.assertEqual(log.mail_message_id, self.assertOnChatter(ticket, "New request"))

    def test_headers_the_email_package_cannot_parse_post_the_reply(self):
        # Python's own parsers raise IndexError on these, decoded or not.
        self.assertPostedOn(self.reply("cc-bracket", b"Cc: <"), self.ticket, "cc-bracket")
        raw = self.reply("empty-id").replace(b"Message-ID: <empty-id@vendor.example>", b"Message-ID: <>")
        self.assertPostedOn(raw, self.ticket, "empty-id")

    def test_charsets_python_cannot_decode_with_post_the_text(self):
        for charset in (b"=\xff", b"", b"=base64"):  # 8-bit, without value, not a text codec
            with self.subTest(charset=charset):
                name = f"charset-{charset.hex()}"
                raw = self.reply(name, b"Content-Type: text/plain; charset" + charset, body=b"Caf\xc3\xa9 ok")
                self.assertIn("Caf\u00e9 ok", self.assertPostedOn(raw, self.ticket, name).body)

    def test_an_attachment_of_a_type_without_reader_is_posted(self):
        raw = self.reply("font", b'Content-Type: multipart/mixed; boundary="b"', body=(
            b"--b\r\nContent-Type: text/plain\r\n\r\nOur logo font.\r\n"
            b"--b\r\nContent-Type: font/woff2\r\nContent-Disposition: attachment; filename=\"brand.woff2\"\r\n"
            b"Content-Transfer-Encoding: base64\r\n\r\nd09GMgABAAA=\r\n--b--"))
        message = self.assertPostedOn(raw, self.ticket, "font")
        self.assertEqual(message.attachment_ids.mapped("name"), ["brand.woff2"])
        self.assertEqual(message.attachment_ids.raw, b"wOF2\x00\x01\x00\x00")

    def test_a_file_name_decoding_to_a_lone_surrogate_is_posted(self):
        raw = self.reply("surrogate-name", b'Content-Type: multipart/mixed; boundary="b"', body=(
            b"--b\r\nContent-Type: application/octet-stream\r\n"
            b"Content-Disposition: attachment; filename=\"=?utf-7?q?+2AA-?=.txt\"\r\n\r\ndata\r\n--b--"))
        message = self.assertPostedOn(raw, self.ticket, "surrogate-name")
        self.assertEqual(message.attachment_ids.mapped("name"), ["\ufffd.txt"])

    def test_a_delivery_report_whose_boundary_is_never_used_is_a_bounce(self):
        raw = mail(b"From: MAILER-DAEMON@mail.vendor.example", b"To: " + self.catchall.encode(),
                   b"Subject: Undelivered", b"Message-ID: <dsn-no-parts@mail.vendor.example>",
                   b"Content-Type: multipart/report; report-type=delivery-status; boundary=r",
                   body=b"Your mail could not be delivered (and this report holds no part).")
        log = self.process(raw)
        self.assertEqual((log.stage, log.error), ("bounce", False))
        self.assertEqual(log.raw_bytes(), raw)

    def test_an_attached_message_with_an_unstorable_file_name_is_posted(self):
        # Stock writes an attached message out as bytes: a header repaired as text could not be.
        raw = self.reply("attached", b'Content-Type: multipart/mixed; boundary="b"', body=(
            b"--b\r\nContent-Type: text/plain\r\n\r\nSee the forward.\r\n"
            b"--b\r\nContent-Type: message/rfc822\r\n\r\nSubject: forwarded\r\n"
            b'Content-Type: application/octet-stream\r\nContent-Disposition: attachment; filename="a\x00b"\r\n'
            b"\r\ndata\r\n--b--"))
        message = self.assertPostedOn(raw, self.ticket, "attached")
        forward, inner = message.attachment_ids.sorted("name")
        self.assertEqual((forward.name, inner.name, inner.raw), ("attachment", "a\ufffdb", b"data"))
        self.assertIn(b"filename*=utf-8''a%EF%BF%BDb", forward.raw)

    def test_a_from_without_address_creates_the_record(self):
        # Stock's throttling looks up records by the normalized From, which is False here.
        raw = mail(b"From: @x.example", b"To: " + self.address("tickets").encode(), b"Subject: No sender",
                   b"Message-ID: <no-sender@vendor.example>")
        log = self.process(raw)
        self.assertEqual((log.stage, log.error), ("alias", False))
        ticket = self.env["mail.router.test.ticket"].search([("name", "=", "No sender")])
        self.assertEqual(log.mail_message_id, self.assertOnChatter(ticket, "No sender"))

    def test_a_content_type_decoding_to_a_lone_surrogate_is_kept_byte_for_byte(self):
        # The email package reads Content-Type while it parses, and raises on it: the mail
        # cannot be parsed; it is kept, known by its headers read as text.
        raw = self.reply("surrogate-type", b"Content-Type: =?utf-7?q?+2AA-?=")
        log = self.process(raw)
        self.assertEqual(log.stage, "quarantine")
        self.assertIn("cannot be parsed: UnicodeEncodeError", log.reason)
        self.assertEqual((log.message_id, log.email_from), ("<surrogate-type@vendor.example>", "ann@vendor.example"))
        kept = self.env["mail.router.quarantine"].search([("message_id", "=", log.message_id)])
        self.assertEqual(kept.raw_bytes(), raw)
        self.assertNotOnChatter(self.ticket, "surrogate-type")
