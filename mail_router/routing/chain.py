"""The routing chain: which record an incoming mail belongs to, and why.

decide() asks the database, through Lookup, for the stored messages and the
aliases that the mail names (one call each), then runs the stages of STAGES in
order; the first stage that returns a Decision wins. The order is the spec's
(In-Reply-To, References, alias, catchall), with bounces and loops stopped
first and auto-replies stopped before anything could create a record:

    bounce          a delivery status notification is never routed
    loop            mail from our own addresses is never routed
    in_reply_to     a stored message, or a validly signed id of our form
    references      the same, newest id first
    auto_reply      auto-generated mail that replies to no thread is dropped
    record_address  alias+<res_id>[-<signature>]@domain, catchall+<model>-<res_id>-<signature>@domain
    subject_reference  a token of the Subject that is the reference of one record (P00012),
                    for a sender the record knows, or an authenticated colleague at its
                    partner's domain
    alias           alias@domain: a new record, or the alias's forced thread
    catchall        the server's default model, or quarantine

A stage whose record no longer exists yields nothing and the next one is tried. A
stage that found something it does not act on says why (a Pass): the decision of
the stage that decides then says it too, for the routing log.
The chain knows no ORM and no IMAP: plain data in, a Decision out. Its reasons are
written for the administrator who reads them: records and models by the names the
screens give them (Names, which the ORM layer answers), never `model,id`.
"""
import re
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Protocol

from .authentication import Verdict, verdict
from .headers import base_address, split_address, storable
from .hygiene import bounce_recipient, is_loop
from .incoming import IncomingMail
from .message_id import MessageIdCodec, parse_catchall_tag, parse_plus_tag
from .outcome import Cause, MailKind, Outcome


@dataclass(frozen=True)
class Target:
    model: str
    res_id: int | None              # None: create a new record
    alias_id: int | None = None
    parent_id: int | None = None    # mail.message replied to (stages in_reply_to, references)


@dataclass(frozen=True)
class Alias:
    id: int
    name: str                       # local part
    domain: str | None              # alias domain name, None when the alias has none
    model: str
    force_thread_id: int | None
    incoming_local: bool            # match the local part on any domain


@dataclass(frozen=True)
class Refusal:
    """Why a target refused a mail (admission.py)."""
    target: Target
    reason: str                     # one sentence for the routing log and the simulator
    # who tells the sender, as in stock: 'alias' (its bounce, the alias's owner in copy),
    # 'model' (the model's own route check, e.g. account's "no attachment"), None: nobody
    told_by: str | None = None
    config_error: bool = False      # the alias is misconfigured (stock then marks it invalid)
    cause: Cause | None = None      # for the advice of what to do about it (outcome.advice)


@dataclass(frozen=True)
class Decision:
    stage: Outcome                  # a stage of the chain or of admission, or quarantine
    targets: tuple[Target, ...]
    matched: str | None             # the header value that decided: a message id, an address...
    reason: str                     # one sentence for the routing log and the simulator
    # Quarantine only: policy allows telling the sender (the mail is not
    # auto-generated). The ORM layer still requires a known partner and no
    # such bounce to them in the last 24 hours.
    bounce_sender: bool = False
    # what our trusted servers said of From (authentication.Verdict.reason); None: not checked
    authentication: str | None = None
    # the targets admission dropped, and why (the alias's owner is told, as in stock)
    refusals: tuple[Refusal, ...] = ()
    # why a mail is kept when its stage alone does not say what to do (outcome.advice)
    cause: Cause | None = None

    def storable(self) -> 'Decision':
        """The decision with its texts made storable (reasons may quote an exception)."""
        return replace(self, matched=self.matched and storable(self.matched), reason=storable(self.reason),
                       authentication=self.authentication and storable(self.authentication))


@dataclass(frozen=True)
class Pass:
    """A stage that found something and yet does not decide: why, for the routing log
    (added to the reason of the decision) and the simulator."""
    reason: str


@dataclass(frozen=True)
class Referenced:
    """A record whose reference (the field its model declares) a token of the Subject is."""
    model: str
    res_id: int
    reference: str                  # as stored


