import socket

from odoo import api, models, tools


class MailMessage(models.Model):
    _inherit = "mail.message"

    @api.model
    def _get_message_id(self, values):
        """A message on a record gets a signed id naming it (routing.message_id):
        a reply routes there even after this message is deleted."""
        if values.get("reply_to_force_new") is True or not self.is_thread_message(values):
            return super()._get_message_id(values)
        domain = self._mail_router_message_id_domain(self.env.company.id)
        return self.env["mail.thread"]._mail_router_codec().encode(values["model"], values["res_id"], domain)

    @api.model
    @tools.ormcache("company_id")
    def _mail_router_message_id_domain(self, company_id):
        """The domain of the company's Message-IDs: its alias domain. Cached, so that
        posting costs no query more than stock's; mail.alias.domain and res.company
        clear the cache when it changes."""
        return self.env["res.company"].sudo().browse(company_id).alias_domain_name or socket.getfqdn()

    @api.model
    def _mail_router_posted(self, message_id):
        """The id of the message the gateway just posted of the mail ``message_id``."""
        self.flush_model(["message_id"])
        self.env.cr.execute("SELECT id FROM mail_message WHERE message_id = %s ORDER BY id DESC LIMIT 1", [message_id])
        row = self.env.cr.fetchone()
        return row and row[0]
