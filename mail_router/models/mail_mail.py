"""The notifications of fetched mail: queued while a fetch runs, sent right after it.

Stock sends each incoming mail's notifications inline, one SMTP session per mail.
The fetcher instead queues them (``mail_notify_force_send=False``) in an Outbox,
and sends the Outbox once the run is done, over one SMTP connection per mail
server (stock's mail.mail.send). What cannot be sent then stays in the mail
queue, which its own scheduled action sends, as in stock.
"""
# pylint: disable=invalid-commit
# The outbox commits after each batch it sent, as the mail queue does after each email.
from odoo import api, models
from odoo.tools import split_every

OUTBOX_KEY = "mail_router_outbox"
SENDING_KEY = "mail_router_sending_outbox"
BATCH = 100  # emails sent in one transaction


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

        In batches of BATCH, each one transaction, as stock's inline sending of one mail's
        notifications is: a batch's emails and what they need are read together, and a
        crash re-sends at most one batch (stock's queue commits after each email instead,
        reading each one alone)."""
        mails = self.browse(outbox.ids).exists().filtered(lambda mail: mail.state == "outgoing")
        for ids in split_every(BATCH, mails.ids):
            batch = self.with_context(**{SENDING_KEY: outbox}).browse(ids)
            # what stock's _send reads of each email, read for all at once
            batch.mapped("mail_message_id.author_id.email")
            batch.mapped("recipient_ids.email")
            batch.send()
            self.browse(outbox.sent_ids).unlink()
            outbox.sent_ids.clear()
            self.env.cr.commit()
        return len(mails)
