import base64
import logging
import time
from datetime import timedelta

from odoo import api, fields, models
from odoo.exceptions import UserError

from ..routing.headers import storable

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

    Mail that was not posted and not quarantined (bounces, loops, auto-replies,
    throttled mail) keeps its raw bytes here for the log's retention, and can be
    routed again from its entry. Exactly once is the ledger's job (mail.router.ledger).
    """

    _name = "mail.router.log"
    _inherit = ["mail.router.raw.mixin"]
    _description = "Mail Routing Log"
    _order = "id desc"
    _rec_name = "message_id"

    fetchmail_server_id = fields.Many2one(
        "fetchmail.server", "Incoming Server", ondelete="set null", index="btree_not_null")
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
    authentication = fields.Char(
        "Sender Authentication", help="What the trusted receiving servers (mail_router.trusted_authserv_ids) "
                                      "said of the From address, in their Authentication-Results.")
    duration_ms = fields.Integer("Duration (ms)")
    raw = fields.Binary(help="The message exactly as received, kept when it was neither posted nor quarantined.")

    @api.model
    def _record(self, mail, decision, started, posted=None, bounce_sent=False, error=None, raw=None):
        """Write the entry for one processed mail, and its grep-able log line.
        Every value comes from the mail's parsed headers or an error: made storable."""
        targets = decision.targets
        server_id = self.env.context.get("default_fetchmail_server_id")
        decision = decision.storable()
        log = self.create({
            "fetchmail_server_id": server_id,
            "message_id": mail.message_id,
            "email_from": mail.from_email,
            "email_to": ", ".join(mail.recipients),
            "subject": mail.subject,
            "stage": decision.stage,
            "matched": decision.matched,
            "reason": decision.reason,
            "error": error and storable(error),
            "target_model": ", ".join(dict.fromkeys(t.model for t in targets)) or False,
            "target_res_ids": ",".join(str(t.res_id) for t in targets if t.res_id) or False,
            "alias_id": next((t.alias_id for t in targets if t.alias_id), False),
            "mail_message_id": posted.id if posted else False,
            "bounce_sent": bounce_sent,
            "authentication": decision.authentication,
            "duration_ms": round((time.monotonic() - started) * 1000),
            "raw": raw and base64.b64encode(raw),
        })
        _logger.info(
            "routing %s: Message-Id %s from %s to %s -> %s (matched %s): %s [%d ms]",
            decision.stage, mail.message_id, mail.from_email or "-", log.email_to or "-",
            ", ".join(f"{t.model},{t.res_id or 'new'}" for t in targets) or "no target",
            decision.matched or "-", decision.reason, log.duration_ms)
        return log

    def action_retry(self):
        """Route a mail that was dropped (bounce, loop, auto-reply, throttled) again,
        with today's configuration: a new entry says what happened this time."""
        for entry in self:
            if not entry.raw:
                raise UserError(self.env._(
                    "%(mail)s has no raw message to route again: only mail that was neither posted nor "
                    "quarantined keeps one (a quarantined mail is retried from the Mail Quarantine).",
                    mail=entry.display_name))
            self.env["mail.thread"]._mail_router_retry(entry.raw_bytes(), entry.fetchmail_server_id)
        return True

    @api.model
    def _gc_routing_log(self):
        """Forget log entries past the retention (days, system parameter
        mail_router.log_retention_days), with the quarantine entries already dealt with
        and the bounces sent; the ledger has its own, longer, retention."""
        days = int(self.env["ir.config_parameter"].sudo().get_param(RETENTION_PARAMETER, DEFAULT_RETENTION_DAYS))
        limit = fields.Datetime.now() - timedelta(days=days)
        self.search([("create_date", "<", limit)]).unlink()
        self.env["mail.router.quarantine"].search(
            [("create_date", "<", limit), ("state", "!=", "pending")]).unlink()
        self.env["mail.router.bounce"].search([("create_date", "<", limit)]).unlink()
        self.env["mail.router.ledger"]._gc_ledger()
