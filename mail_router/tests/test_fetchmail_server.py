from odoo.exceptions import AccessError
from odoo.tests import TransactionCase, new_test_user, tagged

from odoo.addons.mail_router.fetching.mailboxes import ImapCheckpoint, Pop3Checkpoint
from odoo.addons.mail_router.hooks import post_init_hook


@tagged("post_install", "-at_install")
class TestFetchmailServerSettings(TransactionCase):

    def server(self, **values):
        return self.env["fetchmail.server"].create({
            "name": "Mailbox", "server_type": "imap", "server": "mail.example.com", "user": "odoo",
            "password": "secret", **values})

    def test_stock_ssl_checkbox_and_connection_security_stay_in_step(self):
        self.assertEqual(self.server(is_ssl=False).connection_security, "starttls",
                         "SSL off means STARTTLS, never clear text")
        server = self.server(connection_security="none")
        self.assertFalse(server.is_ssl)
        server.connection_security = "ssl"
        self.assertTrue(server.is_ssl)

    def test_install_turns_servers_without_ssl_into_starttls(self):
        plain, ssl = self.server(), self.server()
        self.env.cr.execute(
            "UPDATE fetchmail_server SET is_ssl = id = %s, connection_security = 'none' WHERE id IN %s",
            [ssl.id, (plain.id, ssl.id)])
        self.env.invalidate_all()
        post_init_hook(self.env)
        self.assertEqual((plain.connection_security, ssl.connection_security), ("starttls", "ssl"))

    def test_password_is_for_system_administrators_only(self):
        server = self.server()
        manager = new_test_user(self.env, "erp_manager", groups="base.group_erp_manager")
        # even where another module lets others read the servers
        self.env["ir.model.access"].create({
            "name": "managers read servers", "model_id": self.env["ir.model"]._get_id("fetchmail.server"),
            "group_id": self.env.ref("base.group_erp_manager").id, "perm_read": True})
        self.assertEqual(server.with_user(manager).name, "Mailbox")
        with self.assertRaises(AccessError):
            server.with_user(manager).read(["password"])
        self.assertEqual(server.password, "secret")

    def test_default_ports_follow_the_security(self):
        draft = self.env["fetchmail.server"].new({"server_type": "pop", "connection_security": "ssl"})
        draft._onchange_connection_security()
        self.assertEqual(draft.port, 995)
        draft.connection_security = "starttls"
        draft._onchange_connection_security()
        self.assertEqual((draft.port, draft.is_ssl), (110, False))

    def test_uids_and_uidvalidity_up_to_two_to_the_32(self):
        highest = 2**32 - 1
        State = self.env["mail.router.mailbox.state"]
        server = self.server()
        State._store(server, "INBOX", ImapCheckpoint(highest, highest - 1))
        State.invalidate_model()
        self.assertEqual(State._checkpoint(server, "INBOX"), ImapCheckpoint(highest, highest - 1))
        self.env.cr.execute("SELECT column_name, data_type FROM information_schema.columns WHERE table_name"
                            " = 'mail_router_mailbox_state' AND column_name IN ('uidvalidity', 'last_uid')")
        self.assertEqual(dict(self.env.cr.fetchall()), {"uidvalidity": "bigint", "last_uid": "bigint"})

    def test_pop3_checkpoint_is_stored_as_processed_and_left_uidls(self):
        Uidl = self.env["mail.router.pop3.uidl"]
        server = self.server(server_type="pop")
        Uidl._store(server, Pop3Checkpoint(done=frozenset({"a", "b"}), left=frozenset({"c"})))
        Uidl._store(server, Pop3Checkpoint(done=frozenset({"b"}), left=frozenset({"c", "d"})))
        self.assertEqual(Uidl._checkpoint(server), Pop3Checkpoint(done=frozenset({"b"}), left=frozenset({"c", "d"})))
