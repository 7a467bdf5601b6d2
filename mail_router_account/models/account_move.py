from odoo import api, models


class AccountMove(models.Model):
    _inherit = "account.move"

    @api.model
    def _routing_check_route(self, message, message_dict, route, raise_exception=True):
        """account refuses mail without attachment, so that a journal's alias creates no
        empty bill; it refuses every answer to a bill's or an invoice's mail with it
        ("thank you, paid" bounced as "no attachment"). An answer to an existing move
        is checked by mail.thread's rules, as for any model (in Odoo 18, account's is
        the only other override)."""
        model, thread_id = route[0], route[1]
        if model == self._name and thread_id and self.browse(thread_id).exists():
            return self.env["mail.thread"]._routing_check_route(message, message_dict, route, raise_exception)
        return super()._routing_check_route(message, message_dict, route, raise_exception=raise_exception)

    def _mail_router_refusal(self, message, message_dict):
        """account's rule, for admission: a new move is made of a mail with an attachment
        only (its _routing_check_route then refuses and bounces the rest)."""
        if not self and not any(True for _part in message.iter_attachments()):
            return self.env._("a new journal entry is created by mail only from a mail with an attachment")
        return super()._mail_router_refusal(message, message_dict)

    def _mail_router_reference_field(self):
        """INV/2026/00012, BILL/2026/00007: a mail naming its number reaches the invoice or bill."""
        return "name"
