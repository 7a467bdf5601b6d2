"""What the README says of the operator screens, held true: where they are (without
developer mode), that their lists read at 1366 px, that they speak in words (labels,
display names, what to do), and that what they say after a button matches what happened.
The browser tours (test_operator_browser.py, and mail_router/tests/test_fetch_tour.py
against a real Dovecot) walk the same paths on screen."""
from lxml import etree

from odoo.exceptions import UserError
from odoo.tests import tagged

from odoo.addons.mail_router.models.mail_router_log import notification, routable_models
from odoo.addons.mail_router.routing import admission, chain
from odoo.addons.mail_router.routing.outcome import ADVICE, CAUSE_LABELS, LABELS, STEP_LABELS, Cause

from .common import MailRouterCase

# Settings > Mail Routing > ...: every operator screen, and the action it opens
SCREENS = {
    "mail_router.mail_router_log_menu": "mail_router.mail_router_log_action",
    "mail_router.mail_router_flow_report_menu": "mail_router.mail_router_flow_report_action",
    "mail_router.mail_router_quarantine_menu": "mail_router.mail_router_quarantine_action",
    "mail_router.mail_router_simulator_menu": "mail_router.mail_router_simulator_action",
    "mail_router.mail_router_server_menu": "mail.action_email_server_tree",
    "mail_router.mail_router_fetch_cron_menu": "mail_router.mail_router_fetch_cron_action",
    "mail_router.mail_router_alias_menu": "mail.mail_alias_action",
    "mail_router.mail_router_gateway_allowed_menu": "mail.mail_gateway_allowed_action",
}


@tagged("post_install", "-at_install", "mail_router")
class TestOperatorScreensAreFound(MailRouterCase):
    """Settings > Mail Routing, and General Settings > Emails: without developer mode."""

    def test_every_screen_is_under_settings_mail_routing_without_developer_mode(self):
        Menu = self.env["ir.ui.menu"].with_user(self.user_admin)
        visible = Menu._visible_menu_ids(debug=False)
        root = self.env.ref("mail_router.mail_router_menu_root")
        self.assertEqual(root.parent_id, self.env.ref("base.menu_administration"), "a menu of the Settings app")
        self.assertIn(root.id, visible)
        for xmlid, action in SCREENS.items():
            with self.subTest(menu=xmlid):
                menu = self.env.ref(xmlid)
                self.assertEqual(menu.parent_id, root, "grouped in one menu")
                self.assertIn(menu.id, visible, "reached without developer mode")
                self.assertEqual(menu.action, self.env.ref(action))
        self.assertEqual(root.child_id.sorted("sequence").mapped("name"), [
            "Routing Log", "Mail Flow", "Mail Quarantine", "Routing Simulator", "Incoming Mail Servers",
            "Scheduled Fetch", "Aliases", "Mail Gateway Allowed"])

    def test_the_scheduled_fetch_opens_the_fetch_cron(self):
        action = self.env.ref("mail_router.mail_router_fetch_cron_action")
        fetch_cron = self.env.ref("mail.ir_cron_mail_gateway_action")
        self.assertEqual((action.res_model, action.res_id), ("ir.cron", fetch_cron.id))

    def test_general_settings_emails_links_the_screens(self):
        views = self.env["res.config.settings"].with_user(self.user_admin).get_views([(False, "form")])
        arch = views["views"]["form"]["arch"]
        setting = etree.fromstring(arch).xpath("//*[@id='mail_router_quarantine_setting']")[0]
        actions = {button.get("name") for button in setting.iter("button")}
        for xmlid in ("mail_router.mail_router_log_action", "mail_router.mail_router_simulator_action",
                      "mail.action_email_server_tree"):
            self.assertIn(str(self.env.ref(xmlid).id), actions)
        self.assertIn("action_mail_router_open_quarantine", actions)


