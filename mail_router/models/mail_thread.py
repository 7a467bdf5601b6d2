"""Incoming mail, one message at a time: the pipeline of mail_router.

    message_process   gateway callers only (administrators, the cron, the mailgate)
                      raw bytes -> read once (never raises) -> ledger claim (duplicate?)
                      -> in a savepoint: decide once (routing.chain) -> stock's parse
                         -> message_route (stock's contract) -> post
                      -> on no route or error: quarantine (+ one bounce, by policy)
                      -> routing log entry (raw bytes kept when not posted)
    message_route     stock's contract (routes, or ValueError) for every caller

The mail being processed (its headers, its decision, the message posted of it)
goes down to stock's hooks in the context (``Processing``): stock's parse takes
the parent the decision found, message_route routes the decision it was given,
and the post hands back the message it made. Outside the pipeline, message_route
decides by itself.

Whatever one mail holds, message_process returns: what cannot be routed or
processed is quarantined. Only when the database refuses even the quarantine
entry does the error reach the caller (the fetcher then leaves the message on
the server). The caller commits (the fetcher, after each message); nothing
here commits.
"""
import ast
import logging
import secrets
import time
import traceback
import xmlrpc.client
from dataclasses import dataclass, field, replace
from email.message import EmailMessage

from odoo import api, models, tools
from odoo.exceptions import AccessError, UserError
from odoo.osv.expression import WILDCARD_OPERATORS
from odoo.tools.sql import escape_psql

from ..routing.chain import Decision, RoutingConfig, Target, decide
from ..routing.headers import IncomingMail, incoming_mail, read_mail, storable_values
from ..routing.hygiene import bounce_refusal, classify
from ..routing.message_id import MessageIdCodec
from ..routing.mime import make_readable
from ..routing.outcome import QUARANTINED, REPLIES, Outcome
from .routing_lookup import RoutingLookup

_logger = logging.getLogger("odoo.addons.mail_router.routing")

SECRET_PARAMETER = "mail_router.message_id_secret"
TRUSTED_AUTHSERV_PARAMETER = "mail_router.trusted_authserv_ids"
PROCESSING_KEY = "mail_router_processing"
# a route chosen by an administrator: (model, res_id)
ROUTE_TO_KEY = "mail_router_route_to"


@dataclass(eq=False)  # hashed by identity: it travels in the context
class Processing:
    """The mail the pipeline is processing, for the stock hooks it calls."""
    mail: IncomingMail
    decision: Decision
    posted: list = field(default_factory=list)  # ids of the mail.message made of it


class NoRoute(ValueError):
    """Stock's 'no route' (a ValueError, which other modules' message_route watch)."""


def raw_bytes(message):
    """message_process accepts bytes, str or xmlrpc Binary; routing keeps bytes."""
    if isinstance(message, xmlrpc.client.Binary):
        return bytes(message.data)
    if isinstance(message, str):
        return message.encode("utf-8")
    return bytes(message)


def comma_separated(value):
    return tuple(filter(None, (item.strip() for item in value.split(","))))


def failed(what, exc):
    """(the Decision, the traceback) for a mail whose ``what`` raised ``exc``: quarantined."""
    return (Decision(Outcome.FAILED, (), None, f"{what}: {type(exc).__name__}: {exc}"),
            "".join(traceback.format_exception(exc)))