@dataclass(frozen=True)
class RoutingConfig:
    alias_domains: tuple[str, ...]          # names of mail.alias.domain
    catchall_addresses: tuple[str, ...]
    bounce_addresses: tuple[str, ...]
    loop_addresses: tuple[str, ...]         # catchall + bounce + default From (notifications@...)
    default_model: str | None = None        # the fetchmail server's "Create a New Record" model
    # stock's mail.catchall.domain.allowed: when set, a local-part alias
    # (incoming_local) matches only on these domains and the alias domains
    local_part_domains: tuple[str, ...] = ()
    # authserv-ids of our receiving servers (mail_router.trusted_authserv_ids): when
    # set, a sender is known to a record only if they authenticated their From
    trusted_authserv_ids: tuple[str, ...] = ()
    # stock's mail.gateway.loop.minutes and .threshold: a sender who created this many
    # records in that many minutes creates no more (admission's throttling)
    loop_minutes: int = 120
    loop_threshold: int = 20
    # the models whose records a Subject may name (they declare a reference field), in
    # the order they are searched; empty: the subject_reference stage is off
    reference_models: tuple[str, ...] = ()
    # (alias domain name, ids of the companies it serves): a Subject names a record of a
    # company only in mail written to that company's domain
    domain_companies: tuple[tuple[str, tuple[int, ...]], ...] = ()
    # domains anyone may have an address at (mail_router.public_mail_domains): no
    # organisation's domain
    public_mail_domains: tuple[str, ...] = ()


class Names(Protocol):
    """How the screens call records and models: the reasons name them so."""

    def record_name(self, model: str, res_id: int) -> str:
        """The record's display name (PO0001, Ann Vendor...); something readable for a
        record that does not exist."""

    def model_name(self, model: str) -> str:
        """The model's description (Purchase Order, Lead/Opportunity...)."""


class Lookup(Names, Protocol):
    """What the chain needs from the database; the ORM layer implements it."""

    def threads_by_message_ids(self, message_ids: Sequence[str]) -> Mapping[str, Target]:
        """Stored mail.message ids among `message_ids` (exact match) ->
        Target(model, res_id, parent_id=<mail.message id>)."""

    def record_exists(self, model: str, res_id: int) -> bool: ...

    def aliases_for(self, addresses: Sequence[str]) -> Sequence[Alias]:
        """Aliases that may match `addresses` (lowercase; plus-address bases
        included): by full address, or by local part. Returning more is
        harmless: the chain keeps only those that match."""

    def sender_known_to(self, model: str, res_id: int, email: str) -> bool:
        """Whether `email` is a follower, a partner of the record or a contact of
        that partner's company, or the author of an earlier message on it."""

    def records_by_reference(self, tokens: Sequence[str], models: Sequence[str],
                             companies: Collection[int]) -> Sequence[Referenced]:
        """The records of `models` whose reference is one of `tokens` (as written,
        upper- or lower-case; compared as text, never as a pattern) and that belong
        to one of `companies` or to no company: at most two per model (two already
        make the Subject ambiguous), one query per model."""

    def partner_domains(self, model: str, res_id: int) -> Collection[str]:
        """The domains (lowercase) of the addresses of the commercial partners of the
        record's partners: the organisations the record is with."""


@dataclass(frozen=True)
class Facts:
    """What decide() looks up once per mail and hands to every stage."""
    mail: IncomingMail
    config: RoutingConfig
    threads: Mapping[str, Target]           # stored messages among In-Reply-To and References
    aliases: tuple[Alias, ...]              # what aliases_for() returned
    addressed: tuple[tuple[str, Alias], ...]  # (recipient, alias) for each alias a recipient reaches
    sender: Verdict | None                  # what our servers say of From; None: not checked


Stage = Callable[[Facts, Lookup, MessageIdCodec], Decision | Pass | None]


def decide(mail: IncomingMail, lookup: Lookup, codec: MessageIdCodec,
           config: RoutingConfig) -> Decision:
    """Where `mail` goes: the Decision of the first stage of STAGES that decides."""
    return trace(mail, lookup, codec, config)[-1][1]


