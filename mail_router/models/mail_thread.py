"""Incoming mail, one message at a time: the pipeline of mail_router.

    message_process   gateway callers only (administrators, the cron, the mailgate)
                      raw bytes -> read (never raises) -> ledger claim (duplicate?)
                      -> in a savepoint: parse -> message_route (the resolver chain) -> post
                      -> on no route or error: quarantine (+ one bounce, by policy)
                      -> routing log entry (raw bytes kept when not posted)
    message_route     stock's contract (routes, or ValueError), decided by
                      routing.chain.decide() over RoutingLookup

Whatever one mail does, message_process returns: what cannot be recorded as
decided is quarantined as "could not be recorded". The caller commits (the
fetcher, after each message); nothing here commits.
"""
import ast
import logging
import secrets
import time
import traceback
import xmlrpc.client
from dataclasses import replace
from email.message import EmailMessage

from odoo import api, models, tools
from odoo.exceptions import AccessError
from odoo.osv.expression import WILDCARD_OPERATORS
from odoo.tools.sql import escape_psql

from ..routing.chain import Decision, RoutingConfig, decide
from ..routing.headers import incoming_mail, read_mail, storable_values
from ..routing.hygiene import bounce_refusal, classify
from ..routing.message_id import MessageIdCodec
from ..routing.mime import make_readable
from .routing_lookup import RoutingLookup

_logger = logging.getLogger("odoo.addons.mail_router.routing")

SECRET_PARAMETER = "mail_router.message_id_secret"
TRUSTED_AUTHSERV_PARAMETER = "mail_router.trusted_authserv_ids"
REPLY_STAGES = ("in_reply_to", "references")
# message_route hands its Decision to message_process through the message dict,
# so that message_route overrides of other modules stay in the call chain.
DECISION_KEY = "mail_router_decision"


def raw_bytes(message):
    """message_process accepts bytes, str or xmlrpc Binary; routing keeps bytes."""
    if isinstance(message, xmlrpc.client.Binary):
        return bytes(message.data)
    if isinstance(message, str):
        return message.encode("utf-8")
    return bytes(message)


def comma_separated(value):
    return tuple(filter(None, (item.strip() for item in value.split(","))))


def quarantined_for(what, exc):
    """(the quarantine Decision, the traceback) for a mail whose ``what`` raised ``exc``."""
    return (Decision("quarantine", (), None, f"{what}: {type(exc).__name__}: {exc}"),
            "".join(traceback.format_exception(exc)))


