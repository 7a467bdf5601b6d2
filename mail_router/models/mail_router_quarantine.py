import base64
import time

from odoo import api, fields, models
from odoo.exceptions import UserError
from odoo.tools import html2plaintext

from ..intake import Intake, Origin
from ..routing.chain import Decision
from ..routing.headers import decode_words, header_values, storable
from ..routing.incoming import read_mail
from ..routing.outcome import QUARANTINE_STATE_LABELS, Outcome, QuarantineState, advice
from .mail_router_log import CAUSES

PREVIEW_HEADERS = ("From", "To", "Cc", "Date", "Subject", "Message-ID", "In-Reply-To", "References")


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
    reason = fields.Char(required=True, help="Why no record took the mail.")
    cause = fields.Selection(CAUSES, help="Why the mail is kept, in a word: group the quarantine by it.")
    advice = fields.Char("What to Do", compute="_compute_advice")
    error = fields.Text(help="The exception raised while processing, if any.")
    authentication = fields.Char(
        "Sender Authentication", help="What the trusted receiving servers said of the From address.")
    fetchmail_server_id = fields.Many2one("fetchmail.server", "Incoming Server", ondelete="set null")
    state = fields.Selection(
        [(state.value, label) for state, label in QUARANTINE_STATE_LABELS.items()],
        default=QuarantineState.PENDING.value, required=True, index=True)
    preview_headers = fields.Text("Headers", compute="_compute_preview")
    preview_body = fields.Text("Text", compute="_compute_preview")
    preview_attachments = fields.Text("Attachments", compute="_compute_preview")

    @api.depends("subject", "message_id")
    def _compute_display_name(self):
        for entry in self:
            entry.display_name = entry.subject or entry.message_id

    @api.depends("cause", "error")
    def _compute_advice(self):
        for entry in self:
            entry.advice = advice(Outcome.FAILED if entry.error else Outcome.QUARANTINE, entry.cause)

    @api.depends("raw")
    def _compute_preview(self):
        for entry in self:
            message, _mail, unreadable = read_mail(entry.raw_bytes())
            if unreadable:
                entry.update(preview_headers=unreadable, preview_body=False, preview_attachments=False)
                continue
            entry.preview_headers = "\n".join(
                f"{name}: {storable(decode_words(value))}" for name in PREVIEW_HEADERS
                for value in header_values(message, name))
            entry.preview_body = storable(_body_text(message))
            entry.preview_attachments = "\n".join(
                _attachment_line(part) for part in message.iter_attachments()) or False

    @api.model
    def _keep(self, raw, mail, decision, error, server_id, quarantined=None):
        """Quarantine ``raw`` (fetched by ``server_id``) with the decision's reason; a
        retried entry is updated. The raw bytes go to an attachment as they are; the
        text fields are made storable."""
        decision = decision.storable()
        values = {"reason": decision.reason, "cause": decision.cause, "error": error and storable(error),
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
            fetchmail_server_id=server_id,
        ))

    def retry(self):
        """Route the mail again, with today's configuration."""
        self._route_again()
        return True

    def action_retry(self):
        logs = self._route_again()
        return logs._notification(logs._title(self.env._("Routed"), self.env._("Still in quarantine")))

    def _route_to(self, record):
        """Post the mail on ``record``, through the gateway's intake: logged as a manual route."""
        return self._route_again(chosen=(record._name, record.id))

    def _route_again(self, chosen=None):
        """The routing log entries of routing each pending entry again (to the record
        ``chosen``, (model, id), when an administrator chose one)."""
        logs = self.env["mail.router.log"]
        for entry in self:
            if entry.state != QuarantineState.PENDING:
                raise UserError(self.env._("Only mail waiting in the quarantine can be routed again: %(mail)s is "
                                           "%(state)s.", mail=entry.display_name, state=entry.state))
            intake = Intake(entry.raw_bytes(), Origin.of_server(entry.fetchmail_server_id))
            logs |= logs.browse(intake.process(self.env, past_ledger=True, quarantined=entry, chosen=chosen).log_id)
        return logs

    def action_route_to(self):
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Route to..."),
            "res_model": "mail.router.quarantine.route",
            "view_mode": "form",
            "target": "new",
            "context": {"default_quarantine_ids": self.ids},
        }

    def action_discard(self):
        """Discard pending mail, a routing log line each; Restore undoes it."""
        pending = self.filtered(lambda entry: entry.state == QuarantineState.PENDING)
        pending.write({"state": QuarantineState.DISCARDED})
        reason = f"discarded from the quarantine by {self.env.user.name}"
        logs = self.env["mail.router.log"].union(*(entry._log(Outcome.DISCARDED, reason) for entry in pending))
        return logs._notification(self.env._("Discarded"), self.env._(
            "Restore them from the quarantine's Discarded filter to undo."))

    def action_restore(self):
        """Undo a discard: the mail waits in the quarantine again."""
        discarded = self.filtered(lambda entry: entry.state == QuarantineState.DISCARDED)
        discarded.write({"state": QuarantineState.PENDING})
        reason = f"restored to the quarantine by {self.env.user.name}"
        logs = self.env["mail.router.log"].union(*(entry._log(Outcome.QUARANTINE, reason) for entry in discarded))
        return logs._notification(self.env._("Restored"))

    def action_simulate(self):
        self.ensure_one()
        return self.env["mail.router.simulator"]._action_open(self.raw_bytes(), self.fetchmail_server_id, retry=True)

    def _log(self, stage, reason):
        """A routing log line for what an administrator did with this entry."""
        self.ensure_one()
        mail = read_mail(self.raw_bytes())[1]
        return self.env["mail.router.log"]._record(mail, Decision(stage, (), None, reason), time.monotonic(),
                                                   self.fetchmail_server_id.id)


def _body_text(message):
    """The mail's text as a reader sees it: the plain part, else the HTML part as text.
    Quarantined mail may name a charset Python does not know: its bytes are then read as UTF-8."""
    body = message.get_body(preferencelist=("plain", "html"))
    if body is None:
        return ""
    try:
        text = body.get_content()
    except (LookupError, UnicodeError, KeyError):
        text = (body.get_payload(decode=True) or b"").decode("utf-8", errors="replace")
    return html2plaintext(text) if body.get_content_subtype() == "html" else text


def _attachment_line(part):
    name = storable(part.get_filename() or "(unnamed)")
    return f"{name} ({part.get_content_type()}, {len(part.get_payload(decode=True) or b'')} bytes)"