def trace(mail: IncomingMail, lookup: Lookup, codec: MessageIdCodec,
          config: RoutingConfig) -> tuple[tuple[str, Decision | Pass | None], ...]:
    """(stage name, its Decision, Pass or None) for each stage of STAGES run, in order,
    up to the first that decides: the last item is the decision, whose reason ends with
    the reasons of the stages that passed. The stages after it are not run, as in the
    gateway; the routing simulator shows them as not reached."""
    message_ids = tuple(dict.fromkeys(mail.in_reply_to + mail.references))
    # The catchall and bounce addresses name no alias (mail.alias refuses their names): a
    # reply to the catchall costs no alias query.
    ours = {address.lower() for address in config.catchall_addresses + config.bounce_addresses}
    addresses = tuple(address for address in dict.fromkeys(mail.recipients + tuple(map(base_address, mail.recipients)))
                      if base_address(address) not in ours)
    aliases = tuple(lookup.aliases_for(addresses)) if addresses else ()
    facts = Facts(
        mail=mail,
        config=config,
        threads=lookup.threads_by_message_ids(message_ids) if message_ids else {},
        aliases=aliases,
        addressed=_addressed_aliases(mail.recipients, aliases, config),
        sender=verdict(mail.authentication_results, config.trusted_authserv_ids, mail.from_email),
    )
    authentication = facts.sender and facts.sender.reason
    steps, passed = [], []
    for stage in STAGES:
        result = stage(facts, lookup, codec)
        if isinstance(result, Pass):
            passed.append(result.reason)
        elif result is not None:
            reason = '; '.join((result.reason, *passed))
            steps.append((stage.__name__, replace(result, reason=reason, authentication=authentication)))
            return tuple(steps)
        steps.append((stage.__name__, result))
    # catchall always decides; this keeps trace() total whatever STAGES holds
    unmatched = Decision(Outcome.QUARANTINE, (), None, '; '.join(('no stage matched', *passed)),
                         authentication=authentication)
    return (*steps, (Outcome.QUARANTINE, unmatched))


def looked_at(stage: str, mail: IncomingMail) -> str:
    """What `stage` reads of `mail`, as the routing simulator shows it."""
    recipients = ', '.join(mail.recipients) or '(no recipient)'
    return {
        'bounce': f'Content-Type, From {mail.from_email or "(none)"} and the recipients {recipients}',
        'loop': f'From {mail.from_email or "(none)"}',
        'in_reply_to': 'In-Reply-To ' + (' '.join(mail.in_reply_to) or '(none)'),
        'references': 'References ' + (' '.join(mail.references[::-1]) or '(none)') + ', newest first',
        'auto_reply': 'Auto-Submitted, X-Autoreply, Precedence and read-receipt headers',
        'record_address': f'the plus addresses among {recipients}',
        'subject_reference': 'the tokens of the Subject that may be a reference: '
                             + (', '.join(reference_tokens(mail.subject)) or '(none)'),
        'alias': f'the aliases among {recipients}',
        'catchall': f"{recipients} and the incoming mail server's default model",
    }.get(stage, '')


# -- the stages, in the order of STAGES -------------------------------------

def bounce(facts: Facts, lookup: Lookup, codec: MessageIdCodec) -> Decision | None:
    mail = facts.mail
    recipient = bounce_recipient(mail.recipients, facts.config.bounce_addresses)
    if mail.kind == MailKind.BOUNCE or recipient is not None:
        return Decision(Outcome.BOUNCE, (), recipient or mail.from_email or None,
                        'a delivery status notification (a bounce): it marks the contact it bounced from '
                        'and is never posted')
    return None


def loop(facts: Facts, lookup: Lookup, codec: MessageIdCodec) -> Decision | None:
    sender = facts.mail.from_email
    if is_loop(sender, facts.config.loop_addresses):
        return Decision(Outcome.LOOP, (), sender, f'sent from our own address {sender}: routing it could make a loop')
    return None


