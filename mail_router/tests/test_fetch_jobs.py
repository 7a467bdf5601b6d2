"""Each confirmed IMAP or POP3 server has a fetch job of its own, kept in step with it."""
import psycopg2

from odoo.tests import TransactionCase, tagged
from odoo.tools import mute_logger


@tagged("post_install", "-at_install")
class TestFetchJobs(TransactionCase):

    def server(self, **values):
        return self.env["fetchmail.server"].create({
            "name": "Purchases", "server_type": "imap", "server": "imap.example.com", "user": "odoo",
            "password": "secret", **values})

    def test_a_confirmed_server_has_its_job_at_its_interval(self):
        server = self.server()
        self.assertFalse(server.mail_router_cron_id, "a draft server is fetched by nobody")
        server.state = "done"
        job = server.mail_router_cron_id
        self.assertTrue(job.active)
        self.assertEqual((job.interval_number, job.interval_type), (5, "minutes"))
        self.assertEqual(job.code, f"model._mail_router_run_job({server.id})")
        self.assertEqual(job.user_id, self.env.ref("base.user_root"))
        server.poll_interval = 1
        self.assertEqual(job.interval_number, 1)
        server.name = "Invoices"
        self.assertIn("Invoices", job.name)

    def test_a_server_set_back_to_draft_or_archived_is_not_fetched(self):
        server = self.server(state="done")
        job = server.mail_router_cron_id
        server.state = "draft"
        self.assertFalse(job.active)
        server.state = "done"
        self.assertTrue(job.active)
        self.assertEqual(server.mail_router_cron_id, job, "the same job, turned on again")
        server.active = False
        self.assertFalse(job.active)
        server.unlink()
        self.assertFalse(job.exists())

    def test_a_server_fed_by_the_mailgate_has_no_job(self):
        server = self.server(server_type="local", state="done")
        self.assertFalse(server.mail_router_cron_id)

    def test_stock_scheduled_action_keeps_the_jobs_in_step(self):
        server = self.server(state="done")
        server.mail_router_cron_id.unlink()
        fetch_cron = self.env.ref("mail.ir_cron_mail_gateway_action")
        self.env["fetchmail.server"].with_context(cron_id=fetch_cron.id)._fetch_mails()
        self.assertTrue(server.mail_router_cron_id.active, "run by the scheduler, it makes the missing job")

    def test_the_polling_interval_is_at_least_a_minute(self):
        with self.assertRaises(psycopg2.errors.CheckViolation), mute_logger("odoo.sql_db"), self.cr.savepoint():
            self.server(poll_interval=0)

    def test_the_form_says_how_mail_arrives(self):
        server = self.server(state="done")
        self.assertEqual(server.delivery, "polling")
        self.assertIn("not loaded server-wide", server.delivery_note)
        self.assertEqual(server.next_fetch, server.mail_router_cron_id.nextcall)
        pop = self.server(server_type="pop", state="done")
        self.assertIn("POP3 has no push", pop.delivery_note)
