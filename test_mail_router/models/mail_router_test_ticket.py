from odoo import api, fields, models
from odoo.exceptions import ValidationError


class MailRouterTestTicket(models.Model):
    """A small mail.thread model: the record incoming mail is routed to in the tests."""

    _name = "mail.router.test.ticket"
    _description = "Mail Router Test Ticket"
    _inherit = ["mail.thread"]
    _primary_email = "email_from"
    _mail_flat_thread = False  # replies keep the parent they name, so the tests can see it

    name = fields.Char(required=True)
    email_from = fields.Char()
    partner_id = fields.Many2one("res.partner")

    def _mail_router_reference_field(self):
        # "PO0001": a Subject naming a ticket reaches it (the subject_reference stage)
        return "name"

    @api.constrains("name")
    def _check_name(self):
        # Lets the tests make message_new fail the way a real model's constraint does.
        if any(name.startswith("REJECTED") for name in self.mapped("name")):
            raise ValidationError(self.env._("tickets named REJECTED are refused"))