class MailThread(models.AbstractModel):
    _inherit = "mail.thread"

    # ------------------------------------------------------------------
    # Entry points (stock signatures)
    # ------------------------------------------------------------------

    @api.model
    def message_process(self, model, message, custom_values=None,
                        save_original=False, strip_attachments=False, thread_id=None):
        """Process one incoming mail exactly once; what cannot be routed is quarantined.

        Unlike stock, this does not raise when no route is found: the mail is kept
        in the quarantine with its reason, and the routing log says so.
        """
        self._mail_router_check_gateway_access()
        _log, thread_id = self._mail_router_process(
            raw_bytes(message), model, custom_values=custom_values, save_original=save_original,
            strip_attachments=strip_attachments, thread_id=thread_id)
        return thread_id

    @api.model
    def message_route(self, message, message_dict, model=None, thread_id=None, custom_values=None):
        """Stock's contract: the routes, [] for mail that is handled without route
        (bounce, loop, auto-reply), ValueError when nothing routes."""
        self._mail_router_check_gateway_access()
        if not isinstance(message, EmailMessage):
            raise TypeError("message must be an email.message.EmailMessage at this point")
        mail = replace(incoming_mail(message, b""), message_id=message_dict["message_id"])
        decision = decide(mail, RoutingLookup(self.env), self._mail_router_codec(),
                          self._mail_router_config(model))
        routes, decision = self._mail_router_routes(message, message_dict, decision, thread_id, custom_values)
        message_dict[DECISION_KEY] = decision
        if decision.stage == "bounce":
            self._routing_handle_bounce(message, message_dict)
        else:
            self._routing_reset_bounce(message, message_dict)
        if decision.stage == "quarantine":
            raise ValueError(f"No route for mail with Message-Id {mail.message_id}: {decision.reason}")
        return routes

    def _message_route_process(self, message, message_dict, routes):
        # message_route leaves its decision in the dict; message_post must not get it
        message_dict.pop(DECISION_KEY, None)
        return super()._message_route_process(message, message_dict, routes)

    @api.model
    def _detect_is_bounce(self, message, message_dict):
        """One rule for bounces, the core's, for stock's bounce parsing too."""
        mail = incoming_mail(message, b"")
        return classify(message, mail.from_email, mail.recipients,
                        self._mail_router_config(None).bounce_addresses) == "bounce"

    # ------------------------------------------------------------------
    # The pipeline
    # ------------------------------------------------------------------

    def _mail_router_check_gateway_access(self):
        """The gateway writes the ledger, the log and the quarantine as superuser: only
        its own callers may feed it, or anyone could mark a Message-ID as processed."""
        if not (self.env.su or self.env.user._is_system()):
            raise AccessError(self.env._(
                "Only the mail gateway (the scheduled action, the mailgate script, Settings "
                "administrators) may process incoming mail."))

    @api.model
    def _mail_router_process(self, raw, model=None, custom_values=None, save_original=False,
                             strip_attachments=False, thread_id=None, quarantined=None, retry=False):
        """Route and post ``raw``; returns (routing log entry, thread id or False). Never
        raises for what the mail holds.

        ``retry``: route it again, past the ledger; ``quarantined``: the quarantine
        entry being retried, updated instead of a new entry being made.
        """
        started = time.monotonic()
        message, mail, unreadable = read_mail(raw)
        Log = self.env["mail.router.log"].sudo()
        if not retry and not self.env["mail.router.ledger"].sudo()._claim(mail.message_id):
            decision = Decision("duplicate", (), mail.message_id,
                                f"{mail.message_id} was already processed: skipped")
            return Log._record(mail, decision, started), False
        result, failure = self._mail_router_contained(lambda: self._mail_router_decide_and_keep(
            raw, message, mail, unreadable, started, quarantined,
            model, custom_values, save_original, strip_attachments, thread_id))
        if not failure:
            return result
        # the last resort: the mail is kept, whatever broke
        decision, error = quarantined_for("could not be recorded", failure)
        self.env["mail.router.quarantine"].sudo()._keep(raw, mail, decision, error, quarantined)
        return Log._record(mail, decision, started, error=error), False

    def _mail_router_contained(self, work):
        """(work(), None), or (None, the exception it raised) with all it did rolled back.
        As in stock's message_process, precommit hooks (tracking, and the mail templates
        it sends) are left to the commit."""
        cr = self.env.cr
        cr.flush()
        savepoint = cr.savepoint(flush=False)
        try:
            result = work()
            self.env.flush_all()
        except Exception as exc:  # the caller records it: containment is the point
            cr.clear()
            savepoint.close(rollback=True)
            return None, exc
        savepoint.close(rollback=False)
        return result, None

    def _mail_router_decide_and_keep(self, raw, message, mail, unreadable, started, quarantined,
                                     model, custom_values, save_original, strip_attachments, thread_id):
        """Route and post in a savepoint, then keep what was not posted: quarantined,
        or its raw bytes on the log entry."""
        error, thread_id_done, posted = None, False, self.env["mail.message"]
        if unreadable:
            decision = Decision("quarantine", (), None, f"the mail cannot be parsed: {unreadable}")
        else:
            routed, failure = self._mail_router_contained(lambda: self._mail_router_route_and_post(
                message, mail, model, custom_values, save_original, strip_attachments, thread_id))
            if failure:
                decision, error = quarantined_for("processing failed", failure)
            else:
                decision, thread_id_done = routed
        if decision.targets and decision.stage != "quarantine":
            posted = self.env["mail.message"].sudo().search(
                [("message_id", "=", mail.message_id)], order="id desc", limit=1)
        if decision.stage == "quarantine":
            self.env["mail.router.quarantine"].sudo()._keep(raw, mail, decision, error, quarantined)
            if decision.bounce_sender:
                self._mail_router_bounce_sender(message, mail)
        elif quarantined:
            quarantined.state = "routed"
        kept = None if posted or decision.stage == "quarantine" else raw
        bounce_sent = not posted and self.env["mail.router.bounce"].sudo()._sent_about(mail.message_id)
        log = self.env["mail.router.log"].sudo()._record(
            mail, decision, started, posted=posted, bounce_sent=bounce_sent, error=error, raw=kept)
        return log, thread_id_done

    @api.model
    def _mail_router_retry(self, raw, server, quarantined=None):
        """Route ``raw`` again, as ``server`` (maybe none) would fetch it today."""
        return self.with_context(default_fetchmail_server_id=server.id)._mail_router_process(
            raw, server.object_id.model, save_original=server.original,
            strip_attachments=bool(server) and not server.attach, quarantined=quarantined, retry=True)

    def _mail_router_route_and_post(self, message, mail, model, custom_values,
                                    save_original, strip_attachments, thread_id):
        """(Decision, thread id): parse, route, post, as stock's message_process."""
        make_readable(message)  # stock's parsing raises on unknown charsets, types, unreadable headers...
        # Stock decodes headers with surrogate escapes, and keeps NUL: nothing that
        # reaches PostgreSQL may hold either.
        msg_dict = storable_values(self.message_parse(message, save_original=save_original))
        # Stock invents '<time@localhost>' for a mail without Message-ID: a retry
        # would be a new mail. The core's id is derived from the bytes.
        msg_dict["message_id"] = mail.message_id
        if strip_attachments:
            msg_dict.pop("attachments", None)
        if self._detect_loop_headers(msg_dict):
            return Decision("loop", (), mail.message_id, "reply to our own loop-detection notice"), False
        try:
            routes = self.message_route(message, msg_dict, model, thread_id, custom_values)
        except ValueError:
            if DECISION_KEY not in msg_dict:
                raise
            return msg_dict.pop(DECISION_KEY), False
        decision = msg_dict.pop(DECISION_KEY)
        if routes and self._detect_loop_sender(message, msg_dict, routes):
            return Decision("throttled", (), mail.from_email,
                            f"{mail.from_email} created too many records recently (mail.gateway.loop.*)"), False
        if not routes:
            return decision, False
        return decision, self._message_route_process(message, msg_dict, routes)

    def _mail_router_routes(self, message, message_dict, decision, thread_id, custom_values):
        """Stock routes (model, thread_id, custom_values, user_id, alias) for the
        decision's targets, each checked by stock's _routing_check_route
        (record still there, model accepts mail, alias contact policy)."""
        routes = []
        for target in decision.targets:
            alias = self.env["mail.alias"].browse(target.alias_id)
            message_dict.pop("parent_id", None)
            if decision.stage in REPLY_STAGES:
                parent = self.env["mail.message"].sudo().browse(target.parent_id)
                message_dict.update(self._message_parse_extract_from_parent(parent.exists()))
                res_id, values = target.res_id, custom_values
            elif decision.stage == "catchall_default":
                res_id, values = thread_id or None, custom_values
            else:
                res_id, values = target.res_id, ast.literal_eval(alias.alias_defaults or "{}")
            user_id = self._mail_find_user_for_gateway(message_dict["email_from"], alias=alias).id or self._uid
            Model = self.env[target.model] if target.model in self.env else self
            route = Model._routing_check_route(
                message, message_dict, (target.model, res_id, values, user_id, alias), raise_exception=False)
            if route:
                routes.append(route)
        if decision.targets and not routes:
            decision = Decision("quarantine", (), decision.matched,
                                f"{decision.reason}; refused by the target "
                                "(alias contact policy, or the model takes no mail)")
        return routes, decision

    def _mail_router_bounce_sender(self, message, mail):
        """Tell the sender that the mail reached no one (the one bounce policy applies)."""
        body = self.env["ir.qweb"]._render("mail.mail_bounce_catchall", {"message": message})
        self._routing_create_bounce_email(
            mail.from_email, body, message, references=mail.message_id, reply_to=self.env.company.email)

    @api.model
    def _routing_create_bounce_email(self, email_from, body_html, message, **mail_values):
        """The one bounce policy, for every bounce about incoming mail (ours, and stock's
        for the alias contact policy, a failing message_new and throttling): to the From
        address of a known partner only (the Return-Path is whatever the sender chose),
        never about automatic or list mail or with a null Return-Path, at most once a
        day per address; and it says it is automatic (RFC 3834), so that the other side's
        robots do not answer it."""
        mail = incoming_mail(message, b"")
        refusal = bounce_refusal(message, mail) or self._mail_router_bounce_refusal(mail.from_email)
        if refusal:
            _logger.info("routing: no bounce about Message-Id %s to %s: %s",
                         mail.message_id, mail.from_email or "-", refusal)
            return False
        self.env["mail.router.bounce"].sudo().create({"email_to": mail.from_email, "message_id": mail.message_id})
        headers = ast.literal_eval(mail_values.get("headers") or "{}")
        mail_values.update(email_to=mail.from_email, subject=f"Re: {mail.subject}",
                           headers=repr({"Auto-Submitted": "auto-replied", **headers}))
        super()._routing_create_bounce_email(email_from, body_html, message, **mail_values)
        return True

    @api.model
    def _mail_router_bounce_refusal(self, email):
        """Why ``email`` gets no bounce from the database's side, or None."""
        if not self.env["res.partner"].sudo().search_count([("email_normalized", "=", email)], limit=1):
            return "the sender is no known contact (a forged sender must get no backscatter)"
        if self.env["mail.router.bounce"].sudo()._sent_recently_to(email):
            return "a bounce was sent to this address in the last 24 hours"
        return None

    @api.model
    def _detect_loop_sender_domain(self, email_from_normalized):
        """Stock's, with the address taken as text, not as a LIKE pattern: a sender
        named '%@%' must not count every record as one of theirs."""
        domain = super()._detect_loop_sender_domain(email_from_normalized)
        if not email_from_normalized:  # email_normalize() found no address in From: nothing to escape
            return domain
        return domain and [
            (leaf[0], leaf[1], escape_psql(leaf[2]))
            if isinstance(leaf, list | tuple) and leaf[1] in WILDCARD_OPERATORS and leaf[2] == email_from_normalized
            else leaf
            for leaf in domain]

    # ------------------------------------------------------------------
    # New records for the sender (mail_router_sale, mail_router_purchase)
    # ------------------------------------------------------------------

    @api.model
    def _mail_router_create_for_sender(self, msg_dict, custom_values=None):
        """message_new of a model whose ``partner_id`` is required (a quotation, an RFQ):
        a new record for the sender, who authors the message and follows the record, so
        its mails reach them. The sender is the partner the gateway found by the From
        address (_routing_check_route: ``email_normalized``, an exact match), else a new
        contact with From's name and address. Not mail.thread's message_new: it would
        set no partner and name the record after the subject, over its sequence number."""
        partner = self.env["res.partner"].browse(msg_dict.get("author_id"))
        if not partner:
            name, address = tools.parse_contact_from_email(msg_dict.get("email_from"))
            partner = self.env["res.partner"].create({"name": name or address, "email": address})
            msg_dict["author_id"] = partner.id  # message_post runs after message_new
        # The salesperson or buyer is for people to choose, not the gateway's user (as
        # crm.lead); only for this create, not for what the post of the mail creates.
        record = self.with_context(default_user_id=False).create(
            {"partner_id": partner.id, **(custom_values or {})}).with_env(self.env)
        record.message_subscribe(partner_ids=partner.ids)
        return record

    # ------------------------------------------------------------------
    # Configuration
    # ------------------------------------------------------------------

    @api.model
    @tools.ormcache()
    def _mail_router_codec(self):
        """The database's signing codec; cached (set_param clears the cache). The
        secret is made at install; an administrator who deletes it gets a new one."""
        parameters = self.env["ir.config_parameter"].sudo()
        secret = parameters.get_param(SECRET_PARAMETER)
        if not secret:
            secret = secrets.token_hex(32)
            parameters.set_param(SECRET_PARAMETER, secret)
        return MessageIdCodec(secret.encode())

    @api.model
    def _mail_router_config(self, default_model):
        domains = self.env["mail.alias.domain"].sudo().search([])  # pylint: disable=no-search-all
        catchall = tuple(filter(None, domains.mapped("catchall_email")))
        bounce = tuple(filter(None, domains.mapped("bounce_email")))
        parameters = self.env["ir.config_parameter"].sudo()
        allowed = parameters.get_param("mail.catchall.domain.allowed") or ""
        trusted = parameters.get_param(TRUSTED_AUTHSERV_PARAMETER) or ""
        return RoutingConfig(
            alias_domains=tuple(domains.mapped("name")),
            catchall_addresses=catchall,
            bounce_addresses=bounce,
            loop_addresses=catchall + bounce + tuple(filter(None, domains.mapped("default_from_email"))),
            default_model=default_model or None,
            local_part_domains=comma_separated(allowed),
            trusted_authserv_ids=comma_separated(trusted),
        )
