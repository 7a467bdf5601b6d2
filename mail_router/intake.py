"""One incoming mail through the gateway: read -> ledger -> judge -> post or act -> record.

    Intake(raw, origin)    read once: the bytes parsed once, the headers routing reads
    .process(env)          the flow below; returns what became of the mail (Processed)

    claim    the ledger (mail.router.ledger): a Message-ID is processed once
    judge    routing.admission.judge: the chain's decision, then admission (loop headers,
             the target takes mail, the alias's contact policy, throttling). The routing
             simulator calls the same judge: the two cannot disagree.
    post     stock's parse, message_route and _message_route_process on the verdict
    act      what a verdict that posts nothing makes us do: handle a bounce, tell the
             sender (the one bounce policy), tell an alias's owner
    record   the routing log entry (raw bytes kept when not posted), the quarantine
             entry, one grep-able log line

This is the domain object of the gateway, apart from the ORM models, which only hook
it into stock (models/mail_thread.py). Containment: everything after the ledger runs in
one savepoint; if it raises, it is rolled back and the mail is quarantined with the
error (``failed``), in a savepoint of its own. Only when even that fails does the error
reach the caller (the fetcher then leaves the message on the server). Nothing here
commits: the caller does (the fetcher, after a batch of messages, each in a savepoint).
"""
import time
import traceback
from dataclasses import dataclass, field, replace
from datetime import datetime

from .models.routing_lookup import Contacts, RoutingLookup
from .routing import admission
from .routing.chain import Decision, Target
from .routing.headers import storable_values
from .routing.incoming import read_mail
from .routing.mime import make_readable
from .routing.outcome import QUARANTINED, ROUTED, Cause, Outcome, QuarantineState

# The context key through which stock's hooks see the mail being posted (a frozen
# Posting): message_route's signature, which other modules' overrides wrap, leaves no
# other way to hand it the verdict.
POSTING_KEY = "mail_router_posting"


@dataclass(frozen=True)
class Origin:
    """Where a mail comes from and how to post it: message_process's arguments."""
    server_id: int | None = None
    model: str | None = None            # the fallback model: the server's "Create a New Record"
    thread_id: int | None = None
    custom_values: dict | None = field(default=None, hash=False)
    save_original: bool = False
    strip_attachments: bool = False
    # set by a fetch run: every notification that posting the mail makes is scheduled
    # (stock's mail.message.schedule) at this time, and the run sends them once it is done
    notify_at: datetime | None = None
    # when the mail server received it (seconds since the epoch), for the log's delay
    arrived: float | None = None

    @classmethod
    def of_server(cls, server):
        """The origin of a mail fetched by ``server`` (maybe none), as it fetches today."""
        return cls(server_id=server.id or None, model=server.object_id.model or None,
                   save_original=server.original, strip_attachments=bool(server) and not server.attach)


@dataclass(frozen=True)
class Posting:
    """What stock's hooks may read of the mail being posted (context, POSTING_KEY): its
    verdict, the partners and users of its addresses (found in one query), and when its
    notifications are due (Origin.notify_at)."""
    message_id: str
    verdict: Decision
    contacts: Contacts | None = None
    notify_at: datetime | None = None


@dataclass(frozen=True)
class Processed:
    """What became of one mail."""
    verdict: Decision
    log_id: int
    thread_id: int | bool = False       # message_process's return value (stock's)
    posted_id: int | None = None        # the mail.message made of it