@tagged("post_install", "-at_install", "mail_router")
class TestOperatorScreensRead(MailRouterCase):
    """Lists that fit, words instead of ids and keys."""

    def list_arch(self, model, view=None):
        views = self.env[model].with_user(self.user_admin).get_views([(view and self.env.ref(view).id, "list")])
        return etree.fromstring(views["views"]["list"]["arch"])

    def test_the_routing_log_list_keeps_what_is_searched_by_and_sums_nothing(self):
        arch = self.list_arch("mail.router.log")
        fields = {field.get("name"): field for field in arch.iter("field")}
        for name in ("subject", "email_from", "stage"):
            self.assertTrue(fields[name].get("width"), f"{name} keeps its width at 1366 px")
            self.assertFalse(fields[name].get("optional"))
        for name in ("fetchmail_server_id", "matched", "duration_ms"):
            self.assertEqual(fields[name].get("optional"), "hide")
        self.assertFalse(arch.xpath("//field[@sum or @avg]"), "no meaningless sums")
        self.assertEqual(self.env.ref("mail_router.mail_router_log_view_list").arch.count('groups="base.group_no_one"'),
                         1, "the technical target model only in developer mode")

    def test_the_server_list_shows_failing_servers_in_red_and_short_headers(self):
        arch = self.list_arch("fetchmail.server", "mail.view_email_server_tree")
        self.assertEqual(arch.get("decoration-danger"), "failing")
        fields = {field.get("name"): field for field in arch.iter("field")}
        self.assertEqual((fields["consecutive_failures"].get("string"), fields["quarantine_count"].get("string")),
                         ("Failures", "In Quarantine"))

    def test_a_failed_test_and_confirm_makes_the_server_failing(self):
        server = self.env["fetchmail.server"].create({
            "name": "Mailbox", "server_type": "imap", "server": "mail.example.com", "user": "odoo", "password": "x"})
        self.assertFalse(server.failing)
        server.write({"last_error": "Test & Confirm: refused the login", "last_error_date": "2026-01-02 10:00:00"})
        self.assertTrue(server.failing, "not confirmed, and its last test failed")
        server.write({"state": "done", "last_success_date": "2026-01-02 10:05:00"})
        self.assertFalse(server.failing, "fetched since")
        server.consecutive_failures = 2
        self.assertTrue(server.failing)

    def test_every_label_is_a_word_never_a_key(self):
        stages = [stage.__name__ for stage in chain.STAGES + admission.STAGES]
        self.assertEqual(sorted(STEP_LABELS), sorted(stages), "each stage of the trace has its label")
        for labels in (LABELS, STEP_LABELS, CAUSE_LABELS):
            for key, label in labels.items():
                self.assertNotIn("_", label, key)
        self.assertTrue(all(len(label) <= 14 for label in LABELS.values()), "the log's badges are short")
        self.assertEqual(set(ADVICE), set(Cause), "each cause says what to do")

    def test_the_log_entry_is_titled_by_its_subject_and_names_its_record(self):
        rfq = self.post_on(self.ticket)
        log = self.process(self.incoming(self.catchall, "Re: RFQ", In_Reply_To=rfq.message_id))
        self.assertEqual(log.display_name, "Re: RFQ")
        self.assertEqual(log.reason, "a reply (In-Reply-To) to a message posted on PO0001")
        self.assertNotIn("mail.router.test.ticket", log.reason)
        self.assertFalse(log.advice, "posted: nothing to do")
        untitled = self.process(self.incoming(self.catchall, "", In_Reply_To=rfq.message_id))
        self.assertEqual(untitled.display_name, untitled.message_id)

    def test_a_quarantined_mail_says_which_alias_would_take_it_and_what_to_do(self):
        log = self.process(self.incoming(self.address("nobody"), "Lost"))
        entry = self.env["mail.router.quarantine"].search([("subject", "=", "Lost")])
        self.assertIn(f"there is no alias {self.address('nobody')}", entry.reason)
        self.assertEqual(entry.reason, log.reason)
        self.assertEqual((entry.cause, log.cause), ("no_route", "no_route"))
        self.assertEqual(entry.advice, ADVICE[Cause.NO_ROUTE])
        self.assertIn("Settings > Mail Routing > Aliases", entry.advice)

    def test_a_refusal_says_what_to_do(self):
        self.alias.alias_contact = "partners"
        self.process(self.incoming(self.address("tickets"), "Let me in", email_from="x@unknown.example"))
        entry = self.env["mail.router.quarantine"].search([("subject", "=", "Let me in")])
        self.assertEqual(entry.cause, "contact_policy")
        self.assertIn("a new Mail Router Test Ticket", entry.reason)
        self.assertIn("Accept Emails From", entry.advice)

    def test_the_simulator_trace_shows_labels(self):
        simulator = self.env["mail.router.simulator"].create({
            "raw_message": self.incoming(self.address("tickets"), "New").decode()})
        simulator.action_simulate()
        self.assertEqual(simulator.step_ids.mapped("label")[:6], [
            "Bounce", "Loop (our own address)", "In-Reply-To", "References", "Auto-Reply", "Record Address"])
        self.assertEqual(simulator.reason,
                         f"mail to the alias {self.address('tickets')}: a new Mail Router Test Ticket")
        self.assertFalse(simulator.advice)

    def test_route_to_offers_the_models_that_receive_mail_the_busiest_first(self):
        offered = [model for model, _name in routable_models(self.env["mail.router.quarantine.route"])]
        self.assertIn("mail.router.test.ticket", offered)
        self.assertEqual(offered[-1], "res.partner", "contacts last, by hand")
        for mixin_or_technical in ("mail.blacklist", "phone.blacklist", "res.partner.bank", "account.account"):
            self.assertNotIn(mixin_or_technical, offered)
        # the most mail routed first
        self.process(self.incoming(self.address("tickets"), "A ticket"))
        offered = [model for model, _name in routable_models(self.env["mail.router.quarantine.route"])]
        self.assertEqual(offered[0], "mail.router.test.ticket")


