from odoo.tests import tagged

from .common import MailRouterCase


@tagged("post_install", "-at_install", "mail_router")
class TestOutgoingMessageId(MailRouterCase):

    def test_message_on_record_names_it_signed(self):
        first, second = self.post_on(self.ticket), self.post_on(self.ticket)
        self.assertTrue(first.message_id.startswith(f"<mail.router.test.ticket-{self.ticket.id}-"))
        self.assertTrue(first.message_id.endswith(f"@{self.alias_domain}>"))
        self.assertNotEqual(first.message_id, second.message_id)
        self.assertEqual(self.codec.decode(first.message_id), ("mail.router.test.ticket", self.ticket.id))
        self.assertEqual(self.codec.decode(first.message_id.upper()), ("mail.router.test.ticket", self.ticket.id))

    def test_other_database_secret_rejects(self):
        message_id = self.post_on(self.ticket).message_id
        self.env["ir.config_parameter"].set_param("mail_router.message_id_secret", "another-database")
        self.assertIsNone(self.env["mail.thread"]._mail_router_codec().decode(message_id))

    def test_private_message_keeps_stock_form(self):
        private = self.env["mail.message"].create({"body": "private", "message_type": "comment"})
        self.assertIn("-openerp-private@", private.message_id)

    def test_outgoing_email_carries_the_id(self):
        with self.mock_mail_gateway():
            message = self.ticket.with_user(self.user_employee).message_post(
                body="RFQ", partner_ids=self.vendor.ids, message_type="comment", subtype_xmlid="mail.mt_comment")
        self.assertEqual(self._mails[0]["message_id"], message.message_id)

    def test_a_new_alias_domain_names_the_next_ids(self):
        self.post_on(self.ticket)  # the domain is cached now
        self.mail_alias_domain.name = "renamed.example"
        self.assertTrue(self.post_on(self.ticket).message_id.endswith("@renamed.example>"))
        other = self.env["mail.alias.domain"].create({"name": "other.example"})
        self.env.company.alias_domain_id = other
        self.assertTrue(self.post_on(self.ticket).message_id.endswith("@other.example>"))
