from odoo import api, fields, models

from .. import parameters
from ..routing.outcome import QuarantineState
from .base import REPLY_TO_STYLES


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    mail_router_reply_to_style = fields.Selection(
        REPLY_TO_STYLES, string="Reply-To of Record Mail", default=parameters.REPLY_TO_STYLE.default, required=True,
        config_parameter=parameters.REPLY_TO_STYLE.key,
        help="Catchall: stock's Reply-To, the catchall address. Record address: a signed address naming "
             "the record (purchase+123-<signature>@yourdomain.com), so that a reply reaches the record even "
             "when the mail client drops In-Reply-To and References. The mail server must deliver "
             "plus-addressed mail to the base mailbox.")
    mail_router_trusted_authserv_ids = fields.Char(
        "Trusted Authentication Servers", config_parameter=parameters.TRUSTED_AUTHSERV_IDS.key,
        help="Comma-separated authserv-ids of your receiving mail servers (e.g. mx.example.com), as they "
             "write them in Authentication-Results. When set, a sender posts through an unsigned record "
             "address only if that server saw DMARC (or an aligned DKIM or SPF) pass for their From.")
    # Not config_parameter fields: a Boolean would delete its parameter when off, and off
    # must stay off; the default is kept as no parameter, to follow the addon's list.
    mail_router_subject_reference = fields.Boolean(
        "Route by Reference in the Subject",
        help="A mail that no thread header routes (a new mail naming its order, a reply whose mail client "
             "dropped In-Reply-To and References) reaches the record whose reference (P00012, S00034, "
             "INV/2026/00012) its Subject names, if the sender is known to the record, or, with trusted "
             "authentication servers, authenticated at the domain of the record's partner.")
    mail_router_public_mail_domains = fields.Char(
        "Public Mail Domains",
        help="Comma-separated domains where anyone may have an address (gmail.com, outlook.com...): a sender "
             "there is never taken for a colleague of a record's partner. Empty: the list shipped with the addon.")
    # Integers kept as system parameters; 0 (empty) falls back to the default.
    mail_router_log_retention_days = fields.Integer(
        "Routing Log Retention (days)", config_parameter=parameters.LOG_RETENTION_DAYS.key,
        default=parameters.LOG_RETENTION_DAYS.default,
        help="The daily scheduled action Mail Router: Clean Routing Log removes older routing log entries, with "
             "the raw mail they keep, the quarantine entries already routed or discarded, and the record of "
             "the bounces sent. Mail waiting in the quarantine is never removed.")
    mail_router_ledger_retention_days = fields.Integer(
        "Message-ID Memory (days)", config_parameter=parameters.LEDGER_RETENTION_DAYS.key,
        default=parameters.LEDGER_RETENTION_DAYS.default,
        help="How long the Message-ID of a processed mail is remembered, so that the same mail fetched "
             "again (a restored mailbox, a server that lost its flags) is skipped as a duplicate. Keep it "
             "longer than your mailboxes keep mail.")
    mail_router_fetch_failure_alert_threshold = fields.Integer(
        "Alert After Failed Fetches", config_parameter=parameters.FETCH_FAILURE_ALERT_THRESHOLD.key,
        default=parameters.FETCH_FAILURE_ALERT_THRESHOLD.default,
        help="After this many failed fetches of a server in a row, the Settings administrators get one "
             "email (not one per run). A failed Test & Confirm does not count.")
    mail_router_quarantine_waiting = fields.Char(
        "Mail Waiting in Quarantine", compute="_compute_mail_router_quarantine_waiting")

    def get_values(self):
        return dict(super().get_values(),
                    mail_router_subject_reference=parameters.SUBJECT_REFERENCE.read(self.env),
                    mail_router_public_mail_domains=", ".join(parameters.PUBLIC_MAIL_DOMAINS.read(self.env)))

    def set_values(self):
        result = super().set_values()
        parameters.SUBJECT_REFERENCE.store(self.env, self.mail_router_subject_reference)
        parameters.PUBLIC_MAIL_DOMAINS.store(self.env, parameters.domains(self.mail_router_public_mail_domains or "")
                                             or parameters.PUBLIC_MAIL_DOMAINS.default)
        return result

    # a field it depends on, so that the settings form (a new record) computes it, as stock's counters
    @api.depends("company_id")
    def _compute_mail_router_quarantine_waiting(self):
        count = self.env["mail.router.quarantine"].sudo().search_count([("state", "=", QuarantineState.PENDING)])
        if count == 1:
            self.mail_router_quarantine_waiting = self.env._("1 mail waiting in quarantine")
        else:
            self.mail_router_quarantine_waiting = self.env._("%s mails waiting in quarantine", count)

    def action_mail_router_open_quarantine(self):
        """The quarantine, on the mail waiting (its action's default filter, Waiting)."""
        return self.env["ir.actions.act_window"]._for_xml_id("mail_router.mail_router_quarantine_action")
