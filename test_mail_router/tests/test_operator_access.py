from odoo.exceptions import AccessError
from odoo.tests import tagged

from .common import MailRouterCase

MODELS = ("mail.router.log", "mail.router.quarantine", "mail.router.ledger", "mail.router.bounce",
          "mail.router.mailbox.state", "mail.router.pop3.uidl", "mail.router.simulator",
          "mail.router.simulator.step", "mail.router.quarantine.route")
MENUS = ("mail_router.mail_router_log_menu", "mail_router.mail_router_quarantine_menu",
         "mail_router.mail_router_simulator_menu")


@tagged("post_install", "-at_install", "mail_router")
class TestOperatorAccess(MailRouterCase):
    """The operator screens are for Settings administrators only."""

    def test_other_users_get_an_access_error_on_each_model(self):
        for model in MODELS:
            for operation in ("read", "write", "create", "unlink"):
                with self.subTest(model=model, operation=operation):
                    self.assertFalse(self.env[model].with_user(self.user_employee).has_access(operation))
                    self.assertTrue(self.env[model].with_user(self.user_admin).has_access(operation))
            with self.subTest(model=model), self.assertRaises(AccessError):
                self.env[model].with_user(self.user_employee).search([])

    def test_other_users_see_no_menu(self):
        visible = self.env["ir.ui.menu"].with_user(self.user_employee)._visible_menu_ids()
        admin_visible = self.env["ir.ui.menu"].with_user(self.user_admin)._visible_menu_ids()
        for xmlid in MENUS:
            with self.subTest(menu=xmlid):
                self.assertNotIn(self.env.ref(xmlid).id, visible)
                self.assertIn(self.env.ref(xmlid).id, admin_visible)
