from odoo.tests import tagged

from .common import MailRouterCase


@tagged("post_install", "-at_install", "mail_router")
class TestLedger(MailRouterCase):
    """Exactly once: the routing log is the ledger."""

    def test_same_message_twice_is_posted_once(self):
        raw = self.incoming(self.address(f"tickets+{self.ticket.id}"), "Twice")
        first, second = self.process(raw), self.process(raw)
        self.assertEqual((first.stage, second.stage), ("record_address", "duplicate"))
        self.assertOnChatter(self.ticket, "Twice")

    def test_duplicate_whatever_the_first_outcome(self):
        raw = self.incoming(self.address("nobody"), "Quarantined once")
        self.process(raw)
        self.alias.alias_name = "nobody"
        self.assertEqual(self.process(raw).stage, "duplicate")
        self.assertEqual(len(self.env["mail.router.quarantine"].search([("subject", "=", "Quarantined once")])), 1)

    def test_missing_message_id_gets_a_stable_one(self):
        raw = self.incoming(self.address("tickets"), "No Message-ID", message_id=False)
        first, second = self.process(raw), self.process(raw)
        self.assertRegex(first.message_id, r"^<[0-9a-f]{32}@mail-router\.invalid>$")
        self.assertEqual((first.message_id, second.stage), (second.message_id, "duplicate"))
        self.assertEqual(len(self.env["mail.router.test.ticket"].search([("name", "=", "No Message-ID")])), 1)
