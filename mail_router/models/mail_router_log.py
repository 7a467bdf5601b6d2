import base64
import logging
import time
from datetime import UTC, datetime, timedelta

from odoo import api, fields, models
from odoo.exceptions import UserError

from .. import parameters
from ..intake import Intake, Origin
from ..routing.headers import storable
from ..routing.outcome import CAUSE_LABELS, LABELS, QUARANTINED, ROUTED, QuarantineState, advice

_logger = logging.getLogger("odoo.addons.mail_router.routing")

ROUTING_STAGES = [(outcome.value, label) for outcome, label in LABELS.items()]
CAUSES = [(cause.value, label) for cause, label in CAUSE_LABELS.items()]
NOTIFIED_ENTRIES = 10  # a notification names at most this many mails, then counts the others


def mail_thread_models(records):
    """Selection of the models that take mail, where a mail may be routed: those with a
    message_new, every mail.thread and the alias targets that are none (mail.group)."""
    receiving = [name for name, model in records.env.registry.items()
                 if not model._abstract and not model._transient and hasattr(model, "message_new")]
    found = records.env["ir.model"].sudo().search([("model", "in", receiving)])
    return [(model.model, model.name) for model in found]


def routable_models(records):
    """Selection of the models Route to... offers: those that receive mail here. First the
    models the gateway posted mail on, the most first; then the models of the aliases and
    of the incoming servers' default models; then contacts. Each takes mail (message_new)."""
    env = records.env(su=True)
    posted = env["mail.router.log"]._read_group(
        [("target_model", "!=", False), ("stage", "in", list(ROUTED))], ["target_model"], ["__count"])
    counts = {}
    for models_, count in posted:
        for model in models_.split(", "):
            counts[model] = counts.get(model, 0) + count
    configured = set(env["mail.alias"].search([]).alias_model_id.mapped("model"))
    configured |= set(env["fetchmail.server"].with_context(active_test=False).search([]).object_id.mapped("model"))
    configured.add("res.partner")
    receiving = {name for name in set(counts) | configured
                 if name in env.registry and not env[name]._abstract and not env[name]._transient
                 and hasattr(env[name], "message_new")}
    names = dict(env["ir.model"].search([("model", "in", list(receiving))]).mapped(lambda m: (m.model, m.name)))
    ordered = sorted(receiving, key=lambda model: (-counts.get(model, 0), model == "res.partner",
                                                  names.get(model, model)))
    return [(model, names.get(model, model)) for model in ordered]


