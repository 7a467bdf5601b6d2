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
        self.assertEqual(simulator.reason, f"a reply (In-Reply-To) to a message posted on {self.ticket.display_name}")
        steps = simulator.step_ids
        self.assertEqual(steps.mapped("outcome")[:3], ["no_match", "no_match", "decided"])
        self.assertEqual(set(steps[3:9].mapped("outcome")), {"not_reached"}, "the chain stops at the first decision")
        self.assertEqual(steps[9:].mapped("stage"), ["loop_headers", "acceptance", "contact_policy", "throttling"])
        self.assertEqual(set(steps[9:].mapped("outcome")), {"passed"}, "admission then checks the target")
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
        self.assertEqual(len(simulator.step_ids), 13, "9 stages of the chain, 4 of admission")
        self.assertEqual(simulator.step_ids[8].outcome, "decided")
        self.assertTrue(all(step.looked_at for step in simulator.step_ids))

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


@tagged("post_install", "-at_install", "mail_router")
class TestSimulatorAgreesWithTheGateway(MailRouterCase):
    """The simulator runs the gateway's judge: fed the same mails, the two say the same,
    refused and throttled mail included."""

    def test_the_same_mails_get_the_same_outcome(self):
        partners_only = self.env["mail.alias"].create({
            "alias_name": "partners-only", "alias_domain_id": self.mail_alias_domain.id,
            "alias_model_id": self.ticket_model.id, "alias_contact": "partners"})
        self.env["ir.config_parameter"].set_param("mail.gateway.loop.threshold", 2)
        rfq = self.post_on(self.ticket)
        mails = {
            "reply": self.incoming(self.catchall, "Re: RFQ", In_Reply_To=rfq.message_id),
            "new ticket": self.incoming(self.address("tickets"), "A new ticket", email_from="flood@spam.example"),
            "stranger to partners only": self.incoming(partners_only.display_name, "Let me in",
                                                      email_from="stranger@nowhere.example"),
            "known partner to partners only": self.incoming(partners_only.display_name, "Hello again"),
            "past the threshold": self.incoming(self.address("tickets"), "A third ticket",
                                                email_from="flood@spam.example"),
            "auto-reply": self.incoming(self.address("tickets"), "Out of office", Auto_Submitted="auto-replied"),
            "answer to our loop notice": self.incoming(
                self.address("tickets"), "Re: too many", References="<1.2-loop-detection-bounce-email@x.example>"),
            "nowhere": self.incoming(self.address("nobody"), "Lost"),
            "by subject": self.incoming(self.catchall, "Re: PO0001, without thread headers"),
            "by subject, from a stranger": self.incoming(self.catchall, "Re: PO0001", email_from="x@evil.example"),
        }
        # the flood's first two tickets: the threshold is 2
        for subject in ("Flood 1", "Flood 2"):
            self.process(self.incoming(self.address("tickets"), subject, email_from="flood@spam.example"))
        expected = {"reply": "in_reply_to", "new ticket": "throttled", "stranger to partners only": "refused",
                    "known partner to partners only": "alias", "past the threshold": "throttled",
                    "auto-reply": "auto_reply", "answer to our loop notice": "loop", "nowhere": "quarantine",
                    "by subject": "subject_reference", "by subject, from a stranger": "quarantine"}
        for name, raw in mails.items():
            with self.subTest(mail=name):
                simulator = self.env["mail.router.simulator"].create({"raw_message": raw.decode()})
                simulator.action_simulate()
                log = self.process(raw)
                self.assertEqual((simulator.stage, log.stage), (expected[name], expected[name]), log.reason)
                self.assertEqual(simulator.reason, log.reason)