def in_reply_to(facts: Facts, lookup: Lookup, codec: MessageIdCodec) -> Decision | None:
    return _reply(Outcome.IN_REPLY_TO, 'In-Reply-To', facts.mail.in_reply_to, facts, lookup, codec)


def references(facts: Facts, lookup: Lookup, codec: MessageIdCodec) -> Decision | None:
    # RFC 5322 §3.6.4: each reply appends its parent, so the newest id is last.
    newest_first = facts.mail.references[::-1]
    return _reply(Outcome.REFERENCES, 'References', newest_first, facts, lookup, codec)


def auto_reply(facts: Facts, lookup: Lookup, codec: MessageIdCodec) -> Decision | None:
    # Reached only when no thread was found: an auto-reply may be posted on a
    # thread, but must not create a record nor be answered.
    if facts.mail.kind == MailKind.AUTO_REPLY:
        return Decision(Outcome.AUTO_REPLY, (), facts.mail.from_email or None,
                        'an automatic reply (out of office, read receipt...) that answers no known thread: '
                        'not posted')
    return None


def record_address(facts: Facts, lookup: Lookup, codec: MessageIdCodec) -> Decision | None:
    sender = facts.mail.from_email
    for recipient, model, res_id, signature, alias_id in _record_addresses(facts):
        signed = signature is not None and codec.check_record(model, res_id, signature)
        # Checked before existence: a guesser learns nothing about which ids exist.
        if signature is not None and not signed:
            return Decision(Outcome.QUARANTINE, (), recipient,
                            f'the record address {recipient} is not validly signed for '
                            f'{lookup.record_name(model, res_id)}: a wrong signature never routes',
                            cause=Cause.BAD_SIGNATURE)
        if not signed and (refusal := _unknown_sender(facts, lookup, model, res_id, recipient)):
            why, cause = refusal
            return Decision(Outcome.QUARANTINE, (), recipient, why, cause=cause)
        if lookup.record_exists(model, res_id):
            why = 'validly signed' if signed else f'unsigned, from {sender}, known to the record'
            return Decision(Outcome.RECORD_ADDRESS, (Target(model, res_id, alias_id),), recipient,
                            f'mail to {recipient}, the record address of {lookup.record_name(model, res_id)} ({why})')
    return None


def subject_reference(facts: Facts, lookup: Lookup, codec: MessageIdCodec) -> Decision | Pass | None:
    # Reached when no thread header routed the mail: a new mail naming its record, a
    # reply whose client dropped or whose relay rewrote In-Reply-To and References.
    tokens = reference_tokens(facts.mail.subject) if facts.config.reference_models else ()
    found = _named_records(facts, lookup, tokens) if tokens else ()
    if not found:
        return None
    if len(found) > 1:
        named = ', '.join(f'{lookup.record_name(r.model, r.res_id)} by {_token_of(r, tokens)}' for r in found)
        return Pass(f'not routed by subject: it names more than one record ({named})')
    record = found[0]
    token = _token_of(record, tokens)
    named = f'Subject token {token} is the reference of {lookup.record_name(record.model, record.res_id)}'
    may_post, why = _may_post_by_subject(facts, lookup, record)
    if not may_post:
        return Pass(f'not routed by subject: {named}, but {why}')
    same_model_alias = next((a.id for _, a in facts.addressed if a.model == record.model), None)
    return Decision(Outcome.SUBJECT_REFERENCE, (Target(record.model, record.res_id, same_model_alias),), token,
                    f'{named}: {why}')


def alias(facts: Facts, lookup: Lookup, codec: MessageIdCodec) -> Decision | None:
    addressed = facts.addressed
    replied = _thread(_reply_ids(facts.mail), facts, lookup, codec)
    if replied:  # a forward (see _reply): only the aliases of other models it was sent to
        addressed = _forwarded_to(facts, replied[1].model)
    reached = [(recipient, found) for recipient, found in addressed
               if found.force_thread_id is None or lookup.record_exists(found.model, found.force_thread_id)]
    if not reached:
        return None
    return Decision(Outcome.ALIAS, tuple(Target(a.model, a.force_thread_id, a.id) for _, a in reached),
                    ', '.join(dict.fromkeys(recipient for recipient, _ in reached)),
                    'mail to ' + '; to '.join(f'the alias {recipient}: {_describe(a, lookup)}'
                                              for recipient, a in reached))


