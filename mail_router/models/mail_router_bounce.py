from datetime import timedelta

from odoo import api, fields, models

# At most one bounce a day to one address: a mail loop or a flood of forged mail
# never turns Odoo into a source of backscatter.
BOUNCE_INTERVAL = timedelta(hours=24)


class MailRouterBounce(models.Model):
    """A bounce sent about an incoming mail (no route, contact policy, throttling):
    the memory of the one bounce policy."""

    _name = "mail.router.bounce"
    _description = "Bounce Sent About Incoming Mail"
    _order = "id desc"
    _rec_name = "email_to"

    email_to = fields.Char("Sent To", required=True, index=True, readonly=True)
    message_id = fields.Char("About Message-ID", required=True, index=True, readonly=True)

    @api.model
    def _sent_recently_to(self, email):
        return bool(self.search_count(
            [("email_to", "=", email), ("create_date", ">", fields.Datetime.now() - BOUNCE_INTERVAL)], limit=1))

    @api.model
    def _sent_about(self, message_id):
        return bool(self.search_count([("message_id", "=", message_id)], limit=1))
