import base64

from odoo import api, fields, models
from odoo.exceptions import UserError

from ..routing.headers import storable


class MailRouterQuarantine(models.Model):
    """Incoming mail that could not be routed or processed, kept byte for byte."""

    _name = "mail.router.quarantine"
    _inherit = ["mail.router.raw.mixin"]
    _description = "Quarantined Incoming Mail"
    _order = "id desc"
    _rec_name = "subject"

    raw = fields.Binary(required=True)
    email_from = fields.Char("From")
    subject = fields.Char()
    reason = fields.Char(required=True)
    error = fields.Text(help="The exception raised while processing, if any.")
    authentication = fields.Char(
        "Sender Authentication", help="What the trusted receiving servers said of the From address.")
    fetchmail_server_id = fields.Many2one("fetchmail.server", "Incoming Server", ondelete="set null")
    state = fields.Selection(
        [("pending", "Pending"), ("routed", "Routed"), ("discarded", "Discarded")],
        default="pending", required=True, index=True)

    @api.model
    def _keep(self, raw, mail, decision, error, quarantined=None):
        """Quarantine ``raw`` with the decision's reason; a retried entry is updated.
        The raw bytes go to an attachment as they are; the text fields are made storable."""
        decision = decision.storable()
        values = {"reason": decision.reason, "error": error and storable(error),
                  "authentication": decision.authentication}
        if quarantined:
            quarantined.write(values)
            return quarantined
        return self.create(dict(
            values,
            message_id=mail.message_id,
            raw=base64.b64encode(raw),
            email_from=mail.from_email,
            subject=mail.subject,
            fetchmail_server_id=self.env.context.get("default_fetchmail_server_id"),
        ))

    def retry(self):
        """Route the mail again, with today's configuration."""
        for entry in self:
            if entry.state != "pending":
                raise UserError(self.env._("Only pending mail can be retried: %(mail)s is %(state)s.",
                                           mail=entry.display_name, state=entry.state))
            self.env["mail.thread"]._mail_router_retry(entry.raw_bytes(), entry.fetchmail_server_id, entry)
        return True

    def action_discard(self):
        self.write({"state": "discarded"})
        return True
