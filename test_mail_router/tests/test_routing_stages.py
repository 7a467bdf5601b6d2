from odoo.tests import tagged

from .common import MailRouterCase


@tagged("post_install", "-at_install", "mail_router")
class TestRoutingStages(MailRouterCase):
    """Each stage of the chain, in the spec's order, on real records."""

    def test_in_reply_to_stored_message(self):
        rfq = self.post_on(self.ticket)
        log = self.process(self.incoming(self.catchall, "Re: RFQ", In_Reply_To=rfq.message_id))
        self.assertEqual((log.stage, log.matched), ("in_reply_to", rfq.message_id))
        self.assertOnChatter(self.ticket, "Re: RFQ", parent=rfq, author=self.vendor)
        self.assertEqual(log.mail_message_id.res_id, self.ticket.id)

    def test_in_reply_to_wins_over_references(self):
        """Stock follows References and ignores In-Reply-To: the reply lands on the wrong record."""
        ours = self.post_on(self.ticket)
        elsewhere = self.post_on(self.other_ticket)
        self.process(self.incoming(self.catchall, "Re: which one", In_Reply_To=ours.message_id,
                                   References=f"{ours.message_id} {elsewhere.message_id}"))
        self.assertOnChatter(self.ticket, "Re: which one", parent=ours)
        self.assertNotOnChatter(self.other_ticket, "Re: which one")

    def test_references_newest_first(self):
        first = self.post_on(self.other_ticket)
        last = self.post_on(self.ticket)
        raw = self.incoming(self.catchall, "Re: refs", References=f"<x@nowhere> {first.message_id} {last.message_id}")
        folded = raw.replace(f" {last.message_id}".encode(), f"\r\n\t{last.message_id}".encode())
        log = self.process(folded)
        self.assertEqual((log.stage, log.matched), ("references", last.message_id))
        self.assertOnChatter(self.ticket, "Re: refs", parent=last)

    def test_signed_id_routes_after_original_deleted(self):
        rfq = self.post_on(self.ticket)
        message_id = rfq.message_id
        rfq.unlink()
        log = self.process(self.incoming(self.catchall, "Re: deleted", In_Reply_To=message_id))
        self.assertEqual(log.stage, "in_reply_to")
        self.assertOnChatter(self.ticket, "Re: deleted")

    def test_forged_and_guessed_ids_do_not_route(self):
        """An id of our form routes by decoding only with a valid signature."""
        genuine = self.codec.encode("mail.router.test.ticket", self.ticket.id, self.alias_domain)
        forged = genuine.replace(f"-{self.ticket.id}-", f"-{self.other_ticket.id}-")
        unsigned = f"<mail.router.test.ticket-{self.other_ticket.id}-1702500000-0123456789@{self.alias_domain}>"
        for subject, message_id in (("forged", forged), ("unsigned", unsigned)):
            log = self.process(self.incoming(self.catchall, subject, In_Reply_To=message_id))
            self.assertEqual(log.stage, "quarantine", subject)
            self.assertNotOnChatter(self.ticket | self.other_ticket, subject)

    def test_deleted_record_falls_through_to_next_stage(self):
        gone = self.env["mail.router.test.ticket"].create({"name": "gone"})
        stale = self.post_on(gone)
        message_id = stale.message_id
        gone.unlink()
        log = self.process(self.incoming(self.address("tickets"), "After deletion", In_Reply_To=message_id))
        self.assertEqual(log.stage, "alias")
        self.assertTrue(self.env["mail.router.test.ticket"].search([("name", "=", "After deletion")]))

    def test_alias_creates_record(self):
        log = self.process(self.incoming(f"Tickets <{self.address('tickets')}>", "New ticket"))
        created = self.env["mail.router.test.ticket"].search([("name", "=", "New ticket")])
        self.assertEqual(len(created), 1)
        self.assertEqual((log.stage, log.alias_id, log.target_res_ids), ("alias", self.alias, False))
        self.assertOnChatter(created, "New ticket", author=self.vendor)

    def test_alias_forced_thread(self):
        self.alias.alias_force_thread_id = self.ticket.id
        self.process(self.incoming(self.address("tickets"), "Forced"))
        self.assertOnChatter(self.ticket, "Forced")

    def test_alias_contact_policy_partners(self):
        self.alias.alias_contact = "partners"
        log = self.process(self.incoming(self.address("tickets"), "From a stranger", email_from="x@unknown.example"))
        self.assertEqual(log.stage, "refused")
        self.assertIn(f"the alias {self.alias.display_name} refuses the sender: restricted to known authors",
                      log.reason)
        # stock tells the stranger (at the Return-Path); the one bounce policy tells known partners only
        self.assertNotSentEmail()
        self.process(self.incoming(self.address("tickets"), "From a partner"))
        self.assertTrue(self.env["mail.router.test.ticket"].search([("name", "=", "From a partner")]))

    def test_record_address_signed(self):
        tag = self.codec.record_address_tag("mail.router.test.ticket", self.other_ticket.id)
        log = self.process(self.incoming(self.address(f"tickets+{tag}"), "Signed plus", email_from="x@unknown.example"))
        self.assertEqual((log.stage, log.target_res_ids), ("record_address", str(self.other_ticket.id)))
        self.assertOnChatter(self.other_ticket, "Signed plus")

    def test_record_address_known_sender(self):
        """The seed's purchase+123@ form: the vendor is a partner of the record."""
        log = self.process(self.incoming(self.address(f"tickets+{self.ticket.id}"), "Plain plus"))
        self.assertEqual(log.stage, "record_address")
        self.assertOnChatter(self.ticket, "Plain plus", author=self.vendor)

    def test_record_address_unknown_sender_quarantined(self):
        log = self.process(self.incoming(self.address(f"tickets+{self.ticket.id}"), "Guessing",
                                         email_from="mallory@evil.example"))
        self.assertEqual(log.stage, "quarantine")
        self.assertIn("not validly signed", log.reason)
        self.assertNotOnChatter(self.ticket, "Guessing")
        self.assertEqual(self.env["mail.router.quarantine"].search([("subject", "=", "Guessing")]).reason, log.reason)

    def test_catchall_default_model(self):
        log = self.process(self.incoming(self.address("nobody-here"), "Default model"), model="mail.router.test.ticket")
        self.assertEqual(log.stage, "catchall_default")
        self.assertTrue(self.env["mail.router.test.ticket"].search([("name", "=", "Default model")]))

    def test_forward_to_alias_of_other_model(self):
        """Stock's forward rule: a reply sent to an alias of another model is a forward."""
        partner_model = self.env["ir.model"]._get("res.partner")
        self.env["mail.alias"].create({
            "alias_name": "contacts", "alias_domain_id": self.mail_alias_domain.id,
            "alias_model_id": partner_model.id, "alias_contact": "everyone"})
        rfq = self.post_on(self.ticket)
        log = self.process(self.incoming(self.address("contacts"), "Fwd: RFQ", In_Reply_To=rfq.message_id))
        self.assertEqual((log.stage, log.target_model), ("alias", "res.partner"))
        self.assertNotOnChatter(self.ticket, "Fwd: RFQ")
