"""mail.thread: stock's gateway hooked to mail_router's intake (intake.py).

    message_process    the gateway's entry point: one Intake, processed
    message_route      stock's contract (routes, [] for mail handled without route,
                       ValueError when nothing routes): the verdict the intake hands
                       it, or the verdict it judges itself for any other caller
    _get_parent_message, _detect_is_bounce, _mail_find_partner_from_emails,
    _routing_create_bounce_email, _routing_reset_bounce, _detect_loop_sender_domain:
                       stock's hooks, made to agree with the verdict and with the one
                       bounce policy

Context keys read here: ``mail_router_posting`` (intake.POSTING_KEY, a frozen Posting:
the mail being posted, its verdict, its contacts; message_route's signature leaves no
other way to hand it over); ``mail_router_notify_at`` (NOTIFY_AT_KEY, set by a fetch run:
when the notifications of its mail are due, for the run to send them after it; stock's
message_process signature leaves no room for it); ``mail_router_arrived`` (ARRIVED_KEY,
set by the fetcher: when the mail server received the mail, for the routing log's delay);
stock's ``default_fetchmail_server_id``.
"""
import ast
import json
import logging
import secrets
import xmlrpc.client
from dataclasses import replace
from email.message import EmailMessage

from odoo import api, models, tools
from odoo.exceptions import AccessError, UserError
from odoo.osv.expression import WILDCARD_OPERATORS
from odoo.tools.sql import escape_psql

from .. import parameters
from ..intake import POSTING_KEY, Intake, Origin, Posting
from ..routing import admission
from ..routing.chain import RoutingConfig
from ..routing.hygiene import bounce_refusal, classify
from ..routing.incoming import incoming_mail
from ..routing.message_id import MessageIdCodec
from ..routing.outcome import QUARANTINED, REPLIES, ROUTED, MailKind, Outcome
from .routing_lookup import RoutingLookup

_logger = logging.getLogger("odoo.addons.mail_router.routing")
NOTIFY_AT_KEY = "mail_router_notify_at"
ARRIVED_KEY = "mail_router_arrived"