def refused(decision):
    """The decision once every target refused the mail: quarantined."""
    return Decision(Outcome.REFUSED, (), decision.matched,
                    f"{decision.reason}; refused by the target (alias contact policy, or the model takes no mail)",
                    authentication=decision.authentication)


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
        (bounce, loop, auto-reply, refused), ValueError when nothing routes."""
        self._mail_router_check_gateway_access()
        if not isinstance(message, EmailMessage):
            raise TypeError("message must be an email.message.EmailMessage at this point")
        processing = self._mail_router_processing(message_dict)
        if processing:
            mail, decision = processing.mail, processing.decision
        else:
            mail = replace(incoming_mail(message, b""), message_id=message_dict["message_id"])
            decision = self._mail_router_decide(mail, model)
        if decision.stage == Outcome.BOUNCE:
            self._routing_handle_bounce(message, message_dict)
            return []
        self._routing_reset_bounce(message, message_dict)
        if decision.stage in QUARANTINED:
            raise NoRoute(f"No route for mail with Message-Id {mail.message_id}: {decision.reason}")
        return self._mail_router_routes(message, message_dict, decision, thread_id, custom_values)

    @api.model
    def _detect_is_bounce(self, message, message_dict):
        """One rule for bounces, the core's, for stock's bounce parsing too."""
        processing = self._mail_router_processing(message_dict)
        if processing:
            return processing.decision.stage == Outcome.BOUNCE
        mail = incoming_mail(message, b"")
        return classify(message, mail.from_email, mail.recipients,
                        self._mail_router_config(None).bounce_addresses) == Outcome.BOUNCE

    def _get_parent_message(self, msg_dict):
        """The message a reply answers: the one the decision found, when it found one."""
        processing = self._mail_router_processing(msg_dict)
        if processing and processing.decision.stage in REPLIES:
            return self.env["mail.message"].browse(processing.decision.targets[0].parent_id)
        return super()._get_parent_message(msg_dict)

    def _message_create(self, values_list):
        messages = super()._message_create(values_list)
        processing = self.env.context.get(PROCESSING_KEY)
        if isinstance(processing, Processing):
            processing.posted += messages.filtered(lambda m: m.message_id == processing.mail.message_id).ids
        return messages

    def _mail_find_partner_from_emails(self, emails, records=None, force_create=False, extra_domain=False):
        """Stock's; for the mail being processed, our own catchall and bounce addresses
        are nobody's (stock's parse looks up every recipient: a reply to the catchall
        would cost three queries to find no one)."""
        if isinstance(self.env.context.get(PROCESSING_KEY), Processing):
            config = self._mail_router_config(None)
            ours = {address.lower() for address in config.catchall_addresses + config.bounce_addresses}
            kept = [email for email in emails if tools.email_normalize(email or "", strict=False) not in ours]
            if len(kept) < len(emails):
                found = iter(super()._mail_find_partner_from_emails(
                    kept, records=records, force_create=force_create, extra_domain=extra_domain) if kept else [])
                partners = self.env["res.partner"]
                return [next(found) if email in kept else partners for email in emails]
        return super()._mail_find_partner_from_emails(
            emails, records=records, force_create=force_create, extra_domain=extra_domain)

    def _mail_router_processing(self, message_dict):
        """The pipeline's Processing of the mail of ``message_dict``, or None."""
        processing = self.env.context.get(PROCESSING_KEY)
        if isinstance(processing, Processing) and processing.mail.message_id == message_dict.get("message_id"):
            return processing
        return None

    # ------------------------------------------------------------------
    # The pipeline
    # ------------------------------------------------------------------

    def _mail_router_check_gateway_access(self):
        """The gateway writes the ledger, the log and the quarantine as superuser: no
        outsider (portal, public) may feed it, or they could mark a Message-ID as
        processed. Internal users may, as in stock: modules process mail on behalf of
        an employee (hr_recruitment, mail_group's moderators), and the mailgate script
        logs in as an internal user."""
        if not (self.env.su or self.env.user._is_internal()):
            raise AccessError(self.env._(
                "Only the mail gateway (the scheduled action, the mailgate script, internal users) "
                "may process incoming mail."))

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
            decision = Decision(Outcome.DUPLICATE, (), mail.message_id,
                                f"{mail.message_id} was already processed: skipped")
            return Log._record(mail, decision, started), False

        def route_post_and_keep():
            if unreadable:
                outcome = Decision(Outcome.QUARANTINE, (), None, f"the mail cannot be parsed: {unreadable}"), False, []
            else:
                outcome = self._mail_router_route_and_post(
                    message, mail, model, custom_values, save_original, strip_attachments, thread_id)
            return self._mail_router_keep(raw, message, mail, *outcome, started, quarantined)

        result, failure = self._mail_router_contained(route_post_and_keep)
        if not failure:
            return result
        decision, error = failed("processing failed", failure)
        kept, failure = self._mail_router_contained(lambda: self._mail_router_keep(
            raw, message, mail, decision, False, [], started, quarantined, error=error))
        if failure:  # the last resort: not even the quarantine takes it; the fetcher leaves it on the server
            raise failure
        return kept

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

    def _mail_router_keep(self, raw, message, mail, decision, thread_id, posted_ids, started, quarantined,
                          error=None):
        """Keep what was not posted (quarantined, or its raw bytes on the log entry) and
        write the log entry; returns (log entry, thread id)."""
        posted = self.env["mail.message"].browse(posted_ids[-1:])
        if decision.stage in QUARANTINED:
            self.env["mail.router.quarantine"].sudo()._keep(raw, mail, decision, error, quarantined)
            if decision.bounce_sender:
                self._mail_router_bounce_sender(message, mail)
        elif quarantined:
            quarantined.state = "routed"
        kept = None if posted or decision.stage in QUARANTINED else raw
        bounce_sent = not posted and self.env["mail.router.bounce"].sudo()._sent_about(mail.message_id)
        log = self.env["mail.router.log"].sudo()._record(
            mail, decision, started, posted=posted, bounce_sent=bounce_sent, error=error, raw=kept)
        return log, thread_id

    @api.model
    def _mail_router_retry(self, raw, server, quarantined=None):
        """Route ``raw`` again, as ``server`` (maybe none) would fetch it today."""
        return self.with_context(default_fetchmail_server_id=server.id)._mail_router_process(
            raw, server.object_id.model, save_original=server.original,
            strip_attachments=bool(server) and not server.attach, quarantined=quarantined, retry=True)

    def _mail_router_route_and_post(self, message, mail, model, custom_values,
                                    save_original, strip_attachments, thread_id):
        """(Decision, thread id, ids of the posted messages): decide, then stock's steps
        (parse, route, post) on that decision."""
        make_readable(message)  # stock's parsing raises on unknown charsets, types, unreadable headers...
        decision = self._mail_router_decide(mail, model)
        processing = Processing(mail, decision)
        thread = self.with_context(**{PROCESSING_KEY: processing})
        # Stock decodes headers with surrogate escapes, and keeps NUL: nothing that
        # reaches PostgreSQL may hold either. Stock invents '<time@localhost>' for a
        # mail without Message-ID, and a retry would be a new mail: the core's id is
        # derived from the bytes.
        msg_dict = storable_values(thread.message_parse(message, save_original=save_original))
        msg_dict["message_id"] = mail.message_id
        if strip_attachments:
            msg_dict.pop("attachments", None)
        if thread._detect_loop_headers(msg_dict):
            return Decision(Outcome.LOOP, (), mail.message_id, "reply to our own loop-detection notice"), False, []
        try:
            routes = thread.message_route(message, msg_dict, model, thread_id, custom_values)
        except NoRoute:
            return decision, False, []
        if decision.targets and not routes:
            return refused(decision), False, []
        # only mail that creates records can be a sender's loop (stock looks no further either)
        if any(not route[1] for route in routes) and thread._detect_loop_sender(message, msg_dict, routes):
            return Decision(Outcome.THROTTLED, (), mail.from_email,
                            f"{mail.from_email} created too many records recently (mail.gateway.loop.*)"), False, []
        if not routes:
            return decision, False, []
        return decision, thread._message_route_process(message, msg_dict, routes), processing.posted

    @api.model
    def _mail_router_decide(self, mail, model):
        """Where ``mail`` goes: the routing chain's decision (see routing.chain), or the
        record an administrator chose (Route to... in the quarantine)."""
        chosen = self.env.context.get(ROUTE_TO_KEY)
        if chosen:
            return self._mail_router_manual_decision(*chosen)
        return decide(mail, RoutingLookup(self.env), self._mail_router_codec(), self._mail_router_config(model))

    @api.model
    def _mail_router_manual_decision(self, model, res_id):
        if not self.env[model].browse(res_id).exists():
            # stock's route check would create a new record instead
            return Decision(Outcome.REFUSED, (), None, f"{model},{res_id} no longer exists")
        # no alias: the contact policy is the administrator's choice; the record must exist and take mail
        return Decision(Outcome.MANUAL, (Target(model, res_id),), None,
                        f"routed by hand from the quarantine by {self.env.user.name} to {model},{res_id}")

    def _mail_router_routes(self, message, message_dict, decision, thread_id, custom_values):
        """Stock routes (model, thread_id, custom_values, user_id, alias) for the
        decision's targets, each checked by stock's _routing_check_route
        (record still there, model accepts mail, alias contact policy)."""
        routes = []
        for target in decision.targets:
            alias = self.env["mail.alias"].browse(target.alias_id)
            if decision.stage in REPLIES:
                if message_dict.get("parent_id") != target.parent_id:
                    parent = self.env["mail.message"].sudo().browse(target.parent_id)
                    message_dict.update(self._message_parse_extract_from_parent(parent.exists()))
                res_id, values = target.res_id, custom_values
            elif decision.stage == Outcome.MANUAL:
                res_id, values = target.res_id, custom_values
            elif decision.stage == Outcome.CATCHALL_DEFAULT:
                message_dict.pop("parent_id", None)
                res_id, values = thread_id or None, custom_values
            else:
                message_dict.pop("parent_id", None)
                res_id, values = target.res_id, ast.literal_eval(alias.alias_defaults or "{}")
            user_id = self._mail_find_user_for_gateway(message_dict["email_from"], alias=alias).id or self._uid
            # as stock: a target that is no mail.thread (mail.group) is checked by mail.thread
            Model = self.env[target.model] if hasattr(self.env.get(target.model), "_routing_check_route") else self
            route = Model._routing_check_route(
                message, message_dict, (target.model, res_id, values, user_id, alias), raise_exception=False)
            if route:
                routes.append(route)
        return routes

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
    def _routing_reset_bounce(self, email_message, message_dict):
        """Stock's, with the models that count bounces read once, not for each mail."""
        email_from = message_dict["email_from"]
        if not email_from:
            return
        for model in self._mail_router_bounce_counting_models():
            self.env[model].sudo().search(
                [("message_bounce", ">", 0), ("email_normalized", "=", email_from)])._message_reset_bounce(email_from)

    @api.model
    @tools.ormcache()
    def _mail_router_bounce_counting_models(self):
        """The blacklist-enabled models (stock's _routing_reset_bounce); they change
        only when modules are installed, which clears the cache."""
        models = self.env["ir.model"].sudo().search(
            [("is_mail_blacklist", "=", True), ("model", "!=", "mail.thread.blacklist")])
        return tuple(model for model in models.mapped("model") if model in self.env)

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
    # Configuration: read once, cached until it changes
    # ------------------------------------------------------------------

    @api.model
    def _mail_router_make_secret(self):
        """The Message-ID signing secret, made at install (and at upgrade, if an
        administrator deleted it), never on a read: two workers reading at once
        would make two."""
        parameters = self.env["ir.config_parameter"].sudo()
        if not parameters.get_param(SECRET_PARAMETER):
            parameters.set_param(SECRET_PARAMETER, secrets.token_hex(32))

    @api.model
    @tools.ormcache()
    def _mail_router_codec(self):
        """The database's signing codec; cached (set_param clears the cache)."""
        secret = self.env["ir.config_parameter"].sudo().get_param(SECRET_PARAMETER)
        if not secret:
            raise UserError(self.env._(
                "mail_router cannot sign Message-IDs: the system parameter %(parameter)s is missing. "
                "Upgrade the mail_router module (Apps) to make a new one; replies to mail signed with "
                "the old one then route by their stored Message-ID only.", parameter=SECRET_PARAMETER))
        return MessageIdCodec(secret.encode())

    @api.model
    def _mail_router_config(self, default_model):
        return replace(self._mail_router_database_config(), default_model=default_model or None)

    @api.model
    @tools.ormcache()
    def _mail_router_database_config(self):
        """The alias domains' addresses and the parameters routing reads, once: the
        cache is cleared when a parameter or an alias domain changes."""
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
            local_part_domains=comma_separated(allowed),
            trusted_authserv_ids=comma_separated(trusted),
        )
