from odoo import fields, models


class MailRouterTestTicket(models.Model):
    """A small mail.thread model: the record incoming mail is routed to in the tests."""

    _name = "mail.router.test.ticket"
    _description = "Mail Router Test Ticket"
    _inherit = ["mail.thread"]

    name = fields.Char(required=True)
    email_from = fields.Char()
    partner_id = fields.Many2one("res.partner")
