from odoo.tests import TransactionCase, tagged


@tagged("post_install", "-at_install")
class TestInstall(TransactionCase):
    """The addon's own models and menus are there, for administrators only."""

    def test_models_registered_with_tables(self):
        for model in ("mail.router.log", "mail.router.quarantine"):
            table = self.env[model]._table
            self.env.cr.execute("SELECT to_regclass(%s)", [table])
            self.assertTrue(self.env.cr.fetchone()[0], f"no table for {model}")

    def test_menus_only_for_administrators(self):
        menus = (self.env.ref("mail_router.mail_router_log_menu")
                 | self.env.ref("mail_router.mail_router_quarantine_menu"))
        self.assertEqual(menus.parent_id, self.env.ref("mail_router.mail_router_menu_root"))
        self.assertEqual(menus.parent_id.parent_id, self.env.ref("base.menu_administration"))
        self.assertEqual(menus.groups_id, self.env.ref("base.group_system"))
        user = self.env["res.users"].create({
            "name": "Internal", "login": "mail_router_internal",
            "groups_id": [(6, 0, [self.env.ref("base.group_user").id])],
        })
        self.assertFalse(self.env["mail.router.quarantine"].with_user(user).has_access("read"))
        self.assertTrue(self.env["mail.router.quarantine"].has_access("read"))

    def test_fetchmail_cron_is_stock_and_alone(self):
        """One fetch cron, never two: stock's calls fetchmail.server._fetch_mails()."""
        crons = self.env["ir.cron"].with_context(active_test=False).search(
            [("model_id.model", "=", "fetchmail.server")])
        self.assertEqual(crons, self.env.ref("mail.ir_cron_mail_gateway_action"))
        self.assertEqual(crons.code.strip(), "model._fetch_mails()")