@tagged("post_install", "-at_install", "mail_router")
class TestOperatorScreensTellTheTruth(MailRouterCase):
    """Titles that match the outcome; information goes away by itself."""

    def quarantine(self, subject, to="nobody"):
        self.process(self.incoming(self.address(to), subject))
        return self.env["mail.router.quarantine"].with_user(self.user_admin).search([("subject", "=", subject)])

    def test_retry_that_leaves_the_mail_in_quarantine_says_so(self):
        entry = self.quarantine("Still lost")
        with self.mock_mail_gateway():
            action = entry.action_retry()
        self.assertEqual((action["params"]["title"], action["params"]["type"]), ("Still in quarantine", "warning"))
        self.assertFalse(action["params"]["sticky"], "information goes away by itself")
        self.assertEqual(action["params"]["next"]["tag"], "soft_reload", "and the view shows it")

    def test_retry_that_routes_says_routed(self):
        entry = self.quarantine("Found")
        self.alias.alias_name = "nobody"
        with self.mock_mail_gateway():
            action = entry.action_retry()
        self.assertEqual((action["params"]["title"], action["params"]["type"]), ("Routed", "success"))

    def test_retry_of_several_counts_what_was_routed(self):
        entries = self.quarantine("One") | self.quarantine("Two", to="elsewhere")
        self.alias.alias_name = "nobody"  # takes the first, not the second
        with self.mock_mail_gateway():
            action = entries.action_retry()
        self.assertEqual((action["params"]["title"], action["params"]["type"]), ("Routed: 1 of 2", "warning"))

    def test_only_failures_stay_until_closed(self):
        sticky = [notification("t", "m", kind)["params"]["sticky"] for kind in ("success", "warning", "danger")]
        self.assertEqual(sticky, [False, False, True])

    def test_route_again_says_whether_the_mail_was_posted(self):
        log = self.process(self.incoming(self.address("tickets"), "Out of office", Auto_Submitted="auto-replied"))
        self.assertEqual(log.stage, "auto_reply")
        with self.mock_mail_gateway():
            action = log.with_user(self.user_admin).action_retry()
        self.assertEqual(action["params"]["title"], "Not posted")

    def test_simulate_is_offered_where_the_mail_is_kept(self):
        rfq = self.post_on(self.ticket)
        routed = self.process(self.incoming(self.catchall, "Re: RFQ", In_Reply_To=rfq.message_id))
        self.assertFalse(routed.raw, "a posted mail is not kept: the form offers no Simulate")
        with self.assertRaises(UserError):
            routed.action_simulate()
        kept = self.process(self.incoming(self.address("nobody"), "Lost"))
        action = kept.with_user(self.user_admin).action_simulate()
        self.assertEqual(action["context"]["dialog_size"], "extra-large")
        self.assertEqual(self.env["mail.router.simulator"].browse(action["res_id"]).stage, "quarantine")