def notification(title, message, kind):
    """A client action showing ``message`` on screen, then reloading the view behind it,
    which shows the outcome too: the notification goes away by itself, unless it tells
    of a failure (``kind`` 'danger'), which stays until closed."""
    return {
        "type": "ir.actions.client",
        "tag": "display_notification",
        # text-prewrap: a message of several lines is shown as several lines
        "params": {"title": title, "message": message, "type": kind, "sticky": kind == "danger",
                   "className": "text-prewrap", "next": {"type": "ir.actions.client", "tag": "soft_reload"}},
    }


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
    _rec_name = "subject"

    fetchmail_server_id = fields.Many2one(
        "fetchmail.server", "Incoming Server", ondelete="set null", index="btree_not_null")
    email_from = fields.Char("From", index=True)
    email_to = fields.Char("To")
    subject = fields.Char()
    stage = fields.Selection(ROUTING_STAGES, required=True, index=True)
    matched = fields.Char("Matched Value", help="The header value that decided the route.")
    reason = fields.Char(help="Why the mail went where it went, or nowhere.")
    cause = fields.Selection(CAUSES, help="Why the mail was kept, when its stage alone does not say.")
    advice = fields.Char("What to Do", compute="_compute_advice")
    error = fields.Text()
    target_model = fields.Char(help="Comma-separated when aliases of several models matched.")
    target_res_ids = fields.Char("Target Record IDs", help="Comma-separated, several when several aliases matched.")
    alias_id = fields.Many2one("mail.alias", ondelete="set null")
    mail_message_id = fields.Many2one("mail.message", "Posted Message", ondelete="set null")
    bounce_sent = fields.Boolean(help="The sender was told the mail reached no one.")
    authentication = fields.Char(
        "Sender Authentication", help="What the trusted receiving servers (mail_router.trusted_authserv_ids) "
                                      "said of the From address, in their Authentication-Results.")
    duration_ms = fields.Integer("Duration (ms)", aggregator="avg")
    arrived_date = fields.Datetime(
        "Arrived On", help="When the incoming mail server received the mail (IMAP INTERNALDATE); empty for "
                           "POP3 and for mail not fetched.")
    delay_ms = fields.Integer(
        "Delay (ms)", aggregator="avg",
        help="From the mail's arrival on the incoming mail server to the end of its routing: how long it waited "
             "to be fetched, and was processed.")
    raw = fields.Binary(help="The message exactly as received, kept when it was neither posted nor quarantined.")
    target_record = fields.Reference(selection=mail_thread_models, compute="_compute_target_record",
                                     string="Target", help="The (first) record the mail was routed to.")

    @api.depends("subject", "message_id")
    def _compute_display_name(self):
        for entry in self:
            entry.display_name = entry.subject or entry.message_id

    @api.depends("stage", "cause")
    def _compute_advice(self):
        for entry in self:
            entry.advice = advice(entry.stage, entry.cause) if entry.stage else False

    @api.depends("mail_message_id", "target_model", "target_res_ids")
    def _compute_target_record(self):
        for entry in self:
            posted = entry.mail_message_id
            model, res_id = ((posted.model, str(posted.res_id)) if posted.model else
                             ((entry.target_model or "").split(",")[0], (entry.target_res_ids or "").split(",")[0]))
            exists = model in self.env and res_id.isdigit() and self.env[model].browse(int(res_id)).exists()
            entry.target_record = f"{model},{res_id}" if exists else False

    @api.model
    def _record(self, mail, decision, started, server_id, posted_id=None, bounce_sent=False, error=None, raw=None,
                arrived=None):
        """Write the entry for one processed mail (fetched by ``server_id``), and its
        grep-able log line. Every value comes from the mail's parsed headers or an
        error: made storable."""
        targets = decision.targets
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
            "cause": decision.cause,
            "error": error and storable(error),
            "target_model": ", ".join(dict.fromkeys(t.model for t in targets)) or False,
            "target_res_ids": ",".join(str(t.res_id) for t in targets if t.res_id) or False,
            "alias_id": next((t.alias_id for t in targets if t.alias_id), False),
            "mail_message_id": posted_id or False,
            "bounce_sent": bounce_sent,
            "authentication": decision.authentication,
            "duration_ms": round((time.monotonic() - started) * 1000),
            "arrived_date": arrived and datetime.fromtimestamp(arrived, UTC).replace(tzinfo=None),
            "delay_ms": arrived and max(round((time.time() - arrived) * 1000), 0),
            "raw": raw and base64.b64encode(raw),
        })
        _logger.info(
            "routing %s: Message-Id %s from %s to %s -> %s (matched %s): %s [%d ms]",
            decision.stage, mail.message_id, mail.from_email or "-", log.email_to or "-",
            ", ".join(f"{t.model},{t.res_id or 'new'}" for t in targets) or "no target",
            decision.matched or "-", decision.reason, log.duration_ms)
        return log

    @api.model
    def _mail_router_latest(self, server_id, after_id):
        """(id, stage, model and id of the record posted on) of the newest entry of
        ``server_id`` after ``after_id``: the fetcher's mail, which the intake just
        recorded (one fetcher per server at a time); None when there is none."""
        self.flush_model()
        self.env.cr.execute("""
            SELECT log.id, log.stage, message.model, message.res_id
              FROM mail_router_log log LEFT JOIN mail_message message ON message.id = log.mail_message_id
             WHERE log.fetchmail_server_id = %s AND log.id > %s
          ORDER BY log.id DESC LIMIT 1""", [server_id, after_id])
        return self.env.cr.fetchone()

    def action_retry(self):
        """Route a mail that was dropped (bounce, loop, auto-reply, throttled) again,
        with today's configuration: a new entry says what happened this time."""
        logs = self.browse()
        for entry in self:
            if not entry.raw:
                raise UserError(self.env._(
                    "%(mail)s has no raw message to route again: only mail that was neither posted nor "
                    "quarantined keeps one (a quarantined mail is retried from the Mail Quarantine).",
                    mail=entry.display_name))
            intake = Intake(entry.raw_bytes(), Origin.of_server(entry.fetchmail_server_id))
            logs |= self.browse(intake.process(self.env, past_ledger=True).log_id)
        return logs._notification(logs._title(self.env._("Posted"), self.env._("Not posted")))

    def action_open_target(self):
        self.ensure_one()
        return {"type": "ir.actions.act_window", "res_model": self.target_record._name,
                "res_id": self.target_record.id, "view_mode": "form", "target": "current"}

    def action_open_message(self):
        self.ensure_one()
        return {"type": "ir.actions.act_window", "res_model": "mail.message",
                "res_id": self.mail_message_id.id, "view_mode": "form", "target": "current"}

    def action_simulate(self):
        """The simulator on this mail, from the bytes the log or the quarantine kept."""
        self.ensure_one()
        quarantined = self.env["mail.router.quarantine"].search([("message_id", "=", self.message_id)], limit=1)
        raw = self.raw_bytes() or (quarantined and quarantined.raw_bytes())
        if not raw:
            raise UserError(self.env._("%(mail)s was posted: its raw message is not kept.", mail=self.display_name))
        return self.env["mail.router.simulator"]._action_open(raw, self.fetchmail_server_id, retry=True)

    def _outcome(self):
        if self.target_record and self.mail_message_id:
            return self.env._("posted on %(record)s", record=self.target_record.display_name)
        return f"{dict(self._fields['stage']._description_selection(self.env))[self.stage]}: {self.reason}"

    def _title(self, posted, not_posted):
        """A notification's title that says what became of these entries' mail: ``posted``
        when all of it was, ``not_posted`` when none was, else how much was."""
        done = self.filtered(lambda entry: entry.stage in ROUTED)
        if done == self:
            return posted
        if not done:
            return not_posted
        return self.env._("%(posted)s: %(count)s of %(total)s", posted=posted, count=len(done), total=len(self))

    def _notification(self, title, hint=None):
        """What these entries say happened, on screen; the view is reloaded to show it."""
        lines = [f"{entry.subject or entry.message_id}: {entry._outcome()}" for entry in self[:NOTIFIED_ENTRIES]]
        if len(self) > NOTIFIED_ENTRIES:
            lines.append(self.env._("and %(count)s more (see the Routing Log)", count=len(self) - NOTIFIED_ENTRIES))
        return notification(title, "\n".join(lines + ([hint] if hint else [])) or self.env._("Nothing to do."),
                            "warning" if QUARANTINED & set(self.mapped("stage")) else "success")

    @api.model
    def _gc_routing_log(self):
        """Forget log entries past the retention (days, system parameter
        mail_router.log_retention_days), with the quarantine entries already dealt with,
        the bounces sent and the fetch runs; the ledger has its own, longer, retention."""
        limit = fields.Datetime.now() - timedelta(days=parameters.LOG_RETENTION_DAYS.read(self.env))
        self.search([("create_date", "<", limit)]).unlink()
        self.env["mail.router.quarantine"].search(
            [("create_date", "<", limit), ("state", "!=", QuarantineState.PENDING)]).unlink()
        self.env["mail.router.bounce"].search([("create_date", "<", limit)]).unlink()
        self.env["mail.router.fetch.run"].search([("create_date", "<", limit)]).unlink()
        self.env["mail.router.ledger"]._gc_ledger()
