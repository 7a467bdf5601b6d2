import logging
from datetime import timedelta

from odoo import fields
from odoo.tests import tagged

from .common import MailRouterCase


@tagged("post_install", "-at_install", "mail_router")
class TestRoutingLog(MailRouterCase):

    def test_entry_explains_the_decision(self):
        rfq = self.post_on(self.ticket)
        with self.assertLogs("odoo.addons.mail_router.routing", level=logging.INFO) as captured:
            log = self.process(self.incoming(self.catchall, "Explained", In_Reply_To=rfq.message_id,
                                             message_id="<explained@vendor.example>"))
        self.assertRecordValues(log, [{
            "message_id": "<explained@vendor.example>",
            "email_from": "ann@vendor.example",
            "email_to": self.catchall,
            "subject": "Explained",
            "stage": "in_reply_to",
            "matched": rfq.message_id,
            "target_model": "mail.router.test.ticket",
            "target_res_ids": str(self.ticket.id),
        }])
        self.assertEqual(log.mail_message_id.subject, "Explained")
        self.assertGreaterEqual(log.duration_ms, 0)
        self.assertIn("routing in_reply_to: Message-Id <explained@vendor.example>", captured.output[-1])

    def test_two_aliases_two_targets(self):
        self.env["mail.alias"].create({
            "alias_name": "orders", "alias_domain_id": self.mail_alias_domain.id,
            "alias_model_id": self.ticket_model.id, "alias_contact": "everyone",
            "alias_force_thread_id": self.other_ticket.id})
        log = self.process(self.incoming(f"{self.address('tickets')}, {self.address('orders')}", "Both"))
        self.assertEqual(log.stage, "alias")
        self.assertEqual(log.target_res_ids, str(self.other_ticket.id))
        self.assertOnChatter(self.other_ticket, "Both")
        self.assertTrue(self.env["mail.router.test.ticket"].search([("name", "=", "Both")]) - self.other_ticket)

    def test_retention_cron_forgets_old_entries(self):
        self.process(self.incoming(self.address("nobody"), "Old"))
        self.process(self.incoming(self.address("nobody"), "Recent"))
        old_log = self.env["mail.router.log"].search([("subject", "=", "Old")])
        old_quarantine = self.env["mail.router.quarantine"].search([("subject", "=", "Old")])
        old_quarantine.action_discard()
        long_ago = fields.Datetime.now() - timedelta(days=100)
        self.env.cr.execute("UPDATE mail_router_log SET create_date = %s WHERE id = %s", [long_ago, old_log.id])
        self.env.cr.execute("UPDATE mail_router_quarantine SET create_date = %s WHERE id = %s",
                            [long_ago, old_quarantine.id])
        self.env.invalidate_all()
        self.env.ref("mail_router.ir_cron_mail_router_log_gc").method_direct_trigger()
        self.assertFalse(old_log.exists())
        self.assertFalse(old_quarantine.exists())
        self.assertEqual(self.env["mail.router.log"].search_count([("subject", "=", "Recent")]), 1)

    def test_mail_flow_counts_each_day_and_its_delays(self):
        self.env.cr.execute("DELETE FROM mail_router_log")
        logs = self.env["mail.router.log"]
        for subject in ("One", "Two", "Three"):
            logs |= self.process(self.incoming(self.address("tickets"), subject))
        logs |= self.process(self.incoming(self.address("nobody"), "Nowhere"))
        self.assertEqual(logs.mapped("stage"), ["alias", "alias", "alias", "quarantine"])
        for log, delay_ms in zip(logs, (1000, 2000, 3000, 10000), strict=True):
            log.delay_ms = delay_ms
        self.env.flush_all()
        flow = self.env["mail.router.flow.report"].search([("date", "=", logs[0].create_date.date())])
        self.assertRecordValues(flow, [{
            "mail_count": 4, "routed_count": 3, "quarantined_count": 1, "other_count": 0,
            "delay_median_s": 2.5,
            "delay_p95_s": 8.95,  # 3 s + 0.85 of the way to 10 s, interpolated as percentile_cont does
        }])
