"""The subject_reference stage on real records: hostile subjects never match wrongly and
stay cheap (one query per declared model at most), the switch and the public domains in
Settings, the simulator and the routing log explaining it. The seed's models (purchase,
sale, account) end to end are in test_seed_models_end_to_end.py."""
from odoo.tests import tagged

from odoo.addons.mail_router import parameters
from odoo.addons.mail_router.models.routing_lookup import RoutingLookup
from odoo.addons.mail_router.routing.chain import MAX_REFERENCE_TOKENS, decide
from odoo.addons.mail_router.routing.incoming import read_mail

from .common import MailRouterCase


@tagged("post_install", "-at_install", "mail_router")
class TestSubjectReference(MailRouterCase):
    """The test ticket declares its name as its reference: PO0001 is the vendor's."""

    def decide(self, raw):
        Thread = self.env["mail.thread"]
        return decide(read_mail(raw)[1], RoutingLookup(self.env), Thread._mail_router_codec(),
                      Thread._mail_router_config(None))

    def declared_models(self):
        return len(self.env["mail.thread"]._mail_router_reference_fields())

    def test_a_reply_without_thread_headers_lands_by_its_subject(self):
        log = self.process(self.incoming(self.catchall, "Re: [PO0001] the delivery"))
        self.assertEqual((log.stage, log.matched, log.target_record), ("subject_reference", "PO0001", self.ticket))
        self.assertOnChatter(self.ticket, "Re: [PO0001] the delivery", author=self.vendor)
        self.assertIn("known to the record", log.reason)

    def test_a_stranger_is_quarantined_and_told_nothing_about_the_record(self):
        log = self.process(self.incoming(self.catchall, "Re: PO0001", email_from="mallory@evil.example"))
        self.assertEqual(log.stage, "quarantine")
        self.assertIn("not routed by subject", log.reason)
        self.assertNotOnChatter(self.ticket, "Re: PO0001")
        gone = self.process(self.incoming(self.catchall, "Re: PO9999", email_from="mallory@evil.example"))
        self.assertEqual((gone.stage, gone.bounce_sent), (log.stage, log.bounce_sent),
                         "guessing a reference reveals nothing to the sender")

    def test_wildcards_are_text(self):
        """'_' and '%' are LIKE wildcards: a Subject naming P_0001 reaches P_0001 only, and
        no Subject reaches a record by a pattern."""
        underscore = self.env["mail.router.test.ticket"].create({"name": "P_0001", "partner_id": self.vendor.id})
        for subject in ("Re: PO%", "Re: P%0001", "Re: PX0001", "Re: %", "Re: PO__01", "Re: _O0001"):
            with self.subTest(subject=subject):
                log = self.process(self.incoming(self.catchall, subject))
                self.assertEqual(log.stage, "quarantine", log.reason)
        log = self.process(self.incoming(self.catchall, "Re: P_0001"))
        self.assertEqual((log.stage, log.target_record), ("subject_reference", underscore))

    def test_hostile_subjects_stay_cheap_and_match_nothing_wrongly(self):
        raw = self.incoming(self.catchall, "Hello")
        self.decide(raw)  # the configuration and the declared models, cached from then on
        many = " ".join(f"X{n}" for n in range(10_000)) + " PO0001"
        self.env.invalidate_all()
        with self.assertQueryCount(self.declared_models()):  # one per declared model, whatever the Subject
            decision = self.decide(self.incoming(self.catchall, many))
        self.assertEqual(decision.stage, "quarantine", "only the first tokens are looked up")
        with self.assertQueryCount(0):  # no plausible token: nothing is looked up
            self.decide(self.incoming(self.catchall, "Re: Re: Fwd: our order, as discussed"))
        self.assertGreater(self.declared_models(), 1)
        self.assertEqual(MAX_REFERENCE_TOKENS, 20)
        # as raw bytes: the email package would not write some of them
        for subject in (b"x" * 200_000, b"PO" + b"0" * 5000 + b"1", b"Re: PO0001\x00DROP", b"'; DROP TABLE x; --1",
                        b"=?unicode-escape?q?PO0001=5Cud800?=", b"=?utf-7?q?+2AA-PO0001?=",
                        b"\xff\xfePO0001\xed\xa0\x80"):
            with self.subTest(subject=subject[:40]):
                raw = self.incoming(self.catchall, "SUBJECT").replace(b"Subject: SUBJECT", b"Subject: " + subject)
                log = self.process(raw)
                self.assertIn(log.stage, {"quarantine", "subject_reference"}, log.reason)
                self.assertFalse(log.error)
                if log.stage == "subject_reference":
                    self.assertEqual(log.target_record, self.ticket)

    def test_an_encoded_subject_is_read_decoded(self):
        log = self.process(self.incoming(self.catchall, "=?utf-8?q?R=C3=A9f=C3=A9rence_PO0001?="))
        self.assertEqual((log.stage, log.target_record), ("subject_reference", self.ticket))

    def test_the_decision_costs_one_query_per_declared_model_then_the_sender_check(self):
        raw = self.incoming(self.catchall, "Re: PO0001")
        self.decide(raw)
        self.env.invalidate_all()
        # the references (one query per declared model), then whether the vendor is known
        # to the ticket: it exists, its followers, its partner, the partner's address
        with self.assertQueryCount(self.declared_models() + 4):
            decision = self.decide(raw)
        self.assertEqual((decision.stage, decision.targets[0].res_id), ("subject_reference", self.ticket.id))

    def test_the_reference_lookup_is_one_query_per_model(self):
        lookup = RoutingLookup(self.env)
        models = [model for model, _field in self.env["mail.thread"]._mail_router_reference_fields()]
        self.env.invalidate_all()
        with self.assertQueryCount(len(models)):
            found = lookup.records_by_reference([f"T{n}" for n in range(MAX_REFERENCE_TOKENS)] + ["po0001"], models,
                                                [self.env.company.id])
        self.assertEqual([(r.model, r.res_id, r.reference) for r in found],
                         [("mail.router.test.ticket", self.ticket.id, "PO0001")])

    def test_off_in_settings_it_routes_nothing(self):
        settings = self.env["res.config.settings"].create({})
        self.assertTrue(settings.mail_router_subject_reference, "on by default")
        self.assertIn("gmail.com", settings.mail_router_public_mail_domains)
        settings.mail_router_subject_reference = False
        settings.execute()
        self.assertEqual(self.env["ir.config_parameter"].get_param(parameters.SUBJECT_REFERENCE.key), "False")
        self.assertFalse(self.env["res.config.settings"].create({}).mail_router_subject_reference, "off stays off")
        log = self.process(self.incoming(self.catchall, "Re: PO0001 while off"))
        self.assertEqual(log.stage, "quarantine")
        self.assertNotIn("subject", log.reason)
        self.env["res.config.settings"].create({"mail_router_subject_reference": True}).execute()
        self.assertFalse(self.env["ir.config_parameter"].get_param(parameters.SUBJECT_REFERENCE.key),
                         "the default is kept as no parameter")
        self.assertEqual(self.process(self.incoming(self.catchall, "Re: PO0001 on again")).stage, "subject_reference")

    def test_the_public_domains_are_a_system_parameter(self):
        Settings = self.env["res.config.settings"]
        Settings.create({"mail_router_public_mail_domains": "Vendor.Example, x.example"}).execute()
        self.assertEqual(self.env["mail.thread"]._mail_router_config(None).public_mail_domains,
                         ("vendor.example", "x.example"))
        Settings.create({"mail_router_public_mail_domains": ""}).execute()
        self.assertFalse(self.env["ir.config_parameter"].get_param(parameters.PUBLIC_MAIL_DOMAINS.key))
        self.assertIn("outlook.com", self.env["mail.thread"]._mail_router_config(None).public_mail_domains,
                      "empty: the shipped list")

    def test_the_simulator_shows_the_stage(self):
        raw = self.incoming(self.catchall, "Re: PO0001", email_from="mallory@evil.example")
        simulator = self.env["mail.router.simulator"].create({"raw_message": raw.decode()})
        simulator.action_simulate()
        step = simulator.step_ids.filtered(lambda s: s.stage == "subject_reference")
        self.assertIn("PO0001", step.looked_at)
        self.assertEqual(step.outcome, "no_match")
        self.assertIn(f"Subject token PO0001 is the reference of Mail Router Test Ticket {self.ticket.display_name}, "
                      "but the sender mallory@evil.example is unknown to the record", step.result)
        self.assertIn(step.result, simulator.reason, "the decision says why not by subject too")
        simulator.raw_message = self.incoming(self.catchall, "Re: PO0001").decode()
        simulator.action_simulate()
        self.assertEqual((simulator.stage, simulator.target, simulator.matched),
                         ("subject_reference", self.ticket, "PO0001"))
        self.assertEqual(simulator.step_ids.filtered(lambda s: s.stage == "subject_reference").outcome, "decided")
