from odoo.tests import tagged

from .common import MailRouterCase

DEEP = 3000  # past Python's recursion limit: the email package cannot parse it


def deeply_nested(to):
    opening = b"".join(b'Content-Type: multipart/mixed; boundary="b%d"\r\n\r\n--b%d\r\n' % (n, n)
                       for n in range(DEEP))
    closing = b"".join(b"\r\n--b%d--" % n for n in reversed(range(DEEP)))
    return (b"From: ann@vendor.example\r\nTo: " + to.encode() + b"\r\nSubject: Russian dolls\r\n"
            b"Message-ID: <dolls@vendor.example>\r\nMIME-Version: 1.0\r\n"
            + opening + b"Content-Type: text/plain\r\n\r\ninside" + closing + b"\r\n")


@tagged("post_install", "-at_install", "mail_router")
class TestStorableText(MailRouterCase):
    """What PostgreSQL cannot store never stops a mail, nor the mail after it."""

    def assertNextMailLands(self):
        self.assertEqual(self.process(self.incoming(self.address("tickets"), "Next in the mailbox")).stage, "alias")

    def test_nul_in_headers_and_body_is_replaced_and_posted(self):
        raw = (b"From: Ann\x00 <ann@vendor.example>\r\nTo: " + self.address("tickets").encode() + b"\r\n"
               b"Subject: NUL\x00 here\r\nMessage-ID: <nul@vendor.example>\r\n"
               b"Content-Type: text/plain; charset=utf-8\r\n\r\nbody \x00 with NUL\r\n")
        log = self.process(raw)
        self.assertEqual(log.stage, "alias")
        ticket = self.env["mail.router.test.ticket"].search([("name", "=", "NUL\ufffd here")])
        self.assertTrue(ticket, "the ticket is named after the subject, its NUL made visible")
        self.assertEqual(log.subject, "NUL\ufffd here")
        self.assertNextMailLands()

    def test_lone_surrogates_from_decoding_are_replaced_and_posted(self):
        for subject in (b"=?unicode-escape?q?lone_\\ud800_surrogate?=", b"raw 8-bit \xff\xfe bytes"):
            with self.subTest(subject=subject):
                raw = self.incoming(self.address("tickets"), "placeholder").replace(b"placeholder", subject)
                log = self.process(raw)
                self.assertEqual(log.stage, "alias")
                self.assertTrue(log.mail_message_id)
        self.assertNextMailLands()

    def test_mime_nested_past_the_recursion_limit_is_quarantined_byte_for_byte(self):
        raw = deeply_nested(self.address("tickets"))
        log = self.process(raw)
        self.assertEqual(log.stage, "quarantine")
        self.assertIn("cannot be parsed: RecursionError", log.reason)
        entry = self.env["mail.router.quarantine"].search([("message_id", "=", "<dolls@vendor.example>")])
        self.assertEqual(entry.raw_bytes(), raw)
        self.assertNextMailLands()

    def test_huge_ids_and_addresses_are_no_ids_nor_addresses(self):
        rfq = self.post_on(self.ticket)
        huge_id = "<" + "x" * 10_000 + "@vendor.example>"
        huge_from = "a" * 10_000 + "@vendor.example"
        raw = self.incoming(self.catchall, "Re: RFQ", message_id=huge_id, email_from=huge_from,
                            References=f"{huge_id} {rfq.message_id}")
        log = self.process(raw)
        self.assertEqual(log.stage, "references")
        self.assertRegex(log.message_id, r"^<[0-9a-f]{32}@mail-router\.invalid>$")
        self.assertFalse(log.email_from)
        self.assertOnChatter(self.ticket, "Re: RFQ")
        self.assertEqual(self.process(raw).stage, "duplicate")

    def test_ten_thousand_references(self):
        rfq = self.post_on(self.ticket)
        references = " ".join(f"<{n}@spam.example>" for n in range(10_000))
        log = self.process(self.incoming(self.catchall, "Re: long thread", References=f"{rfq.message_id} {references}"))
        self.assertEqual(log.stage, "quarantine", "only the newest 32 ids are read: the RFQ is beyond them")
        log = self.process(self.incoming(self.catchall, "Re: long thread 2",
                                         References=f"{references} {rfq.message_id}"))
        self.assertEqual(log.stage, "references")
