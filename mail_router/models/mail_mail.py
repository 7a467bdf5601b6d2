"""The notifications of fetched mail: queued while a fetch runs, sent right after it.

Stock sends each incoming mail's notifications inline, one SMTP session per mail.
The fetcher instead queues them (``mail_notify_force_send=False``) in an Outbox,
and sends the Outbox once the run is done, over one SMTP connection per mail
server (stock's mail.mail.send). What cannot be sent then stays in the mail
queue, which its own scheduled action sends, as in stock.
"""
import logging

from odoo import api, models

_logger = logging.getLogger("odoo.addons.mail_router.fetchmail")

OUTBOX_KEY = "mail_router_outbox"
SENDING_KEY = "mail_router_sending_outbox"


class Outbox:
    """The mail.mail ids queued during one fetch run, and those sent that stock deletes
    (auto_delete) one by one: deleted together once all are sent. In the context:
    hashed by identity."""

    def __init__(self):
        self.ids = []
        self.sent_ids = []


class MailMail(models.Model):
    _inherit = "mail.mail"

    @api.model_create_multi
    def create(self, vals_list):
        mails = super().create(vals_list)
        outbox = self.env.context.get(OUTBOX_KEY)
        if isinstance(outbox, Outbox):
            outbox.ids += mails.ids
        return mails

    def unlink(self):
        outbox = self.env.context.get(SENDING_KEY)
        if isinstance(outbox, Outbox):  # sent by _mail_router_send_outbox, which deletes them at the end
            outbox.sent_ids += self.ids
            return True
        return super().unlink()

    @api.model
    def _mail_router_send_outbox(self, outbox):
        """Send what a run queued (what a rolled-back mail queued is gone); the number sent.
        Commits after each email, as the mail queue does."""
        mails = self.browse(outbox.ids).exists().filtered(lambda mail: mail.state == "outgoing")
        if mails:
            mails.with_context(**{SENDING_KEY: outbox}).send(auto_commit=True)
            self.browse(outbox.sent_ids).exists().unlink()
            self.env.cr.commit()
        return len(mails)
