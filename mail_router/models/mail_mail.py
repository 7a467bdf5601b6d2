"""The notifications of fetched mail: rendered and sent right after the fetch run.

Stock renders and sends each incoming mail's notifications inline, one SMTP session
per mail. A fetch run instead posts its mail with stock's scheduled notifications
(mail.message.schedule, due intake.NOTIFICATION_DELAY later, so persisted: a crash
loses none), and once the run is done renders them (stock's _send_notifications, on
schedules locked so that stock's scheduled action cannot send them too) and sends their
emails in batches, over one SMTP connection per batch (stock's mail.mail.send). What
cannot be sent then waits: the schedules for stock's scheduled action, the emails in
the mail queue, which its own scheduled action sends, as in stock.
"""
# pylint: disable=invalid-commit
# Each batch is committed once sent, as the mail queue commits after each email.
import logging

from odoo import api, models
from odoo.tools import split_every

_logger = logging.getLogger("odoo.addons.mail_router.fetchmail")

# While a batch is sent: the emails stock deletes once sent (auto_delete) are deleted
# together after the batch instead, one query for all.
SENDING_KEY = "mail_router_sending"
BATCH = 100  # notifications rendered, or emails sent, in one transaction
KEPT_FAILURES = ("mail_email_invalid", "mail_email_missing")  # stock deletes these too


class MailMail(models.Model):
    _inherit = "mail.mail"

    def unlink(self):
        if self.env.context.get(SENDING_KEY):
            return True  # _mail_router_send_batch deletes them together
        return super().unlink()

    @api.model
    def _mail_router_send_notifications(self, message_ids, server):
        """Render and send the notifications of the messages a fetch run of ``server``
        posted. Never raises: what fails waits for stock's scheduled actions."""
        if not message_ids:
            return
        try:
            rendered = self._mail_router_render(message_ids)
            sent = self._mail_router_send_emails(message_ids)
        except Exception:  # the scheduled actions send them later
            self.env.cr.rollback()
            _logger.exception("fetchmail: sending the notifications of %s server %s failed: they wait for the "
                              "scheduled actions", server.server_type, server.name)
            return
        _logger.info("fetchmail: %d notification(s) rendered, %d email(s) sent for %s server %s",
                     rendered, sent, server.server_type, server.name)

    @api.model
    def _mail_router_render(self, message_ids):
        """Stock's scheduled notifications of ``message_ids``, sent now, BATCH a transaction;
        the number sent. Each batch's schedules are locked first: one that stock's scheduled
        action (or another process) holds is left to it."""
        Schedule = self.env["mail.message.schedule"].sudo()
        done = 0
        for ids in split_every(BATCH, message_ids):
            self.env.cr.execute("""SELECT id FROM mail_message_schedule WHERE mail_message_id = ANY(%s)
                                    ORDER BY id FOR UPDATE SKIP LOCKED""", [list(ids)])
            schedules = Schedule.browse(row[0] for row in self.env.cr.fetchall())
            schedules.with_context(mail_notify_force_send=False)._send_notifications()
            self.env.cr.commit()
            done += len(schedules)
        return done

    @api.model
    def _mail_router_send_emails(self, message_ids):
        """The outgoing emails of ``message_ids`` (the notifications just rendered, and
        those a module made at posting: mail_group's), sent in batches; the number sent."""
        mails = self.sudo().search([("mail_message_id", "in", list(message_ids)), ("state", "=", "outgoing")])
        for ids in split_every(BATCH, mails.ids):
            self._mail_router_send_batch(self.browse(ids))
        return len(mails)

    @api.model
    def _mail_router_send_batch(self, batch):
        """One transaction, as stock's inline sending of one mail's notifications is: the
        batch's emails and what they need are read together, and a crash re-sends at most
        one batch (stock's queue commits after each email instead, reading each one alone)."""
        batch.mapped("mail_message_id.author_id.email")
        batch.mapped("recipient_ids.email")
        batch.with_context(**{SENDING_KEY: True}).send()
        batch.exists().filtered(
            lambda mail: mail.auto_delete and (mail.state == "sent" or mail.failure_type in KEPT_FAILURES)).unlink()
        self.env.cr.commit()
