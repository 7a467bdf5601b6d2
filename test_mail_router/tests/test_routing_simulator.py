from odoo.tests import tagged

from .common import MailRouterCase


@tagged("post_install", "-at_install", "mail_router")
class TestRoutingSimulator(MailRouterCase):
    """Where would this mail go, and why: decided as the gateway would, nothing written."""

    def simulate(self, raw, server=None):
        simulator = self.env["mail.router.simulator"].with_user(self.user_admin).create({
            "raw_message": raw.decode(), "fetchmail_server_id": server and server.id})
        written = self.written_counts()
        with self.mock_mail_gateway():
            simulator.action_simulate()
        self.assertEqual(self.written_counts(), written, "the simulator must post, log and claim nothing")
        return simulator

    def written_counts(self):
        return tuple(self.env[model].search_count([]) for model in (
            "mail.message", "mail.router.log", "mail.router.ledger", "mail.router.quarantine",
            "mail.router.test.ticket", "mail.mail"))

    def test_a_reply_would_reach_the_thread(self):
        rfq = self.post_on(self.ticket)
        simulator = self.simulate(self.incoming(self.catchall, "Re: RFQ", In_Reply_To=rfq.message_id))
        self.assertEqual((simulator.stage, simulator.target, simulator.matched),
                         ("in_reply_to", self.ticket, rfq.message_id))
        self.assertIn("a stored message", simulator.reason)
        steps = simulator.step_ids
        self.assertEqual(steps.mapped("outcome")[:3], ["no_match", "no_match", "decided"])
        self.assertEqual(set(steps[3:].mapped("outcome")), {"not_reached"})
        self.assertIn(rfq.message_id, steps[2].looked_at)

    def test_an_alias_mail_would_create_a_record(self):
        simulator = self.simulate(self.incoming(self.address("tickets"), "New ticket"))
        self.assertEqual(simulator.stage, "alias")
        self.assertFalse(simulator.target)
        self.assertIn("new", simulator.target_description)

    def test_an_unroutable_mail_would_be_quarantined_and_every_stage_says_why(self):
        simulator = self.simulate(self.incoming(self.address("nobody"), "Lost"))
        self.assertEqual(simulator.stage, "quarantine")
        self.assertIn("no default model", simulator.reason)
        self.assertEqual(len(simulator.step_ids), 8)
        self.assertEqual(simulator.step_ids[-1].outcome, "decided")

    def test_the_server_default_model_is_used(self):
        server = self.env["fetchmail.server"].create({
            "name": "Mailbox", "server_type": "imap", "server": "mail.example.com", "user": "odoo",
            "password": "secret", "object_id": self.ticket_model.id})
        simulator = self.simulate(self.incoming(self.address("nobody"), "Default"), server)
        self.assertEqual(simulator.stage, "catchall_default")

    def test_a_processed_mail_is_a_duplicate(self):
        raw = self.incoming(self.address("tickets"), "Once")
        self.process(raw)
        self.assertEqual(self.simulate(raw).stage, "duplicate")

    def test_opened_on_a_quarantined_mail_it_is_simulated(self):
        self.process(self.incoming(self.address("support"), "Support request"))
        entry = self.env["mail.router.quarantine"].search([("subject", "=", "Support request")])
        self.alias.alias_name = "support"
        action = entry.with_user(self.user_admin).action_simulate()
        simulator = self.env["mail.router.simulator"].browse(action["res_id"])
        self.assertEqual(simulator.stage, "alias")
        self.assertEqual(entry.state, "pending")
