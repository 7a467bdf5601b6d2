"""The notifications of fetched mail: rendered and sent right after the fetch run.

Stock renders and sends each incoming mail's notifications inline, one SMTP session
per mail. A fetch run instead has every notification its mail makes scheduled (stock's
mail.message.schedule, due at the run's notify_at, NOTIFICATION_DELAY later: persisted,
so that a crash loses none; stock's scheduled action sends them then). Once the run is
done, it renders its own (stock's _send_notifications, on schedules locked so that
stock's scheduled action cannot send them too) and sends the emails in batches, over one
SMTP connection per batch (stock's mail.mail.send). What cannot be sent then waits: the
schedules for stock's scheduled action, the emails in the mail queue, as in stock.
"""
# pylint: disable=invalid-commit
# Each batch is committed once sent, as the mail queue commits after each email.
import functools
import json
import logging
from datetime import timedelta

from odoo import api, models
from odoo.service.model import retrying
from odoo.tools import split_every

_logger = logging.getLogger("odoo.addons.mail_router.fetchmail")

# While a batch is sent: the emails stock deletes once sent (auto_delete) are deleted
# together after the batch instead, one query for all.
SENDING_KEY = "mail_router_sending"
BATCH = 100  # notifications rendered, or emails sent, in one transaction
# How long after a fetch run its notifications are due, should the run not send them
NOTIFICATION_DELAY = timedelta(minutes=10)
KEPT_FAILURES = ("mail_email_invalid", "mail_email_missing")  # stock deletes these too


class MailMail(models.Model):
    _inherit = "mail.mail"

    def unlink(self):
        if self.env.context.get(SENDING_KEY):
            return True  # _mail_router_send_batch deletes them together
        return super().unlink()

    @api.model
    def _mail_router_send_notifications(self, records, notify_at, since, server):
        """Render and send the notifications a fetch run of ``server``, begun at
        ``since``, scheduled at ``notify_at`` for messages on ``records`` ({model: res
        ids}, the records it posted on). Never raises: what fails waits for stock's
        scheduled actions."""
        if not records:
            return
        try:
            rendered = self._mail_router_render(records, notify_at)
            sent = self._mail_router_send_emails(records, since)
        except Exception:  # the scheduled actions send them later
            self.env.cr.rollback()
            _logger.exception("fetchmail: sending the notifications of %s server %s failed: they wait for the "
                              "scheduled actions", server.server_type, server.name)
            return
        _logger.info("fetchmail: %d notification(s) rendered, %d email(s) sent for %s server %s",
                     rendered, sent, server.server_type, server.name)

    @api.model
    def _mail_router_render(self, records, notify_at):
        """The run's scheduled notifications, sent now, BATCH a transaction; the number
        sent. Each batch's schedules are locked first: one that stock's scheduled action
        (or another process) holds is left to it."""
        done = 0
        for model, res_ids in records.items():
            for ids in split_every(BATCH, sorted(res_ids)):
                # Another fetch job rendering at the same time may change a row this batch
                # changes too (stock's notifications touch shared rows: the signup state of
                # a record's partner): Odoo's retrying rolls back and tries again, as for a
                # request, and commits.
                done += retrying(functools.partial(self._mail_router_render_batch, model, list(ids), notify_at),
                                 self.env)
        return done

    @api.model
    def _mail_router_render_batch(self, model, res_ids, notify_at):
        """The batch's schedules, locked, rendered; how many."""
        self.env.cr.execute("""
            SELECT schedule.id FROM mail_message_schedule schedule
              JOIN mail_message message ON message.id = schedule.mail_message_id
             WHERE schedule.scheduled_datetime = %s AND message.model = %s AND message.res_id = ANY(%s)
          ORDER BY schedule.id FOR UPDATE OF schedule SKIP LOCKED""", [notify_at, model, res_ids])
        schedules = self.env["mail.message.schedule"].sudo().browse(row[0] for row in self.env.cr.fetchall())
        self._mail_router_notify(schedules)
        return len(schedules)

    @api.model
    def _mail_router_notify(self, schedules):
        """Stock's _send_notifications of ``schedules``, without its check for existing
        notifications: these schedules are locked by this transaction, which deletes
        them, so none of their messages was notified before."""
        for model, group in schedules._group_by_model().items():
            messages = group.mail_message_id
            records = (self.env[model].browse(messages.mapped("res_id")) if model
                       else [self.env["mail.thread"]] * len(group))
            for record, schedule in zip(records, group, strict=True):
                parameters = json.loads(schedule.notification_parameters or "{}")
                parameters.pop("scheduled_date", None)
                record.with_context(mail_notify_force_send=False)._notify_thread(
                    schedule.mail_message_id, msg_vals=False, **parameters)
        schedules.unlink()

    @api.model
    def _mail_router_send_emails(self, records, since):
        """The emails queued since ``since`` for messages on ``records`` (the notifications
        just rendered, and what a module queued at posting: mail_group's), sent in
        batches; the number sent."""
        mails = self.browse()
        for model, res_ids in records.items():
            self.env.cr.execute("""
                SELECT mail.id FROM mail_mail mail JOIN mail_message message ON message.id = mail.mail_message_id
                 WHERE mail.state = 'outgoing' AND mail.create_date >= %s AND message.model = %s
                   AND message.res_id = ANY(%s)""", [since, model, list(res_ids)])
            mails |= self.browse(row[0] for row in self.env.cr.fetchall())
        for ids in split_every(BATCH, mails.ids):
            self._mail_router_send_batch(self.sudo().browse(ids))
        return len(mails)

    @api.model
    def _mail_router_send_batch(self, batch):
        """One transaction, as stock's inline sending of one mail's notifications is: the
        batch's emails and what they need are read together, and a crash re-sends at most
        one batch (stock's queue commits after each email instead, reading each one alone)."""
        batch.mapped("mail_message_id.author_id.email")
        batch.mapped("recipient_ids.email")
        batch.mapped("attachment_ids")
        batch.with_context(**{SENDING_KEY: True}).send()
        batch.exists().filtered(
            lambda mail: mail.auto_delete and (mail.state == "sent" or mail.failure_type in KEPT_FAILURES)).unlink()
        self.env.cr.commit()
