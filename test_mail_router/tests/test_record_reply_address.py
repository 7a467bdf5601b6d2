from email.utils import parseaddr

from odoo.tests import tagged

from .common import MailRouterCase

DMARC_PASS = "mx.test.example; dmarc=pass header.from=vendor.example"
DMARC_FAIL = "mx.test.example; dmarc=fail header.from=vendor.example"


@tagged("post_install", "-at_install", "mail_router")
class TestRecordReplyAddress(MailRouterCase):
    """The seed's purchase+123@ Reply-To, signed: replies route with every thread header lost."""

    def send_from(self, record):
        """(Reply-To, References) of the email a message posted on ``record`` sends the vendor."""
        with self.mock_mail_gateway():
            record.with_user(self.user_employee).message_post(
                body="Our RFQ", partner_ids=self.vendor.ids, message_type="comment", subtype_xmlid="mail.mt_comment")
        return self._mails[0]["reply_to"], self._mails[0]["references"]

    def record_style(self):
        self.env["ir.config_parameter"].set_param("mail_router.reply_to_style", "record")

    def test_stock_reply_to_by_default(self):
        reply_to, _references = self.send_from(self.ticket)
        self.assertEqual(parseaddr(reply_to)[1], self.catchall)

    def test_record_style_names_the_record_on_its_models_alias(self):
        self.record_style()
        reply_to, _references = self.send_from(self.ticket)
        name, address = parseaddr(reply_to)
        tag = self.codec.record_address_tag("mail.router.test.ticket", self.ticket.id)
        self.assertEqual(address, self.address(f"tickets+{tag}"))
        self.assertIn(self.ticket.display_name, name, "the display name stays stock's")

    def test_reply_without_thread_headers_lands_on_the_record(self):
        self.record_style()
        reply_to, _references = self.send_from(self.ticket)
        log = self.process(self.incoming(parseaddr(reply_to)[1], "Edited subject, no headers",
                                         email_from="someone.new@vendor.example"))
        self.assertEqual(log.stage, "record_address")
        self.assertIn("validly signed", log.reason)
        self.assertOnChatter(self.ticket, "Edited subject, no headers")

    def test_one_changed_character_of_the_signature_never_routes(self):
        self.record_style()
        address = parseaddr(self.send_from(self.ticket)[0])[1]
        local, domain = address.split("@")
        tampered = f"{local[:-1]}{'0' if local[-1] != '0' else '1'}@{domain}"
        for sender in ("stranger@elsewhere.example", "ann@vendor.example"):
            with self.subTest(sender=sender):
                log = self.process(self.incoming(tampered, f"Tampered from {sender}", email_from=sender))
                self.assertEqual(log.stage, "quarantine")
                self.assertIn("not validly signed", log.reason)
                self.assertNotOnChatter(self.ticket, f"Tampered from {sender}")

    def test_a_model_without_alias_uses_the_catchall(self):
        self.record_style()
        self.alias.unlink()
        reply_to, _references = self.send_from(self.ticket)
        tag = self.codec.catchall_address_tag("mail.router.test.ticket", self.ticket.id)
        self.assertEqual(parseaddr(reply_to)[1], self.address(f"{self.alias_catchall}+{tag}"))
        log = self.process(self.incoming(parseaddr(reply_to)[1], "Through the catchall"))
        self.assertEqual(log.stage, "record_address")
        self.assertOnChatter(self.ticket, "Through the catchall")

    def test_thread_headers_still_come_first(self):
        self.record_style()
        rfq = self.post_on(self.other_ticket)
        reply_to, _references = self.send_from(self.ticket)
        log = self.process(self.incoming(parseaddr(reply_to)[1], "Reply to the other", In_Reply_To=rfq.message_id))
        self.assertEqual(log.stage, "in_reply_to")
        self.assertOnChatter(self.other_ticket, "Reply to the other")

    def test_reply_through_a_relay_rewriting_message_ids_routes_by_references(self):
        _reply_to, references = self.send_from(self.ticket)
        ours = references.split()[-1]
        self.assertTrue(ours.startswith(f"<mail.router.test.ticket-{self.ticket.id}-"), references)
        self.ticket.message_ids.filtered(lambda m: m.message_id == ours).unlink()
        # Amazon SES and the like give the mail their own Message-ID: the reply names it first
        relayed = "<0100018c-ses@email.amazonses.com>"
        log = self.process(self.incoming(self.catchall, "Re: via the relay", In_Reply_To=relayed,
                                         References=f"{ours} {relayed}"))
        self.assertEqual(log.stage, "references")
        self.assertIn("validly signed id", log.reason)
        self.assertOnChatter(self.ticket, "Re: via the relay")


@tagged("post_install", "-at_install", "mail_router")
class TestSenderAuthentication(MailRouterCase):
    """An unsigned alias+<id>@ trusts a known sender only if our MTA authenticated their From."""

    def setUp(self):
        super().setUp()
        self.env["ir.config_parameter"].set_param("mail_router.trusted_authserv_ids", "mx.test.example")
        self.plus = self.address(f"tickets+{self.ticket.id}")

    def receive(self, subject, *results):
        raw = self.incoming(self.plus, subject)
        headers = b"".join(b"Authentication-Results: " + value.encode() + b"\r\n" for value in results)
        return self.process(headers + raw)

    def test_dmarc_pass(self):
        log = self.receive("DMARC pass", DMARC_PASS)
        self.assertEqual(log.stage, "record_address")
        self.assertEqual(log.authentication, "DMARC passed for vendor.example per mx.test.example")

    def test_dmarc_fail(self):
        log = self.receive("DMARC fail", DMARC_FAIL)
        self.assertEqual(log.stage, "quarantine")
        self.assertIn("DMARC failed for vendor.example per mx.test.example", log.reason)
        entry = self.env["mail.router.quarantine"].search([("subject", "=", "DMARC fail")])
        self.assertEqual(entry.authentication, "DMARC failed for vendor.example per mx.test.example")

    def test_a_forged_pass_below_ours_is_ignored(self):
        self.assertEqual(self.receive("Forged below", DMARC_FAIL, DMARC_PASS).stage, "quarantine")

    def test_an_untrusted_server_is_ignored(self):
        log = self.receive("Untrusted", "mx.attacker.example; dmarc=pass header.from=vendor.example")
        self.assertEqual(log.stage, "quarantine")
        self.assertIn("no Authentication-Results from mx.test.example", log.reason)

    def test_no_header_at_all(self):
        self.assertEqual(self.receive("No header").stage, "quarantine")

    def test_unset_takes_from_as_written(self):
        self.env["ir.config_parameter"].set_param("mail_router.trusted_authserv_ids", "")
        log = self.receive("Not checked", DMARC_FAIL)
        self.assertEqual(log.stage, "record_address")
        self.assertFalse(log.authentication)
