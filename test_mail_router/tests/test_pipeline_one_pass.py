"""One pass per mail: the decision is made once and the rest of the pipeline uses it;
the configuration is read once and follows its changes; the secret is made at install."""
from odoo.exceptions import UserError
from odoo.tests import tagged

from odoo.addons.mail_router.models.routing_lookup import RoutingLookup
from odoo.addons.mail_router.parameters import MESSAGE_ID_SECRET
from odoo.addons.mail_router.routing.chain import decide
from odoo.addons.mail_router.routing.incoming import read_mail

from .common import MailRouterCase


@tagged("post_install", "-at_install")
class TestPipelineOnePass(MailRouterCase):

    def decide(self, raw):
        Thread = self.env["mail.thread"]
        mail = read_mail(raw)[1]
        return decide(mail, RoutingLookup(self.env), Thread._mail_router_codec(), Thread._mail_router_config(None))

    def test_the_decision_for_a_reply_to_the_catchall_costs_two_queries(self):
        rfq = self.post_on(self.ticket)
        raw = self.incoming(self.catchall, "Re: RFQ", In_Reply_To=rfq.message_id)
        self.decide(raw)  # the configuration and the codec, cached from then on
        self.env.invalidate_all()
        with self.assertQueryCount(2):  # the stored message, then whether its record still exists
            decision = self.decide(raw)
        self.assertEqual((decision.stage, decision.targets[0].res_id), ("in_reply_to", self.ticket.id))

    def test_the_reply_is_posted_under_the_message_the_decision_found(self):
        rfq = self.post_on(self.ticket)
        older = self.post_on(self.ticket, body="An older note")
        log = self.process(self.incoming(self.catchall, "Re: RFQ", In_Reply_To=rfq.message_id,
                                         References=f"{older.message_id} {rfq.message_id}"))
        posted = self.assertOnChatter(self.ticket, "Re: RFQ", author=self.vendor)
        self.assertEqual(log.mail_message_id, posted)
        self.assertEqual(posted.parent_id, rfq.parent_id or rfq)

    def test_our_catchall_is_nobody_among_the_recipients_others_still_are(self):
        self.env["res.partner"].create({"name": "Catchall contact", "email": self.catchall})
        colleague = self.env["res.partner"].create({"name": "Colleague", "email": "colleague@vendor.example"})
        rfq = self.post_on(self.ticket)
        self.process(self.incoming(self.catchall.upper(), "Re: RFQ", In_Reply_To=rfq.message_id,
                                   Cc="Colleague <COLLEAGUE@vendor.example>"))
        posted = self.assertOnChatter(self.ticket, "Re: RFQ", author=self.vendor)
        self.assertEqual(posted.partner_ids, colleague)

    def test_the_routing_configuration_follows_the_alias_domains(self):
        other = self.env["mail.alias.domain"].create({"name": "other.example", "catchall_alias": "help"})
        log = self.process(self.incoming(self.address("tickets"), "From the new catchall",
                                         email_from="help@other.example"))
        self.assertEqual(log.stage, "loop")
        other.catchall_alias = "desk"
        log = self.process(self.incoming(self.address("tickets"), "From the renamed catchall",
                                         email_from="desk@other.example"))
        self.assertEqual(log.stage, "loop")

    def test_the_secret_is_made_at_install_never_on_a_read(self):
        parameters = self.env["ir.config_parameter"].sudo()
        self.assertTrue(parameters.get_param(MESSAGE_ID_SECRET.key))
        parameters.search([("key", "=", MESSAGE_ID_SECRET.key)]).unlink()
        with self.assertRaisesRegex(UserError, "Upgrade the mail_router module"):
            self.env["mail.thread"]._mail_router_codec()
        self.assertFalse(parameters.get_param(MESSAGE_ID_SECRET.key))
        self.env["mail.thread"]._mail_router_make_secret()  # what the upgrade runs
        self.assertTrue(self.env["mail.thread"]._mail_router_codec().decode(self.post_on(self.ticket).message_id))