def catchall(facts: Facts, lookup: Lookup, codec: MessageIdCodec) -> Decision:
    mail, config = facts.mail, facts.config
    to_catchall = (r for r in mail.recipients if _among(r, config.catchall_addresses))
    to_our_domain = (r for r in mail.recipients if _among(split_address(r)[2], config.alias_domains))
    matched = next(to_catchall, None) or next(to_our_domain, None)
    if config.default_model:
        return Decision(Outcome.CATCHALL_DEFAULT, (Target(config.default_model, None),), matched,
                        f'no thread or alias matched: a new {lookup.model_name(config.default_model)} '
                        "(the incoming mail server's default model)")
    if matched is None:
        unrouted = f'none of its recipients ({", ".join(mail.recipients) or "none"}) is one of our addresses'
    elif _among(matched, config.catchall_addresses):
        unrouted = f'it was sent to the catchall {matched}'
    else:
        unrouted = f'there is no alias {matched}'
    return Decision(Outcome.QUARANTINE, (), matched,
                    f'no thread or alias matched: the mail answers no known thread and {unrouted}; '
                    'the incoming mail server has no default model',
                    bounce_sender=mail.kind is None and matched is not None, cause=Cause.NO_ROUTE)


STAGES: tuple[Stage, ...] = (
    bounce, loop, in_reply_to, references, auto_reply, record_address, subject_reference, alias, catchall)


# -- helpers -------------------------------------------------------------------

def _reply(stage: Outcome, header: str, message_ids: Iterable[str],
           facts: Facts, lookup: Lookup, codec: MessageIdCodec) -> Decision | None:
    found = _thread(message_ids, facts, lookup, codec)
    if found is None:
        return None
    message_id, target, how = found
    if _forwarded_to(facts, target.model):
        return None  # stock's forward rule: sent To an alias of another model, that alias decides
    if stage == Outcome.REFERENCES:
        # as stock, the parent is the newest stored message of that thread the mail names
        thread = [t.parent_id for t in facts.threads.values() if (t.model, t.res_id) == (target.model, target.res_id)]
        target = replace(target, parent_id=max(thread, default=target.parent_id))
    same_model_alias = next((a.id for _, a in facts.addressed if a.model == target.model), None)
    return Decision(stage, (replace(target, alias_id=same_model_alias),), message_id,
                    f'a reply ({header}) to {how} {lookup.record_name(target.model, target.res_id)}')


def _thread(message_ids: Iterable[str], facts: Facts, lookup: Lookup,
            codec: MessageIdCodec) -> tuple[str, Target, str] | None:
    """(id, thread, how it was found) for the first id naming an existing record:
    a stored message, else a validly signed id of our form."""
    for message_id in message_ids:
        stored = facts.threads.get(message_id)
        decoded = None if stored else codec.decode(message_id)
        target = stored or (Target(*decoded) if decoded else None)
        if target is not None and lookup.record_exists(target.model, target.res_id):
            return message_id, target, ('a message posted on' if stored else
                                        'a message, deleted since, whose validly signed id names')
    return None


def _record_addresses(facts: Facts) -> Iterable[tuple[str, str, int, str | None, int | None]]:
    """(recipient, model, res_id, signature or None, alias id) for each recipient that
    names a record: 'alias+<id>[-<signature>]' on an alias of its model, or
    'catchall+<model>-<id>-<signature>' (always signed)."""
    for recipient in facts.mail.recipients:
        local, tag, domain = split_address(recipient)
        if not tag:
            continue
        if _among(f'{local}@{domain}', facts.config.catchall_addresses):
            if (catchall_tag := parse_catchall_tag(tag)) is not None:
                yield recipient, *catchall_tag, None
            continue
        if (record_tag := parse_plus_tag(tag)) is not None:
            for found in _matching(facts.aliases, f'{local}@{domain}', facts.config):
                yield recipient, found.model, *record_tag, found.id


