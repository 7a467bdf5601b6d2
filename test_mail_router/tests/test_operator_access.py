from odoo.exceptions import AccessError
from odoo.tests import new_test_user, tagged

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

    def test_other_users_get_no_fetchmail_password_in_any_view(self):
        server = self.env["fetchmail.server"].create({
            "name": "Mailbox", "server_type": "imap", "server": "mail.example.com", "user": "odoo",
            "password": "secret"})
        manager = new_test_user(self.env, "router_manager", groups="base.group_user,base.group_erp_manager")
        # a manager whom another module lets read the servers
        self.env["ir.model.access"].create({
            "name": "managers read servers", "model_id": self.env["ir.model"]._get_id("fetchmail.server"),
            "group_id": self.env.ref("base.group_erp_manager").id, "perm_read": True})
        self.assertIn("password", self.env["fetchmail.server"].with_user(self.user_admin).fields_get())
        with self.assertRaises(AccessError):  # an employee may not read the servers at all
            self.env["fetchmail.server"].with_user(self.user_employee).get_views([(False, "form")])
        for user in (self.user_employee, manager):
            with self.subTest(user=user.login):
                self.assertNotIn("password", self.env["fetchmail.server"].with_user(user).fields_get())
        views = self.env["fetchmail.server"].with_user(manager).get_views(
            [(False, "form"), (False, "list"), (False, "search")])
        self.assertNotIn("password", views["models"]["fetchmail.server"]["fields"])
        for view_type, view in views["views"].items():
            with self.subTest(view=view_type):
                self.assertNotIn('name="password"', view["arch"])
        as_manager = server.with_user(manager)
        self.assertEqual(as_manager.read(["name"])[0]["name"], "Mailbox")
        # its stored fields (the others, and the x2many, read admin-only models)
        readable = [name for name, field in as_manager.fields_get(attributes=["store", "type"]).items()
                    if field["store"] and field["type"] not in ("one2many", "many2many")]
        self.assertNotIn("password", as_manager.read(readable)[0])
        for read in (lambda: as_manager.read(["password"]), lambda: as_manager.web_read({"password": {}}),
                     lambda: as_manager.search_read([("id", "=", server.id)], ["password"])):
            with self.assertRaises(AccessError):
                read()