def raw_bytes(message):
    """message_process accepts bytes, str or xmlrpc Binary; routing keeps bytes."""
    if isinstance(message, xmlrpc.client.Binary):
        return bytes(message.data)
    if isinstance(message, str):
        return message.encode("utf-8")
    return bytes(message)


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
        context = self.env.context
        origin = Origin(server_id=context.get("default_fetchmail_server_id"), model=model or None,
                        thread_id=thread_id, custom_values=custom_values, save_original=save_original,
                        strip_attachments=strip_attachments, notify_at=context.get(NOTIFY_AT_KEY),
                        arrived=context.get(ARRIVED_KEY))
        return Intake(raw_bytes(message), origin).process(self.env).thread_id

    @api.model
    def message_route(self, message, message_dict, model=None, thread_id=None, custom_values=None):
        """Stock's contract: the routes, [] for mail that is handled without route
        (bounce, loop, auto-reply, refused, throttled), ValueError when nothing routes."""
        self._mail_router_check_gateway_access()
        if not isinstance(message, EmailMessage):
            raise TypeError("message must be an email.message.EmailMessage at this point")
        posting = self._mail_router_posting(message_dict)
        verdict = posting.verdict if posting else self._mail_router_judge(message, message_dict, model)
        if verdict.stage == Outcome.BOUNCE:
            self._routing_handle_bounce(message, message_dict)
            return []
        self._routing_reset_bounce(message, message_dict)
        if verdict.stage in QUARANTINED:
            raise ValueError(f"No route for mail with Message-Id {message_dict['message_id']}: {verdict.reason}")
        if verdict.stage not in ROUTED:
            return []
        return [route for target in verdict.targets
                if (route := self._mail_router_checked_route(message, message_dict, verdict, target, thread_id,
                                                             custom_values))]

    @api.model
    def _detect_is_bounce(self, message, message_dict):
        """One rule for bounces, the core's, for stock's bounce parsing too."""
        mail = incoming_mail(message, b"")
        return classify(message, mail.from_email, mail.recipients,
                        self._mail_router_config(None).bounce_addresses) == MailKind.BOUNCE

    def _get_parent_message(self, msg_dict):
        """The message a reply answers: the one the verdict found, when it found one."""
        posting = self._mail_router_posting(msg_dict)
        if posting and posting.verdict.stage in REPLIES:
            return self.env["mail.message"].browse(posting.verdict.targets[0].parent_id)
        return super()._get_parent_message(msg_dict)

    def _mail_find_partner_from_emails(self, emails, records=None, force_create=False, extra_domain=False):
        """Stock's; for the mail being posted, our own catchall and bounce addresses are
        nobody's (stock's parse looks up every recipient), and the others are found as
        stock finds them, among the partners the intake found in one query (Contacts):
        stock's parse, route check and post would look each up again."""
        posting = self.env.context.get(POSTING_KEY)
        if not isinstance(posting, Posting):
            return super()._mail_find_partner_from_emails(
                emails, records=records, force_create=force_create, extra_domain=extra_domain)
        config = self._mail_router_config(None)
        ours = {address.lower() for address in config.catchall_addresses + config.bounce_addresses}
        normalized = [tools.email_normalize(email or "", strict=False) for email in emails]
        kept = [email for email, address in zip(emails, normalized, strict=True) if address not in ours]
        partners = self.env["res.partner"]
        found = None if force_create or extra_domain or not posting.contacts else posting.contacts.find(
            self.env, normalized, records)
        if found is None:
            found = iter(super()._mail_find_partner_from_emails(
                kept, records=records, force_create=force_create, extra_domain=extra_domain) if kept else [])
            return [next(found) if address not in ours else partners for address in normalized]
        return [partners.browse(partner_id) if address not in ours else partners
                for address, partner_id in zip(normalized, found, strict=True)]

    def _mail_find_user_for_gateway(self, email_value, alias=None):
        """Stock's, from the intake's Contacts for the mail being posted (an alias with a
        parent record looks among that record's followers first: stock's)."""
        posting = self.env.context.get(POSTING_KEY)
        email = tools.email_normalize(email_value or "")
        contacts = isinstance(posting, Posting) and posting.contacts
        if (contacts and email and email in contacts.emails
                and not (alias and alias.alias_parent_model_id and alias.alias_parent_thread_id)):
            return self.env["res.users"].browse(contacts.gateway_user(email))
        return super()._mail_find_user_for_gateway(email_value, alias=alias)

    def _notify_thread(self, message, msg_vals=False, **kwargs):
        """Stock's; a notification made while a fetched mail is posted (the mail's own,
        and those its posting makes: a record created by it tells its responsible) is
        scheduled for the end of the fetch run, which sends it (mail_mail.py). As stock
        schedules one, but without computing its recipients first: they are computed
        when it is rendered (stock's only use of them here is to schedule nothing when
        there are none; a schedule without recipients then renders nothing)."""
        posting = self.env.context.get(POSTING_KEY)
        if not (isinstance(posting, Posting) and posting.notify_at and not kwargs.get("scheduled_date")):
            return super()._notify_thread(message, msg_vals=msg_vals, **kwargs)
        self._raise_for_invalid_parameters(set(kwargs), restricting_names=self._get_notify_valid_parameters())
        self.env["mail.message.schedule"].sudo().create({
            "scheduled_datetime": posting.notify_at,
            "mail_message_id": message.id,
            "notification_parameters": json.dumps(kwargs),
        })
        return []

    def _mail_router_posting(self, message_dict):
        """The intake's Posting of the mail of ``message_dict``, or None."""
        posting = self.env.context.get(POSTING_KEY)
        if isinstance(posting, Posting) and posting.message_id == message_dict.get("message_id"):
            return posting
        return None

    @api.model
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

    # ------------------------------------------------------------------
    # The verdict, and stock's routes for it
    # ------------------------------------------------------------------

    @api.model
    def _mail_router_judge(self, message, message_dict, model):
        """The verdict on a mail that message_route is given by another caller than the
        intake: judged as the intake judges it."""
        mail = replace(incoming_mail(message, b""), message_id=message_dict["message_id"])
        lookup = RoutingLookup(self.env, message, mail)
        return admission.judge(mail, lookup, lookup, self._mail_router_codec(), self._mail_router_config(model))

    def _mail_router_checked_route(self, message, message_dict, verdict, target, thread_id, custom_values):
        """Stock's route (model, thread_id, custom_values, user_id, alias) for a target
        of the verdict, checked by stock's _routing_check_route (a module's own rule:
        account refuses a new bill without attachment); None when it refuses."""
        alias = self.env["mail.alias"].browse(target.alias_id)
        if verdict.stage in REPLIES:
            if message_dict.get("parent_id") != target.parent_id:
                parent = self.env["mail.message"].sudo().browse(target.parent_id)
                message_dict.update(self._message_parse_extract_from_parent(parent.exists()))
            res_id, values = target.res_id, custom_values
        elif verdict.stage == Outcome.MANUAL:
            res_id, values = target.res_id, custom_values
        elif verdict.stage == Outcome.CATCHALL_DEFAULT:
            message_dict.pop("parent_id", None)
            res_id, values = thread_id or None, custom_values
        else:
            message_dict.pop("parent_id", None)
            res_id, values = target.res_id, ast.literal_eval(alias.alias_defaults or "{}")
        user_id = self._mail_find_user_for_gateway(message_dict["email_from"], alias=alias).id or self._uid
        # as stock: a target that is no mail.thread (mail.group) is checked by mail.thread
        Model = self.env[target.model] if hasattr(self.env.get(target.model), "_routing_check_route") else self
        return Model._routing_check_route(
            message, message_dict, (target.model, res_id, values, user_id, alias), raise_exception=False) or None

    # ------------------------------------------------------------------
    # What a verdict that posts nothing makes the gateway do (intake.act)
    # ------------------------------------------------------------------

    @api.model
    def _mail_router_bounce_sender(self, message, mail):
        """Tell the sender that the mail reached no one (the one bounce policy applies)."""
        body = self.env["ir.qweb"]._render("mail.mail_bounce_catchall", {"message": message})
        self._routing_create_bounce_email(
            mail.from_email, body, message, references=mail.message_id, reply_to=self.env.company.email)

    @api.model
    def _mail_router_throttled_notice(self, message, mail):
        """Stock's notice to a sender who created too many records (its _detect_loop_sender):
        tagged, so that an answer to it is recognised as a loop."""
        body = self.env["ir.qweb"]._render("mail.message_notification_limit_email",
                                           {"email": ", ".join(mail.to)}, minimal_qcontext=True,
                                           raise_if_not_found=False)
        references = f"{mail.message_id} {tools.mail.generate_tracking_message_id('loop-detection-bounce-email')}"
        self._routing_create_bounce_email(mail.from_email, body, message, references=references)

    @api.model
    def _routing_create_bounce_email(self, email_from, body_html, message, **mail_values):
        """The one bounce policy, for every bounce about incoming mail (ours, and stock's
        for the alias contact policy, a failing message_new and throttling): to the From
        address of a known partner only (the Return-Path is whatever the sender chose),
        never about automatic or list mail or with a null Return-Path, at most once a
        day per address; and it says it is automatic (RFC 3834), so that the other side's
        robots do not answer it. The mail is known by the Message-ID its bounce refers to
        (the intake's, for a mail that has none), else by its own."""
        mail = incoming_mail(message, b"")
        referred = (mail_values.get("references") or "").split()
        if referred:
            mail = replace(mail, message_id=referred[0])
        refusal = (bounce_refusal(mail.from_email, mail.kind, mail.null_return_path)
                   or self._mail_router_bounce_refusal(mail.from_email))
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
        """Stock's, with the models that count bounces read once, not for each mail, and
        no search that cannot find anything: stock compares ``email_normalized`` with the
        From header as it reads ("Name <address>"), which only a bare, normalized address
        can equal."""
        email_from = message_dict["email_from"]
        if not email_from or tools.email_normalize(email_from, strict=False) != email_from:
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
    @tools.ormcache()
    def _mail_router_reference_fields(self):
        """((model, its reference field), ...) of the models that declare one
        (_mail_router_reference_field) and receive mail on their records: the models whose
        records a Subject may name. They change only when modules are installed, which
        clears the cache."""
        declared = []
        for name in sorted(self.env.registry):
            Model = self.env[name]
            if Model._abstract or Model._transient or not hasattr(Model, "message_update"):
                continue
            field = Model._mail_router_reference_field()
            if field and Model._fields.get(field) and Model._fields[field].store:
                declared.append((name, field))
            elif field:
                _logger.warning("%s declares %r as its reference, which is no stored field: ignored", name, field)
        return tuple(declared)

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
        if not parameters.MESSAGE_ID_SECRET.read(self.env):
            self.env["ir.config_parameter"].sudo().set_param(parameters.MESSAGE_ID_SECRET.key, secrets.token_hex(32))

    @api.model
    @tools.ormcache()
    def _mail_router_codec(self):
        """The database's signing codec; cached (set_param clears the cache)."""
        secret = parameters.MESSAGE_ID_SECRET.read(self.env)
        if not secret:
            raise UserError(self.env._(
                "mail_router cannot sign Message-IDs: the system parameter %(parameter)s is missing. "
                "Upgrade the mail_router module (Apps) to make a new one; replies to mail signed with "
                "the old one then route by their stored Message-ID only.",
                parameter=parameters.MESSAGE_ID_SECRET.key))
        return MessageIdCodec(secret.encode())

    @api.model
    def _mail_router_config(self, default_model):
        return replace(self._mail_router_database_config(), default_model=default_model or None)

    @api.model
    @tools.ormcache()
    def _mail_router_database_config(self):
        """The alias domains' addresses and companies, the parameters routing reads and
        the models a Subject may name, once: the cache is cleared when a parameter, an
        alias domain or a company's changes, and when modules are installed."""
        domains = self.env["mail.alias.domain"].sudo().search([])  # pylint: disable=no-search-all
        catchall = tuple(filter(None, domains.mapped("catchall_email")))
        bounce = tuple(filter(None, domains.mapped("bounce_email")))
        return RoutingConfig(
            alias_domains=tuple(domains.mapped("name")),
            catchall_addresses=catchall,
            bounce_addresses=bounce,
            loop_addresses=catchall + bounce + tuple(filter(None, domains.mapped("default_from_email"))),
            local_part_domains=parameters.CATCHALL_DOMAINS_ALLOWED.read(self.env),
            trusted_authserv_ids=parameters.TRUSTED_AUTHSERV_IDS.read(self.env),
            loop_minutes=parameters.LOOP_MINUTES.read(self.env),
            loop_threshold=parameters.LOOP_THRESHOLD.read(self.env),
            reference_models=tuple(model for model, _field in self._mail_router_reference_fields())
            if parameters.SUBJECT_REFERENCE.read(self.env) else (),
            domain_companies=tuple((domain.name, tuple(domain.company_ids.ids)) for domain in domains),
            public_mail_domains=parameters.PUBLIC_MAIL_DOMAINS.read(self.env),
        )
