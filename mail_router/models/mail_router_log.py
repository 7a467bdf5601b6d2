import logging
import time
from datetime import timedelta

from odoo import api, fields, models

_logger = logging.getLogger("odoo.addons.mail_router.routing")

ROUTING_STAGES = [
    ("in_reply_to", "In-Reply-To"),
    ("references", "References"),
    ("alias", "Alias"),
    ("record_address", "Record address (alias+id)"),
    ("catchall_default", "Catchall: default model"),
    ("quarantine", "Quarantine"),
    ("bounce", "Bounce"),
    ("duplicate", "Duplicate"),
    ("loop", "Loop"),
    ("auto_reply", "Auto-reply dropped"),
    ("throttled", "Throttled"),
]
RETENTION_PARAMETER = "mail_router.log_retention_days"
DEFAULT_RETENTION_DAYS = 90


class MailRouterLog(models.Model):
    """One entry per incoming message: the routing decision and why it was taken.

    It is also the ledger that makes processing exactly-once: a Message-ID with an
    entry (other than 'duplicate') is not processed again.
    """

    _name = "mail.router.log"
    _description = "Mail Routing Log"
    _order = "id desc"
    _rec_name = "message_id"

    fetchmail_server_id = fields.Many2one(
        "fetchmail.server", "Incoming Server", ondelete="set null", index="btree_not_null")
    message_id = fields.Char("Message-ID", required=True, index=True)
    email_from = fields.Char("From", index=True)
    email_to = fields.Char("To")
    subject = fields.Char()
    stage = fields.Selection(ROUTING_STAGES, required=True, index=True)
    matched = fields.Char("Matched Value", help="The header value that decided the route.")
    reason = fields.Char()
    error = fields.Text()
    target_model = fields.Char(help="Comma-separated when aliases of several models matched.")
    target_res_ids = fields.Char("Target Record IDs", help="Comma-separated, several when several aliases matched.")
    alias_id = fields.Many2one("mail.alias", ondelete="set null")
    mail_message_id = fields.Many2one("mail.message", "Created Message", ondelete="set null")
    bounce_sent = fields.Boolean(help="The sender was told the mail reached no one.")
    duration_ms = fields.Integer("Duration (ms)")

    @api.model
    def _is_processed(self, message_id):
        """The ledger: a final outcome for this Message-ID, or a stored message with it."""
        self.flush_model(["message_id", "stage"])
        self.env["mail.message"].flush_model(["message_id"])
        self.env.cr.execute(
            """SELECT EXISTS (SELECT 1 FROM mail_router_log WHERE message_id = %(id)s AND stage != 'duplicate')
                   OR EXISTS (SELECT 1 FROM mail_message WHERE message_id = %(id)s)""",
            {"id": message_id})
        return self.env.cr.fetchone()[0]

    @api.model
    def _bounced_recently(self, email, hours=24):
        return bool(self.search_count([
            ("email_from", "=", email), ("bounce_sent", "=", True),
            ("create_date", ">", fields.Datetime.now() - timedelta(hours=hours)),
        ], limit=1))

    @api.model
    def _record(self, mail, decision, started, posted=None, bounce_sent=False, error=None):
        """Write the entry for one processed mail, and its grep-able log line."""
        targets = decision.targets
        server_id = self.env.context.get("default_fetchmail_server_id")
        log = self.create({
            "fetchmail_server_id": server_id,
            "message_id": mail.message_id,
            "email_from": mail.from_email,
            "email_to": ", ".join(mail.recipients),
            "subject": mail.subject,
            "stage": decision.stage,
            "matched": decision.matched,
            "reason": decision.reason,
            "error": error,
            "target_model": ", ".join(dict.fromkeys(t.model for t in targets)) or False,
            "target_res_ids": ",".join(str(t.res_id) for t in targets if t.res_id) or False,
            "alias_id": next((t.alias_id for t in targets if t.alias_id), False),
            "mail_message_id": posted.id if posted else False,
            "bounce_sent": bounce_sent,
            "duration_ms": round((time.monotonic() - started) * 1000),
        })
        _logger.info(
            "routing %s: Message-Id %s from %s to %s -> %s (matched %s): %s [%d ms]",
            decision.stage, mail.message_id, mail.from_email or "-", log.email_to or "-",
            ", ".join(f"{t.model},{t.res_id or 'new'}" for t in targets) or "no target",
            decision.matched or "-", decision.reason, log.duration_ms)
        return log

    @api.model
    def _gc_routing_log(self):
        """Forget log entries past the retention (days, system parameter
        mail_router.log_retention_days), with the quarantine entries already dealt with."""
        days = int(self.env["ir.config_parameter"].sudo().get_param(RETENTION_PARAMETER, DEFAULT_RETENTION_DAYS))
        limit = fields.Datetime.now() - timedelta(days=days)
        self.search([("create_date", "<", limit)]).unlink()
        self.env["mail.router.quarantine"].search(
            [("create_date", "<", limit), ("state", "!=", "pending")]).unlink()
