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
        self.assertEqual(log.stage, "failed")
        self.assertIn("processing failed: ValidationError", entry.reason)
        self.assertIn("tickets named REJECTED are refused", entry.error)
        self.assertEqual(entry.raw_bytes(), raw)
        self.assertFalse(self.env["mail.router.test.ticket"].search([("name", "like", "REJECTED")]))

    def test_every_reason_keeps_the_bytes_and_retry_works_once_fixed(self):
        server = self.env["fetchmail.server"].create({
            "name": "Mailbox", "server_type": "imap", "server": "mail.example.com", "user": "odoo",
            "password": "secret", "object_id": self.env["ir.model"]._get_id("mail.router.test.ticket")})

        def make_known(email):
            partner = self.env["res.partner"].create({"name": email, "email": email})
            self.ticket.message_subscribe(partner.ids)

        def refuse_strangers(_email):
            self.alias.alias_contact = "partners"

        def default_to_partners(_email):
            server.object_id = self.env["ir.model"]._get("res.partner")

        cases = [  # reason, recipient, what breaks it, what fixes it, subject
            ("refuses the sender", self.address("tickets"), refuse_strangers, make_known, "Policy"),
            ("not validly signed", self.address(f"tickets+{self.ticket.id}"), None, make_known, "Plus"),
            ("processing failed", self.address("nobody"), None, default_to_partners, "REJECTED by tickets"),
        ]
        for index, (reason, to, break_it, fix_it, subject) in enumerate(cases):
            with self.subTest(reason=reason):
                sender = f"stranger{index}@evil.example"
                if break_it:
                    break_it(sender)
                raw = self.incoming(to, subject, email_from=sender)
                with self.mock_mail_gateway():
                    self.env["mail.thread"].with_context(default_fetchmail_server_id=server.id).sudo() \
                        .message_process(server.object_id.model, raw)
                entry = self.quarantined(subject)
                self.assertIn(reason, entry.reason)
                self.assertEqual((entry.raw_bytes(), entry.state), (raw, "pending"))
                fix_it(sender)
                with self.mock_mail_gateway():
                    entry.retry()
                self.assertEqual(entry.state, "routed", entry.reason)
                self.assertEqual(self.env["mail.router.log"].search([], limit=1).fetchmail_server_id, server)

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

    def test_the_bounce_of_a_mail_without_message_id_names_that_mail(self):
        """Its id is the intake's, made of its bytes: the record of the bounce says which
        mail it was about, and the log says that a bounce was sent."""
        first, second = (self.incoming(self.catchall, subject, message_id=False)
                         for subject in ("No id, first", "No id, second"))
        log = self.process(first)
        self.assertTrue(log.message_id.endswith("@mail-router.invalid>"))
        self.assertEqual((log.stage, log.bounce_sent), ("quarantine", True))
        bounce = self.env["mail.router.bounce"].search([("email_to", "=", self.vendor.email)])
        self.assertEqual(bounce.message_id, log.message_id)
        other = self.process(second)
        self.assertNotEqual(other.message_id, log.message_id)
        self.assertFalse(other.bounce_sent, "once a day to one address: not about the second mail")

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
