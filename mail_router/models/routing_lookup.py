"""The database side of routing for one mail: routing.chain.Lookup and
routing.admission.Gate over the ORM, without side effects (the routing simulator
asks the same questions as the gateway); and the mail's Contacts.

One query answers all In-Reply-To and References ids together, one the aliases, one
the partners and users of every address of the mail, one per model the references of
the Subject.
"""
import functools
from dataclasses import dataclass
from datetime import timedelta

from odoo.exceptions import MissingError
from odoo.tools import email_normalize
from odoo.tools.sql import escape_psql

from ..routing.chain import Alias, Referenced, Refusal, Target
from ..routing.headers import split_address
from ..routing.outcome import Cause


@dataclass(frozen=True)
class Contact:
    """A partner whose address is one of the mail's, as the query found it."""
    partner_id: int
    email: str                      # normalized
    name: str
    company_id: int | None
    active: bool
    follower_id: int | None         # following the target record: its mail.followers id
    users: tuple[tuple[str, int], ...]  # its active users: (login, id)


@dataclass(frozen=True)
class Contacts:
    """The partners and users of a mail's addresses (From, To, Cc), found in one query,
    and stock's choice among them: _mail_find_partner_from_emails (a follower of the
    target record, else a partner with a user, else a partner; then the current user's
    partner, a partner of the record's company, one without company first) and
    _mail_find_user_for_gateway (the first active user by name and login). Addresses of
    an alias are nobody's, as in stock."""
    emails: frozenset[str]          # the addresses looked up (normalized)
    target: tuple[str, int] | None  # (model, res_id) whose followers the query read
    found: tuple[Contact, ...]      # in res.partner's order (complete_name, id desc)

    def find(self, env, normalized, records):
        """The partner id (or False) stock's _mail_find_partner_from_emails would find
        for each of the ``normalized`` addresses, searching in ``records``' followers;
        None when these contacts cannot say: an address is not among the mail's, the
        followers of another record count, or record rules apply (not superuser)."""
        mail_thread = records and isinstance(records, env.registry["mail.thread"])
        target = (records._name, records.id) if mail_thread and len(records) == 1 else None
        if not env.su or (mail_thread and target != self.target) or not set(filter(None, normalized)) <= self.emails:
            return None
        company_field = records and records._mail_get_company_field()

        @functools.cache
        def record_companies():  # read only when two partners share an address
            return set(records[company_field].ids) if company_field else set()

        def first_keys(contact):  # stock's sort key
            user_partner = contact.partner_id == env.user.partner_id.id
            if company_field:
                return user_partner, contact.company_id in record_companies(), not contact.company_id
            return user_partner, not contact.company_id

        return self._partners(normalized, bool(mail_thread), first_keys)

    def _partners(self, emails, by_followers, first_keys):
        chosen = []
        for email in emails:
            candidates = [c for c in self.found if c.email == email]
            followers = sorted((c for c in candidates if c.follower_id), key=lambda c: c.follower_id)
            with_user = [c for c in candidates if c.active and c.users]
            plain = [c for c in candidates if c.active]
            pool = (by_followers and followers) or with_user or plain
            if len(pool) > 1:
                pool = sorted(pool, key=first_keys, reverse=True)  # stable, as stock's sort
            chosen.append(pool[0].partner_id if pool else False)
        return chosen

    def gateway_user(self, email):
        users = [(c.name, login, user_id) for c in self.found if c.email == email for login, user_id in c.users]
        return min(users)[2] if users else False