class Intake:
    """One incoming mail, read once."""

    def __init__(self, raw, origin):
        self.started = time.monotonic()
        self.raw = raw
        self.origin = origin
        self.message, self.mail, self.unreadable = read_mail(raw)

    # ------------------------------------------------------------------
    # The flow
    # ------------------------------------------------------------------

    def process(self, env, past_ledger=False, quarantined=None, chosen=None):
        """Route and post the mail; what cannot be posted is kept. Never raises for
        what the mail holds.

        ``past_ledger``: route it again (Retry, Route Again); ``quarantined``: the
        quarantine entry being retried, updated rather than a new one made; ``chosen``:
        the record an administrator routes it to (Route to...)."""
        if not past_ledger and not env["mail.router.ledger"].sudo()._claim(self.mail.message_id, self.origin.server_id):
            return self.record(env, Decision(Outcome.DUPLICATE, (), self.mail.message_id,
                                             "a mail with this Message-ID was already processed: skipped"))
        processed, failure = contained(env, lambda: self._route(env, quarantined, chosen))
        if not failure:
            return processed
        verdict = Decision(Outcome.FAILED, (), None, f"processing failed: {type(failure).__name__}: {failure}")
        error = "".join(traceback.format_exception(failure))
        kept, failure = contained(env, lambda: self.record(env, verdict, quarantined=quarantined, error=error))
        if failure:  # the last resort: not even the quarantine takes it; the fetcher leaves it on the server
            raise failure
        return kept

    def _route(self, env, quarantined, chosen):
        if self.unreadable:
            unparsed = Decision(Outcome.QUARANTINE, (), None, f"the mail cannot be parsed: {self.unreadable}",
                                cause=Cause.UNREADABLE)
            return self.record(env, unparsed, quarantined=quarantined)
        make_readable(self.message)  # stock's parsing raises on unknown charsets, types, unreadable headers...
        lookup = RoutingLookup(env, self.message, self.mail)
        verdict = self.judge(env, lookup, chosen)
        if verdict.stage in ROUTED:
            verdict, thread_id, posted_id = self.post(env, verdict, lookup.contacts_for(verdict.targets))
            return self.record(env, verdict, thread_id, posted_id, quarantined=quarantined)
        self.act(env, verdict)
        return self.record(env, verdict, quarantined=quarantined)

    def judge(self, env, lookup, chosen=None):
        """The verdict: the routing chain's decision, admitted; or the record an
        administrator chose, admitted (it must exist and take mail)."""
        Thread = env["mail.thread"]
        config = Thread._mail_router_config(self.origin.model)
        if chosen is None:
            return admission.judge(self.mail, lookup, lookup, Thread._mail_router_codec(), config)
        model, res_id = chosen
        if not lookup.record_exists(model, res_id):  # stock's route check would create a record instead
            return Decision(Outcome.REFUSED, (), None,
                            f"the chosen record ({lookup.model_name(model)} {res_id}) no longer exists",
                            cause=Cause.RECORD_GONE)
        manual = Decision(Outcome.MANUAL, (Target(model, res_id),), None,
                          f"routed by hand from the quarantine by {env.user.name} to "
                          f"{lookup.record_name(model, res_id)}")
        return admission.admit(manual, self.mail, lookup, config)

    def post(self, env, verdict, contacts=None):
        """(verdict, thread id, posted message id): stock's parse, route and post, on the
        verdict. A module's own route check (stock's _routing_check_route, overridden)
        may still refuse: the verdict then says so."""
        posting = Posting(self.mail.message_id, verdict, contacts, self.origin.notify_at)
        thread = env["mail.thread"].with_context(**{POSTING_KEY: posting})
        msg_dict = self.parse(thread)
        routes = thread.message_route(self.message, msg_dict, self.origin.model, self.origin.thread_id,
                                      self.origin.custom_values)
        if not routes:
            refusers = " or ".join(dict.fromkeys(RoutingLookup(env).model_name(t.model) for t in verdict.targets))
            return replace(verdict, stage=Outcome.REFUSED, targets=(), cause=Cause.MODEL_RULE, reason=(
                f"{verdict.reason}; refused by a check of {refusers} itself")), False, None
        thread_id = thread._message_route_process(self.message, msg_dict, routes)
        return verdict, thread_id, env["mail.message"]._mail_router_posted(self.mail.message_id)

    def parse(self, thread):
        """Stock's parse of the mail, made storable: stock decodes headers with surrogate
        escapes and keeps NUL, neither of which PostgreSQL takes; it invents
        '<time@localhost>' for a mail without Message-ID, and a retry would be a new mail:
        the intake's id is derived from the bytes."""
        msg_dict = storable_values(thread.message_parse(self.message, save_original=self.origin.save_original))
        msg_dict["message_id"] = self.mail.message_id
        if self.origin.strip_attachments:
            msg_dict.pop("attachments", None)
        return msg_dict

    def act(self, env, verdict):
        """What a verdict that posts nothing makes the gateway do, as stock does it."""
        Thread = env["mail.thread"]
        if verdict.stage == Outcome.BOUNCE:
            Thread._routing_handle_bounce(self.message, self.parse(Thread))
        elif verdict.stage == Outcome.THROTTLED:
            Thread._mail_router_throttled_notice(self.message, self.mail)
        elif verdict.stage in QUARANTINED:
            if verdict.refusals:
                self.tell_refused(env, verdict)
            elif verdict.bounce_sender:
                Thread._mail_router_bounce_sender(self.message, self.mail)

    def tell_refused(self, env, verdict):
        """Tell the sender of a refused mail, as stock does (through the one bounce
        policy): the alias's bounce (and a misconfigured alias is marked invalid), or
        the model's own route check, which says it in its words."""
        Thread = env["mail.thread"]
        msg_dict = self.parse(Thread)
        for refusal in verdict.refusals:
            target, alias = refusal.target, env["mail.alias"].browse(refusal.target.alias_id)
            if refusal.told_by == "alias":
                alias._alias_bounce_incoming_email(self.message, msg_dict, set_invalid=refusal.config_error)
            elif refusal.told_by == "model":
                route = (target.model, target.res_id, {}, env.uid, alias)
                env[target.model]._routing_check_route(self.message, msg_dict, route, raise_exception=False)

    def record(self, env, verdict, thread_id=False, posted_id=None, quarantined=None, error=None):
        """Keep what was not posted (in the quarantine, or its raw bytes on the log
        entry) and write the log entry: what became of the mail."""
        if verdict.stage in QUARANTINED:
            env["mail.router.quarantine"].sudo()._keep(self.raw, self.mail, verdict, error, self.origin.server_id,
                                                       quarantined)
        elif quarantined and verdict.stage in ROUTED:
            quarantined.state = QuarantineState.ROUTED
        kept = None if posted_id or verdict.stage in QUARANTINED else self.raw
        bounce_sent = not posted_id and env["mail.router.bounce"].sudo()._sent_about(self.mail.message_id)
        log = env["mail.router.log"].sudo()._record(
            self.mail, verdict, self.started, self.origin.server_id, posted_id=posted_id, bounce_sent=bounce_sent,
            error=error, raw=kept, arrived=self.origin.arrived)
        return Processed(verdict, log.id, thread_id, posted_id)


def contained(env, work):
    """(work(), None), or (None, the exception it raised) with all it did rolled back.
    As in stock's message_process, precommit hooks (tracking, and the mail templates it
    sends) are left to the commit."""
    cr = env.cr
    cr.flush()
    savepoint = cr.savepoint(flush=False)
    try:
        result = work()
        env.flush_all()
    except Exception as exc:  # the caller records it: containment is the point
        cr.clear()
        savepoint.close(rollback=True)
        return None, exc
    savepoint.close(rollback=False)
    return result, None
