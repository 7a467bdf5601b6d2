"""What the operator screens say about fetching without a mail server: why the fetch cron
is off (its form, the server form), Run Manually of other crons, and the mail_router
block of General Settings. Against a real Dovecot: systemtests/test_fetchmail.py (Test
Connection, Fetch Now, Run Manually) and test_operator_tour.py (all of it in a browser)."""
import base64

from lxml import etree

from odoo.tests import TransactionCase, tagged

FETCH_CRON = "mail.ir_cron_mail_gateway_action"
NO_SERVER = ("No active incoming mail server is confirmed: confirm one with Test & Confirm "
             "(Settings > Mail Routing > Incoming Mail Servers) and this scheduled action turns on.")


@tagged("post_install", "-at_install", "mail_router")
class TestFetchCronInactive(TransactionCase):

    def setUp(self):
        super().setUp()
        self.env["fetchmail.server"].search([]).active = False  # stock turns the cron off
        self.cron = self.env.ref(FETCH_CRON)

    def server(self, **values):
        return self.env["fetchmail.server"].create({
            "name": "Mailbox", "server_type": "imap", "server": "mail.example.com", "user": "odoo",
            "password": "secret", **values})

    def reason(self, record=None):
        self.env.invalidate_all()
        return (record or self.cron).mail_router_inactive_reason

    def test_off_until_a_server_is_confirmed(self):
        draft = self.server()
        self.assertFalse(self.cron.active)
        self.assertEqual(self.reason(), NO_SERVER)
        self.assertEqual(draft.fetch_cron_inactive_reason, NO_SERVER, "the server form says it too")
        # and the form of a new server, before anything is saved
        onchange = self.env["fetchmail.server"].onchange({}, [], {"fetch_cron_inactive_reason": {}, "state": {}})
        self.assertEqual(onchange["value"]["fetch_cron_inactive_reason"], NO_SERVER)
        draft.state = "done"
        self.assertTrue(self.cron.active, "stock turns it on")
        self.assertFalse(self.reason())
        self.assertFalse(draft.fetch_cron_inactive_reason)

    def test_turned_off_by_hand(self):
        server = self.server(state="done")
        self.cron.active = False
        said = ("It was turned off by hand, although 1 incoming mail server(s) are confirmed: "
                "turn Active on (saving an incoming mail server turns it on too).")
        self.assertEqual(self.reason(), said)
        self.assertEqual(server.fetch_cron_inactive_reason, said)

    def test_neutralized_database(self):
        self.env["ir.config_parameter"].set_param("database.is_neutralized", True)
        self.assertTrue(self.reason().startswith("This database is neutralized (a copy of another)"))

    def test_only_the_fetch_cron_explains_itself(self):
        other = self.env.ref("mail_router.ir_cron_mail_router_log_gc")
        other.active = False
        self.assertFalse(self.reason(other))
        arch = self.env["ir.cron"].get_views([(False, "form")])["views"]["form"]["arch"]
        self.assertIn('name="mail_router_inactive_reason"', arch)

    def test_run_manually_of_other_crons_is_unchanged(self):
        self.assertIs(self.env.ref("mail_router.ir_cron_mail_router_log_gc").method_direct_trigger(), True)


@tagged("post_install", "-at_install", "mail_router")
class TestMailRouterSettings(TransactionCase):

    def waiting(self):
        """What the settings form (a new record) shows."""
        spec = {"mail_router_quarantine_waiting": {}, "company_id": {}}
        return self.env["res.config.settings"].onchange({}, [], spec)["value"]["mail_router_quarantine_waiting"]

    def quarantine(self, state="pending"):
        return self.env["mail.router.quarantine"].create({
            "message_id": f"<lost-{state}-{self.env['mail.router.quarantine'].search_count([])}@vendor.example>",
            "raw": base64.b64encode(b"Subject: lost\r\n\r\nhello\r\n"), "reason": "no route", "state": state})

    def test_waiting_quarantine_counter_opens_the_waiting_mail(self):
        self.env["mail.router.quarantine"].search([]).unlink()
        self.assertEqual(self.waiting(), "0 mails waiting in quarantine")
        self.quarantine()
        self.quarantine(state="routed")
        self.assertEqual(self.waiting(), "1 mail waiting in quarantine")
        self.quarantine()
        self.assertEqual(self.waiting(), "2 mails waiting in quarantine")
        action = self.env["res.config.settings"].create({}).action_mail_router_open_quarantine()
        self.assertEqual((action["res_model"], action["context"]),
                         ("mail.router.quarantine", "{'search_default_pending': 1}"))

    def test_settings_are_the_system_parameters_the_code_reads(self):
        self.env["res.config.settings"].create({
            "mail_router_log_retention_days": 30, "mail_router_ledger_retention_days": 500,
            "mail_router_fetch_failure_alert_threshold": 5}).execute()
        get = self.env["ir.config_parameter"].get_param
        self.assertEqual((get("mail_router.log_retention_days"), get("mail_router.ledger_retention_days"),
                          get("mail_router.fetch_failure_alert_threshold")), ("30", "500", "5"))
        defaults = self.env["res.config.settings"].default_get(["mail_router_fetch_failure_alert_threshold"])
        self.assertEqual(defaults["mail_router_fetch_failure_alert_threshold"], 5)

    def test_every_setting_has_a_help(self):
        fields = self.env["res.config.settings"]._fields
        names = [name for name in fields if name.startswith("mail_router_") and not fields[name].compute]
        for name in names:
            with self.subTest(field=name):
                self.assertTrue(fields[name].help)
        arch = etree.fromstring(self.env.ref("mail_router.res_config_settings_view_form").arch)
        settings = arch.xpath("//setting[starts-with(@id, 'mail_router')]")
        self.assertEqual(len(settings), 7)
        for setting in settings:
            with self.subTest(setting=setting.get("id")):
                self.assertTrue(setting.get("help"))
