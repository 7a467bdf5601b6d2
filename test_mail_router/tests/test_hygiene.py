from odoo.tests import tagged

from .common import MailRouterCase


@tagged("post_install", "-at_install", "mail_router")
class TestHygiene(MailRouterCase):
    """Bounces, loops, auto-replies and throttling never start a mail loop."""

    def test_delivery_status_updates_the_bounced_partner(self):
        rfq = self.post_on(self.ticket)
        log = self.process(self.delivery_status(self.vendor.email, rfq.message_id, "Undelivered"))
        self.assertEqual(log.stage, "bounce")
        self.assertEqual(self.vendor.message_bounce, 1)
        self.assertNotOnChatter(self.ticket, "Undelivered")

    def test_a_mail_from_a_bounced_address_resets_its_count_as_stock_does(self):
        """Stock compares the partners' normalized address with From as it reads: only a
        bare address resets the count, "Name <address>" does not (and costs no search)."""
        self.vendor.message_bounce = 2
        self.process(self.incoming(self.address("tickets"), "With a name", email_from=f"Ann <{self.vendor.email}>"))
        self.assertEqual(self.vendor.message_bounce, 2)
        self.process(self.incoming(self.address("tickets"), "Bare address", email_from=self.vendor.email_normalized))
        self.assertEqual(self.vendor.message_bounce, 0)

    def test_mail_from_our_catchall_is_a_loop(self):
        log = self.process(self.incoming(self.address("tickets"), "Looping", email_from=self.catchall))
        self.assertEqual(log.stage, "loop")
        self.assertFalse(self.env["mail.router.test.ticket"].search([("name", "=", "Looping")]))

    def test_auto_reply_posts_on_a_thread_but_never_creates(self):
        rfq = self.post_on(self.ticket)
        on_thread = self.process(self.incoming(self.catchall, "Out of office (thread)",
                                               In_Reply_To=rfq.message_id, Auto_Submitted="auto-replied"))
        self.assertEqual(on_thread.stage, "in_reply_to")
        self.assertOnChatter(self.ticket, "Out of office (thread)")
        to_alias = self.process(self.incoming(self.address("tickets"), "Out of office (alias)", X_Autoreply="yes"))
        self.assertEqual(to_alias.stage, "auto_reply")
        self.assertFalse(self.env["mail.router.test.ticket"].search([("name", "=", "Out of office (alias)")]))
        self.assertNotSentEmail()

    def test_sender_creating_too_many_records_is_throttled(self):
        self.env["ir.config_parameter"].set_param("mail.gateway.loop.threshold", 2)
        stages = [self.process(self.incoming(self.address("tickets"), f"Flood {n}",
                                             email_from="robot@flood.example")).stage for n in range(3)]
        self.assertEqual(stages, ["alias", "alias", "throttled"])
        self.assertEqual(len(self.env["mail.router.test.ticket"].search([("name", "like", "Flood")])), 2)