class RoutingLookup:
    def __init__(self, env, message=None, mail=None):
        """``message``, ``mail``: the parsed mail and its IncomingMail, which the Gate's
        questions are about (the chain's need neither)."""
        self.env = env(su=True)
        self.message = message
        self.mail = mail
        self._contacts = {}
        self._record_names = {}  # (model, res_id): its name when the messages the mail replies to were posted

    # ------------------------------------------------------------------
    # routing.chain.Lookup
    # ------------------------------------------------------------------

    def threads_by_message_ids(self, message_ids):
        # Stock ignores its own 'reply_to' ids: they name no thread.
        wanted = [mid for mid in message_ids if "reply_to" not in mid]
        if not wanted:
            return {}
        self.env["mail.message"].flush_model(["message_id", "model", "res_id"])
        self.env.cr.execute(
            """SELECT DISTINCT ON (message_id) message_id, model, res_id, id, record_name
                 FROM mail_message
                WHERE message_id = ANY(%s) AND model IS NOT NULL AND res_id IS NOT NULL AND res_id != 0
             ORDER BY message_id, id DESC""",
            [wanted],
        )
        threads = {}
        for message_id, model, res_id, message_db_id, record_name in self.env.cr.fetchall():
            threads[message_id] = Target(model, res_id, parent_id=message_db_id)
            if record_name:
                self._record_names.setdefault((model, res_id), record_name)
        return threads

    def record_exists(self, model, res_id):
        return model in self.env and bool(self.env[model].browse(res_id).exists())

    # ------------------------------------------------------------------
    # routing.chain.Names: how the reasons name records and models
    # ------------------------------------------------------------------

    def record_name(self, model, res_id):
        """Its display name: as the message replied to names it (stock's record_name, its
        display name when posted: "a reply to a message posted on <it>" is true of it, and
        costs no query), else read with the record's other fields (posting reads them next)."""
        if (model, res_id) in self._record_names:
            return self._record_names[model, res_id]
        try:
            name = model in self.env and self.env[model].browse(res_id).display_name
        except MissingError:  # a guessed or deleted record
            name = None
        return name or f"{self.model_name(model)} {res_id}"

    def model_name(self, model):
        # the model's own description: no query (reasons are stored in English anyway)
        return self.env[model]._description if model in self.env else model

    def aliases_for(self, addresses):
        local_parts = list({split_address(address)[0] for address in addresses})
        aliases = self.env["mail.alias"].search([
            "|", ("alias_full_name", "in", list(addresses)),
            "&", ("alias_name", "in", local_parts),
            "|", ("alias_incoming_local", "=", True), ("alias_domain_id", "=", False),
        ])
        return [
            Alias(
                id=alias.id,
                name=alias.alias_name,
                domain=alias.alias_domain or None,
                model=alias.alias_model_id.model,
                force_thread_id=alias.alias_force_thread_id or None,
                incoming_local=alias.alias_incoming_local,
            )
            for alias in aliases
        ]

    def sender_known_to(self, model, res_id, email):
        if not self.record_exists(model, res_id):
            return False
        record = self.env[model].browse(res_id)
        email = email_normalize(email)
        if not email:
            return False
        # a model that receives mail without being a mail.thread (mail.group) has neither
        partners = record.message_partner_ids if "message_partner_ids" in record else self.env["res.partner"]
        record_partners = self._record_partners(record)
        if email in (partners | record_partners).mapped("email_normalized"):
            return True
        # a contact of the record partner's company (the vendor's buyer, not on the order)
        companies = record_partners.commercial_partner_id
        if companies and self.env["res.partner"].search_count(
                [("email_normalized", "=", email), ("commercial_partner_id", "in", companies.ids)], limit=1):
            return True
        # email_from holds 'Name <address>' as the sender wrote it: compared as text,
        # case aside, never as a pattern ('%@%' is a valid address).
        address = escape_psql(email)
        return bool(self.env["mail.message"].search_count([
            ("model", "=", model), ("res_id", "=", res_id),
            "|", "|", ("author_id.email_normalized", "=", email),
            ("email_from", "=ilike", address), ("email_from", "=ilike", f"%<{address}>"),
        ], limit=1))

    def records_by_reference(self, tokens, models, companies):
        """One query per model, on the reference field with ``IN``: the tokens as written,
        upper- and lower-case (Odoo's sequences are upper-case; a LIKE, even escaped,
        could use no btree index). Archived records are not looked at."""
        fields = dict(self.env["mail.thread"]._mail_router_reference_fields())
        values = list(dict.fromkeys(value for token in tokens for value in (token, token.upper(), token.lower())))
        found = []
        for model in models:
            Model, field = self.env[model], fields[model]
            domain = [(field, "in", values)]
            if company_field := Model._mail_get_company_field():
                domain.append((company_field, "in", [*companies, False]))
            for record in Model.search_fetch(domain, [field], limit=2, order="id"):
                found.append(Referenced(model, record.id, record[field]))
                # a reason names it by the reference the Subject gave: no query for its display name
                self._record_names.setdefault((model, record.id), record[field])
        return found

    def partner_domains(self, model, res_id):
        record = self.env[model].browse(res_id)
        emails = self._record_partners(record).commercial_partner_id.mapped("email_normalized")
        return frozenset(email.rpartition("@")[2] for email in emails if email)

    def _record_partners(self, record):
        """The record's partners (customer, vendor: stock's _mail_get_partners)."""
        if not hasattr(record, "_mail_get_partners"):
            return self.env["res.partner"]
        return record._mail_get_partners()[record.id]

    # ------------------------------------------------------------------
    # routing.admission.Gate
    # ------------------------------------------------------------------

    def acceptance_refusal(self, target):
        """As stock's route check: a reply needs message_update (or falls back on a new
        record), a new record message_new."""
        if target.model not in self.env:
            return f"the model {target.model} is not installed in this database"
        Model = self.env[target.model]
        if target.res_id and (hasattr(Model, "message_update") or hasattr(Model, "message_new")):
            return None
        if not hasattr(Model, "message_new"):
            return f"no {self.model_name(target.model)} is created by mail"
        return None

    def contact_refusal(self, target):
        """The alias's contact policy, as stock checks it (the model's _alias_get_error,
        on the record, else the alias's parent record, else the model), then the
        model's own rule (_mail_router_refusal)."""
        alias = self.env["mail.alias"].browse(target.alias_id)
        if target.res_id:
            holder = self.env[target.model].browse(target.res_id)
        elif alias.alias_parent_model_id and alias.alias_parent_thread_id:
            holder = self.env[alias.alias_parent_model_id.model].browse(alias.alias_parent_thread_id)
        else:
            holder = self.env[target.model]
        message_dict = self._message_dict(target, holder)
        error = holder._alias_get_error(self.message, message_dict, alias)
        if error:
            return Refusal(target, f"the alias {alias.display_name} refuses the sender: "
                                   f"{error.message or 'unknown error'}",
                           told_by="alias", config_error=error.is_config_error,
                           cause=Cause.NOT_RECEIVING if error.is_config_error else Cause.CONTACT_POLICY)
        reason = self.env[target.model].browse(target.res_id or [])._mail_router_refusal(self.message, message_dict)
        return reason and Refusal(target, reason, told_by="model", cause=Cause.MODEL_RULE)

    def created_recently(self, models, minutes):
        """Stock's count (_detect_loop_sender): records the sender created lately, per
        model that says how to find them (_detect_loop_sender_domain)."""
        email = email_normalize(self.mail.from_email)
        domains = {model: self.env[model]._detect_loop_sender_domain(email) for model in models
                   if email and hasattr(self.env[model], "_detect_loop_sender_domain")}
        domains = {model: domain for model, domain in domains.items() if domain}
        if not domains or self.env["mail.gateway.allowed"].search_count([("email_normalized", "=", email)], limit=1):
            return 0
        since = self.env.cr.now() - timedelta(minutes=minutes)
        return max(self.env[model].search_count([("create_date", ">", since), *domain])
                   for model, domain in domains.items())

    def _message_dict(self, target, holder):
        """What stock's contact checks read of the parsed mail: its sender, and the
        partner stock's route check takes for its author (found in the Contacts)."""
        scope = self._follower_scope(target)
        records = holder if scope else None
        email = email_normalize(self.mail.from_email, strict=False)
        found = self.contacts(scope).find(self.env, [email], records)
        if found is None:  # record rules apply: stock looks
            found = [author.id for author in self.env["mail.thread"]._mail_find_partner_from_emails(
                [self.mail.from_email], records=records)]
        return {
            "message_id": self.mail.message_id,
            "email_from": self.mail.from_email,
            "author_id": found[0] if found else False,
            "to": ", ".join(self.mail.to),
            "recipients": ", ".join(self.mail.recipients),
        }

    # ------------------------------------------------------------------
    # Contacts: the partners and users of the mail's addresses
    # ------------------------------------------------------------------

    def contacts_for(self, targets):
        """The Contacts of the mail, with the followers stock's route check reads for
        its target: the record replied to, or the alias's parent record (a project for
        its tasks); for a mail to several targets, none."""
        target = targets[0] if len(targets) == 1 else None
        return self.contacts(target and self._follower_scope(target))

    def _follower_scope(self, target):
        """The record (model, id) whose followers come first in finding the sender of a
        mail to ``target``, as stock's route check finds them, or None."""
        if target.res_id:
            return target.model, target.res_id
        alias = self.env["mail.alias"].browse(target.alias_id)
        if alias.alias_parent_model_id and alias.alias_parent_thread_id:
            return alias.alias_parent_model_id.model, alias.alias_parent_thread_id
        return None

    def contacts(self, target):
        """The Contacts of the mail's From and recipients, with the followers of
        ``target`` (model, res_id) or None, in one query (once per target)."""
        if target not in self._contacts:
            self._contacts[target] = self._query_contacts(target)
        return self._contacts[target]

    def _query_contacts(self, target):
        emails = sorted({email for email in (email_normalize(address, strict=False)
                                             for address in (self.mail.from_email, *self.mail.recipients))
                         if email})
        model, res_id = target or (None, None)
        self.env["res.partner"].flush_model(["email_normalized", "active", "complete_name", "company_id"])
        self.env.cr.execute(
            """SELECT p.id, p.email_normalized, p.name, p.company_id, p.active, f.id,
                      ARRAY(SELECT ARRAY[u.login, u.id::text] FROM res_users u
                             WHERE u.partner_id = p.id AND u.active ORDER BY u.login)
                 FROM res_partner p
            LEFT JOIN mail_followers f ON f.partner_id = p.id AND f.res_model = %(model)s AND f.res_id = %(res_id)s
                WHERE p.email_normalized = ANY(%(emails)s)
                  AND NOT EXISTS (SELECT 1 FROM mail_alias a WHERE a.alias_full_name = p.email_normalized)
             ORDER BY p.complete_name, p.id DESC""",
            {"emails": emails, "model": model, "res_id": res_id})
        return Contacts(frozenset(emails), target, tuple(
            Contact(partner_id, email, name or "", company_id, active, follower_id,
                    tuple((login, int(user_id)) for login, user_id in users))
            for partner_id, email, name, company_id, active, follower_id, users in self.env.cr.fetchall()))
