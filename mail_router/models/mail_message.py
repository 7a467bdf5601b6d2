import socket

from odoo import api, models


class MailMessage(models.Model):
    _inherit = "mail.message"

    @api.model
    def _get_message_id(self, values):
        """A message on a record gets a signed id naming it (routing.message_id):
        a reply routes there even after this message is deleted."""
        if values.get("reply_to_force_new") is True or not self.is_thread_message(values):
            return super()._get_message_id(values)
        domain = self.env.company.alias_domain_name or socket.getfqdn()
        return self.env["mail.thread"]._mail_router_codec().encode(values["model"], values["res_id"], domain)
