import base64

from odoo.tests import tagged

from .common import MailRouterCase


@tagged("post_install", "-at_install", "mail_router")
class TestQuarantine(MailRouterCase):

    def quarantined(self, subject):
        return self.env["mail.router.quarantine"].search([("subject", "=", subject)])

    def test_no_route_keeps_raw_bytes_and_retry_routes_once_fixed(self):
        raw = self.incoming(self.address("support"), "To an alias not made yet")
        log = self.process(raw)
        entry = self.quarantined("To an alias not made yet")
        self.assertEqual((log.stage, entry.state), ("quarantine", "pending"))
        self.assertEqual(base64.b64decode(entry.with_context(bin_size=False).raw), raw)
        self.assertEqual(entry.raw_bytes(), raw)
        self.alias.alias_name = "support"
        entry.retry()
        self.assertEqual(entry.state, "routed")
        self.assertTrue(self.env["mail.router.test.ticket"].search([("name", "=", "To an alias not made yet")]))

    def test_processing_error_is_quarantined_with_the_error(self):
        raw = self.incoming(self.address("nobody"), "REJECTED by the model")
        log = self.process(raw, model="mail.router.test.ticket")
        entry = self.quarantined("REJECTED by the model")
        self.assertEqual(log.stage, "quarantine")
        self.assertIn("processing failed: ValidationError", entry.reason)
        self.assertIn("tickets named REJECTED are refused", entry.error)
        self.assertEqual(entry.raw_bytes(), raw)
        self.assertFalse(self.env["mail.router.test.ticket"].search([("name", "like", "REJECTED")]))

    def test_unparsable_mime_is_kept(self):
        raw = (b"From: ann@vendor.example\r\nTo: " + self.address("nobody").encode() + b"\r\n"
               b"Subject: =?x-unknown?B?////?=\r\nContent-Type: multipart/mixed; boundary=\"\r\n"
               b"\r\n\xff\xfe garbage")
        self.process(raw)
        entry = self.env["mail.router.quarantine"].search([], limit=1)
        self.assertEqual(entry.raw_bytes(), raw)

    def test_bounce_to_known_sender_once_a_day(self):
        raw = self.incoming(self.catchall, "To catchall only")
        log = self.process(raw)
        self.assertEqual((log.stage, log.bounce_sent), ("quarantine", True))
        self.assertSentEmail(self.mailer_daemon_email, [self.vendor.email], subject="Re: To catchall only")
        self.assertIn("'Auto-Submitted': 'auto-replied'", self._new_mails.headers)
        again = self.process(self.incoming(self.catchall, "Again to catchall"))
        self.assertEqual((again.stage, again.bounce_sent), ("quarantine", False))
        self.assertNotSentEmail()

    def test_no_bounce_to_unknown_or_automatic_senders(self):
        stranger = self.process(self.incoming(self.catchall, "Forged sender", email_from="victim@elsewhere.example"))
        self.assertFalse(stranger.bounce_sent)
        self.assertNotSentEmail()
        automatic = self.process(self.incoming(self.catchall, "Out of office", Auto_Submitted="auto-replied"))
        self.assertEqual(automatic.stage, "auto_reply")
        self.assertNotSentEmail()

    def test_discard(self):
        self.process(self.incoming(self.address("nobody"), "Spam"))
        entry = self.quarantined("Spam")
        entry.action_discard()
        self.assertEqual(entry.state, "discarded")