def _unknown_sender(facts: Facts, lookup: Lookup, model: str, res_id: int,
                    recipient: str) -> tuple[str, Cause] | None:
    """(why, cause) the sender of mail to an unsigned record address may not post on
    the record; None when they may: known to it, and authenticated if our servers are
    trusted to say so."""
    sender = facts.mail.from_email
    address = f'the record address {recipient} is not validly signed'
    if facts.sender is not None and not facts.sender.authenticated:
        return f'{address} and {facts.sender.reason}', Cause.UNAUTHENTICATED
    if not (sender and lookup.sender_known_to(model, res_id, sender)):
        return (f'{address} and the sender {sender or "(none)"} is not known to {lookup.record_name(model, res_id)} '
                '(no follower, contact or earlier author)', Cause.UNKNOWN_SENDER)
    return None


# Reply and forward prefixes (Re:, Fwd:, AW:, SV:, Re[2]:...): the only ones that hold
# a digit are the counters, which must not be taken for a reference.
_SUBJECT_PREFIXES = re.compile(r'(?:\s*(?:re|fwd?|aw|wg|sv|vs|tr|rv|antw)\s*(?:\[\d+\]\s*)?:)*', re.IGNORECASE)
# A reference is one word of letters, digits and the separators of Odoo's sequences
# (P00012, S00034, INV/2026/00012, BILL/2026/01/0001); anything else separates words:
# spaces, brackets ("[P00012]", "(Ref P00012)"), quotes, '#', commas.
_REFERENCE_WORD = re.compile(r'[\w./-]+')
_REFERENCE_LENGTH = range(3, 65)
# At most this many distinct tokens are looked up: a Subject of 10,000 words costs
# no more than a short one.
MAX_REFERENCE_TOKENS = 20


def reference_tokens(subject: str) -> tuple[str, ...]:
    """The words of `subject` that may be a record's reference, each once (case aside),
    in order, at most MAX_REFERENCE_TOKENS: those with a digit (every sequence has one;
    plain words, Re: and Fwd: never look up anything), reply prefixes and the
    punctuation around words aside."""
    tokens: dict[str, str] = {}
    for match in _REFERENCE_WORD.finditer(subject, _SUBJECT_PREFIXES.match(subject).end()):
        token = match.group().strip('./-')
        if len(token) in _REFERENCE_LENGTH and any(c.isdigit() for c in token):
            tokens.setdefault(token.casefold(), token)
            if len(tokens) == MAX_REFERENCE_TOKENS:
                break
    return tuple(tokens.values())


def _named_records(facts: Facts, lookup: Lookup, tokens: Sequence[str]) -> tuple[Referenced, ...]:
    """The records `tokens` name, of the first group of models that has any (one query
    per model), of the companies the mail was written to."""
    companies = _companies_written_to(facts)
    for models in _reference_model_groups(facts):
        if found := tuple(dict.fromkeys(lookup.records_by_reference(tokens, models, companies))):
            return found
    return ()


def _reference_model_groups(facts: Facts) -> tuple[tuple[str, ...], ...]:
    """The declared models a Subject may name a record of, in groups searched in turn
    until one has a match. Mail To an alias: its model only, for a record of another
    model would make the mail a forward, which the alias decides (stock's rule, as for
    replies); To aliases of two models: none. Otherwise the models of the aliases in
    Cc first, then the others."""
    declared = facts.config.reference_models
    to_models = {found.model for recipient, found in facts.addressed if recipient in facts.mail.to}
    if to_models:
        groups: tuple[tuple[str, ...], ...] = (tuple(m for m in declared if {m} == to_models),)
    else:
        cc_models = {found.model for _, found in facts.addressed}
        groups = (tuple(m for m in declared if m in cc_models), tuple(m for m in declared if m not in cc_models))
    return tuple(group for group in groups if group)


def _companies_written_to(facts: Facts) -> frozenset[int]:
    """The companies whose alias domain the mail was written to (a recipient there)."""
    domains = {split_address(recipient)[2] for recipient in facts.mail.recipients}
    return frozenset(company for domain, companies in facts.config.domain_companies
                     if domain.lower() in domains for company in companies)


