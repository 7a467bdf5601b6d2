from odoo import fields, models


class MailRouterQuarantine(models.Model):
    """Incoming mail that could not be routed or processed, kept byte for byte."""

    _name = "mail.router.quarantine"
    _description = "Quarantined Incoming Mail"
    _order = "id desc"
    _rec_name = "subject"

    message_id = fields.Char("Message-ID", required=True, index=True)
    raw = fields.Binary("Raw Message", attachment=True, required=True,
                        help="The message exactly as received.")
    email_from = fields.Char("From")
    subject = fields.Char()
    reason = fields.Char(required=True)
    error = fields.Text(help="The exception raised while processing, if any.")
    fetchmail_server_id = fields.Many2one("fetchmail.server", "Incoming Server", ondelete="set null")
    state = fields.Selection(
        [("pending", "Pending"), ("routed", "Routed"), ("discarded", "Discarded")],
        default="pending", required=True, index=True)
