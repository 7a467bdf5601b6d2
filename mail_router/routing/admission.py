"""Admission: whether the records the routing chain chose take the mail.

The chain (chain.py) says where a mail belongs; admission says whether it may go
there, as stock's route checks do, in this order:

    loop_headers    an answer to our own loop-detection notice is dropped
    acceptance      each target's model takes mail: message_new for a new record,
                    message_update for an existing one
    contact_policy  the alias's contact policy (everyone, known partners, followers)
                    and the target model's own rule, for each target reached by an alias
    throttling      a sender who created too many records lately creates no more

A target that a stage refuses is dropped; when none is left, the mail is refused
(quarantined) and the verdict says why for each. The stages ask the database through
the Gate (the ORM layer implements it, without side effects), so the routing
simulator runs exactly what the gateway runs. Plain data in, a Decision out.
"""
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Protocol

from .chain import Decision, Lookup, Names, Refusal, RoutingConfig, Target
from .chain import looked_at as chain_looked_at
from .chain import trace as chain_trace
from .hygiene import answers_loop_notice
from .incoming import IncomingMail
from .message_id import MessageIdCodec
from .outcome import Cause, Outcome


class Gate(Names, Protocol):
    """What admission asks the database about one mail; the ORM layer implements it."""

    def acceptance_refusal(self, target: Target) -> str | None:
        """Why `target`'s model takes no such mail (unknown model, no message_new for
        a new record), or None."""

    def contact_refusal(self, target: Target) -> Refusal | None:
        """Why the sender may not write to `target` through its alias (the alias's
        contact policy, the model's own rule), or None."""

    def created_recently(self, models: Sequence[str], minutes: int) -> int:
        """How many records of one of `models` the sender created in the last
        `minutes`, at most (0 for a sender allowed to, mail.gateway.allowed)."""


Stage = Callable[[Decision, IncomingMail, Gate, RoutingConfig], Decision | None]
# the last step of trace(): what the gateway does with the mail
VERDICT = 'verdict'


def judge(mail: IncomingMail, lookup: Lookup, gate: Gate, codec: MessageIdCodec,
          config: RoutingConfig) -> Decision:
    """The verdict on `mail`: the routing chain's decision, admitted."""
    return trace(mail, lookup, gate, codec, config)[-1][1]


def trace(mail: IncomingMail, lookup: Lookup, gate: Gate, codec: MessageIdCodec,
          config: RoutingConfig) -> tuple[tuple[str, Decision | None], ...]:
    """(stage, its Decision or None) for each stage of the chain run, then for each
    of admission's, then ('verdict', the verdict). Admission's stages after the one
    that refuses the mail are not run, as in the gateway."""
    steps = chain_trace(mail, lookup, codec, config)
    admitted, verdict = admission_trace(steps[-1][1], mail, gate, config)
    return (*steps, *admitted, (VERDICT, verdict))


def admit(decision: Decision, mail: IncomingMail, gate: Gate, config: RoutingConfig) -> Decision:
    """`decision` once admission has checked its targets."""
    return admission_trace(decision, mail, gate, config)[1]


def admission_trace(decision: Decision, mail: IncomingMail, gate: Gate, config: RoutingConfig
                    ) -> tuple[tuple[tuple[str, Decision | None], ...], Decision]:
    """((stage, the Decision it changed the verdict to, or None) for each stage of
    STAGES run on `decision`, the verdict)."""
    steps = []
    for stage in STAGES:
        changed = stage(decision, mail, gate, config)
        steps.append((stage.__name__, changed))
        if changed is not None:
            decision = changed
            if not decision.targets:  # refused or dropped: nothing is left to check
                break
    return tuple(steps), decision


def looked_at(stage: str, mail: IncomingMail) -> str:
    """What `stage`, of the chain or of admission, reads of `mail`, as the routing
    simulator shows it."""
    sender = mail.from_email or '(no sender)'
    return {
        'loop_headers': 'In-Reply-To and References: whether they answer our loop-detection notice',
        'acceptance': 'whether each target takes mail: a new record, or a reply',
        'contact_policy': f"each alias's Accept Emails From for {sender}, and the target's own rule",
        'throttling': f'how many records {sender} created by mail lately',
    }.get(stage) or chain_looked_at(stage, mail)


# -- the stages, in the order of STAGES -------------------------------------

def loop_headers(decision: Decision, mail: IncomingMail, gate: Gate, config: RoutingConfig) -> Decision | None:
    if decision.stage in (Outcome.MANUAL, Outcome.BOUNCE, Outcome.LOOP):
        return None
    ids = mail.in_reply_to + mail.references
    if answers_loop_notice(ids):
        return Decision(Outcome.LOOP, (), next(i for i in ids if answers_loop_notice((i,))),
                        'an answer to our own loop-detection notice: routing it could make a loop',
                        authentication=decision.authentication)
    return None


def acceptance(decision: Decision, mail: IncomingMail, gate: Gate, config: RoutingConfig) -> Decision | None:
    refusals = [Refusal(target, reason, cause=Cause.NOT_RECEIVING) for target in decision.targets
                if (reason := gate.acceptance_refusal(target))]
    return _without(decision, refusals)


def contact_policy(decision: Decision, mail: IncomingMail, gate: Gate, config: RoutingConfig) -> Decision | None:
    refusals = [refusal for target in decision.targets
                if target.alias_id and (refusal := gate.contact_refusal(target))]
    return _without(decision, refusals)


def throttling(decision: Decision, mail: IncomingMail, gate: Gate, config: RoutingConfig) -> Decision | None:
    # only mail that creates records can be a sender's loop (stock looks no further either)
    models = tuple(dict.fromkeys(target.model for target in decision.targets if target.res_id is None))
    if not (models and mail.from_email and decision.stage != Outcome.MANUAL):
        return None
    created = gate.created_recently(models, config.loop_minutes)
    if created < config.loop_threshold:
        return None
    kinds = ' or '.join(gate.model_name(model) for model in models)
    return Decision(Outcome.THROTTLED, (), mail.from_email,
                    f'{mail.from_email} created {created} records ({kinds}) by mail in the last '
                    f'{config.loop_minutes} minutes, and at most {config.loop_threshold - 1} are allowed: '
                    'it may be a robot', authentication=decision.authentication)


STAGES: tuple[Stage, ...] = (loop_headers, acceptance, contact_policy, throttling)


def _without(decision: Decision, refusals: list[Refusal]) -> Decision | None:
    """`decision` without the refused targets (refused outright when none is left);
    None when nothing was refused."""
    if not refusals:
        return None
    refused = {refusal.target for refusal in refusals}
    kept = tuple(target for target in decision.targets if target not in refused)
    reasons = '; '.join(refusal.reason for refusal in refusals)
    cause = refusals[0].cause  # of what refused the last targets: what to do about it
    refusals = decision.refusals + tuple(refusals)
    if kept:
        return replace(decision, targets=kept, reason=f'{decision.reason}; not {reasons}', refusals=refusals)
    return replace(decision, stage=Outcome.REFUSED, targets=(), reason=f'{decision.reason}; refused: {reasons}',
                   refusals=refusals, cause=cause)