def _token_of(record: Referenced, tokens: Sequence[str]) -> str:
    """The token of the Subject that names `record`, as written there."""
    return next((t for t in tokens if t.casefold() == record.reference.casefold()), record.reference)


def _may_post_by_subject(facts: Facts, lookup: Lookup, record: Referenced) -> tuple[bool, str]:
    """(whether the sender may post on `record` by naming it in the Subject, why): a
    sender known to the record, or a colleague (_colleague). With trusted servers,
    From must be authenticated: a forged From never posts by subject."""
    sender, authenticated = facts.mail.from_email, facts.sender
    if not sender:
        return False, 'the mail has no sender'
    if authenticated is not None and not authenticated.authenticated:
        return False, authenticated.reason
    if lookup.sender_known_to(record.model, record.res_id, sender):
        return True, f'from {sender}, known to the record' + (f', {authenticated.reason}' if authenticated else '')
    return _colleague(facts, lookup, record)


def _colleague(facts: Facts, lookup: Lookup, record: Referenced) -> tuple[bool, str]:
    """(whether the sender, unknown to `record`, is a colleague of its partner, why):
    when our servers are trusted to say who sent the mail (and said it), an address at
    the domain of the record's partner, unless a public one (gmail.com...)."""
    sender = facts.mail.from_email
    domain = sender.rpartition('@')[2]
    unknown = f'the sender {sender} is unknown to the record'
    if facts.sender is None:
        why = f"{unknown} (a colleague at its partner's domain counts only with trusted authentication servers)"
    elif _among(domain, facts.config.public_mail_domains):
        why = f'{unknown} and {domain} is a public mail domain'
    elif not _among(domain, lookup.partner_domains(record.model, record.res_id)):
        why = f'{unknown} and {domain} is not the domain of its partner'
    else:
        return True, f"from {sender}, at {domain}, the domain of the record's partner, {facts.sender.reason}"
    return False, why


def _reply_ids(mail: IncomingMail) -> tuple[str, ...]:
    """The ids the reply stages read, in their order: In-Reply-To, then References newest first."""
    return mail.in_reply_to + mail.references[::-1]


def _forwarded_to(facts: Facts, replied_model: str) -> tuple[tuple[str, Alias], ...]:
    """The aliases of another model than the replied thread's that the mail was sent To
    (not Cc: stock's 'To > Cc'); any makes the reply a forward."""
    return tuple((recipient, found) for recipient, found in facts.addressed
                 if found.model != replied_model and recipient in facts.mail.to)


def _addressed_aliases(recipients: Sequence[str], aliases: Sequence[Alias],
                       config: RoutingConfig) -> tuple[tuple[str, Alias], ...]:
    """(recipient, alias) for each alias that a recipient reaches, first recipient kept."""
    reached: dict[int, tuple[str, Alias]] = {}
    for recipient in recipients:
        for found in _matching(aliases, recipient, config):
            reached.setdefault(found.id, (recipient, found))
    return tuple(reached.values())


def _matching(aliases: Sequence[Alias], address: str, config: RoutingConfig) -> list[Alias]:
    """The aliases that mail to `address` reaches, as stock matches them: the
    full address (an alias without domain has none); or the local part
    (incoming_local), on any domain unless config.local_part_domains says which."""
    local, _at, domain = address.lower().rpartition('@')
    local_part_domain = not config.local_part_domains or _among(
        domain, config.local_part_domains + config.alias_domains)
    return [candidate for candidate in aliases
            if candidate.name.lower() == local and (
                (candidate.incoming_local and local_part_domain)
                or (candidate.domain is not None and candidate.domain.lower() == domain))]


def _among(value: str, values: Iterable[str]) -> bool:
    # Addresses and domains from the database may come in any case.
    return value.lower() in {v.lower() for v in values}


def _describe(found: Alias, names: Names) -> str:
    if found.force_thread_id is None:
        return f'a new {names.model_name(found.model)}'
    return f'posted on {names.record_name(found.model, found.force_thread_id)}'
