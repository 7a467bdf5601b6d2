"""One vocabulary for incoming mail: what became of it (Outcome), what kind of mail it
is (MailKind), where a quarantined mail stands (QuarantineState), why it was kept
(Cause) and what to do about it (advice). The routing log's and the quarantine's
selections, the simulator and the ORM layer use these names, never bare strings; the
screens show their labels, never the keys.
"""
from enum import StrEnum


class Outcome(StrEnum):
    # decided by the routing chain (chain.STAGES)
    IN_REPLY_TO = 'in_reply_to'
    REFERENCES = 'references'
    RECORD_ADDRESS = 'record_address'
    SUBJECT_REFERENCE = 'subject_reference'
    ALIAS = 'alias'
    CATCHALL_DEFAULT = 'catchall_default'
    QUARANTINE = 'quarantine'
    BOUNCE = 'bounce'
    LOOP = 'loop'
    AUTO_REPLY = 'auto_reply'
    # decided by admission (admission.STAGES)
    REFUSED = 'refused'         # the target refused it (alias contact policy, a model that takes no mail)
    THROTTLED = 'throttled'     # the sender created too many records recently
    # decided by the intake around them
    DUPLICATE = 'duplicate'     # the ledger has its Message-ID: processed before
    FAILED = 'failed'           # processing raised: rolled back and quarantined
    # decided by an administrator
    MANUAL = 'manual'
    DISCARDED = 'discarded'


# What the screens call each outcome: short, for the routing log's badges and filters
LABELS = {
    Outcome.IN_REPLY_TO: 'In-Reply-To',
    Outcome.REFERENCES: 'References',
    Outcome.ALIAS: 'Alias',
    Outcome.RECORD_ADDRESS: 'Record Address',
    Outcome.SUBJECT_REFERENCE: 'By Subject',
    Outcome.CATCHALL_DEFAULT: 'Default Model',
    Outcome.QUARANTINE: 'Quarantined',
    Outcome.REFUSED: 'Refused',
    Outcome.FAILED: 'Failed',
    Outcome.BOUNCE: 'Bounce',
    Outcome.DUPLICATE: 'Duplicate',
    Outcome.LOOP: 'Loop',
    Outcome.AUTO_REPLY: 'Auto-Reply',
    Outcome.THROTTLED: 'Throttled',
    Outcome.MANUAL: 'Routed by Hand',
    Outcome.DISCARDED: 'Discarded',
}
# What the simulator's trace calls each stage of the chain (chain.STAGES) and of
# admission (admission.STAGES), by the stage's name; a stage missing here is shown by its
# name, spaced (step_label)
STEP_LABELS = {
    'bounce': 'Bounce',
    'loop': 'Loop (our own address)',
    'in_reply_to': 'In-Reply-To',
    'references': 'References',
    'auto_reply': 'Auto-Reply',
    'record_address': 'Record Address',
    'subject_reference': 'By Subject',
    'alias': 'Alias',
    'catchall': 'Default Model',
    'loop_headers': 'Loop Notice',
    'acceptance': 'Target Takes Mail',
    'contact_policy': 'Contact Policy',
    'throttling': 'Throttling',
}


def step_label(stage: str) -> str:
    return STEP_LABELS.get(stage) or stage.replace('_', ' ').capitalize()


REPLIES = frozenset({Outcome.IN_REPLY_TO, Outcome.REFERENCES})
# posted on a record
ROUTED = frozenset({Outcome.IN_REPLY_TO, Outcome.REFERENCES, Outcome.RECORD_ADDRESS, Outcome.SUBJECT_REFERENCE,
                    Outcome.ALIAS, Outcome.CATCHALL_DEFAULT, Outcome.MANUAL})
# kept in the quarantine, waiting for an administrator
QUARANTINED = frozenset({Outcome.QUARANTINE, Outcome.REFUSED, Outcome.FAILED})


class MailKind(StrEnum):
    """Mail that no person wrote to us directly (hygiene.classify); None for the rest."""
    BOUNCE = 'bounce'           # a delivery status notification
    AUTO_REPLY = 'auto_reply'   # an automatic reply (RFC 3834), a read receipt
    LIST = 'list'               # relayed by a mailing list, or sent in bulk


MAIL_KIND_LABELS = {
    MailKind.BOUNCE: 'a delivery status notification',
    MailKind.AUTO_REPLY: 'an automatic reply',
    MailKind.LIST: 'mailing-list or bulk mail',
}


class QuarantineState(StrEnum):
    PENDING = 'pending'         # waiting for an administrator
    ROUTED = 'routed'           # retried or routed by hand: posted
    DISCARDED = 'discarded'


QUARANTINE_STATE_LABELS = {
    QuarantineState.PENDING: 'Waiting',
    QuarantineState.ROUTED: 'Routed',
    QuarantineState.DISCARDED: 'Discarded',
}


class Cause(StrEnum):
    """Why a mail was quarantined or refused, when the outcome alone does not say what to
    do about it (Decision.cause, Refusal.cause)."""
    NO_ROUTE = 'no_route'               # no thread, alias nor default model
    BAD_SIGNATURE = 'bad_signature'     # a record address with a wrong signature
    UNKNOWN_SENDER = 'unknown_sender'   # an unsigned record address from someone the record does not know
    UNAUTHENTICATED = 'unauthenticated'  # an unsigned record address whose sender did not authenticate
    UNREADABLE = 'unreadable'           # the mail cannot be parsed
    NOT_RECEIVING = 'not_receiving'     # the target model takes no such mail, or its alias is misconfigured
    CONTACT_POLICY = 'contact_policy'   # the alias's contact policy refuses the sender
    MODEL_RULE = 'model_rule'           # the target model's own rule refuses the mail
    RECORD_GONE = 'record_gone'         # the record chosen by hand was deleted


CAUSE_LABELS = {
    Cause.NO_ROUTE: 'No alias or thread',
    Cause.BAD_SIGNATURE: 'Wrong signature',
    Cause.UNKNOWN_SENDER: 'Unknown sender',
    Cause.UNAUTHENTICATED: 'Sender not authenticated',
    Cause.UNREADABLE: 'Unreadable mail',
    Cause.NOT_RECEIVING: 'Alias or model takes no mail',
    Cause.CONTACT_POLICY: 'Contact policy',
    Cause.MODEL_RULE: "The model's own rule",
    Cause.RECORD_GONE: 'Record deleted',
}

# What to do about a mail, by its cause, else by its outcome; nothing for mail posted
ALIASES = 'Settings > Mail Routing > Aliases'
ADVICE = {
    Cause.NO_ROUTE: f'Create the alias it was written to ({ALIASES}), or give the incoming mail server a default '
                    'model (Create a New Record), then press Retry; or Route to... the record it belongs to.',
    Cause.BAD_SIGNATURE: 'The address was altered or guessed: Discard the mail, or Route to... the record if you '
                         'trust the sender.',
    Cause.UNKNOWN_SENDER: 'If you know the sender, add them as a follower of the record and press Retry, or '
                          'Route to... the record; otherwise Discard it.',
    Cause.UNAUTHENTICATED: "The sender's domain did not vouch for this mail: it may be forged. Discard it, or "
                           'Route to... the record if you trust it.',
    Cause.UNREADABLE: 'Download the raw mail and open it in a mail client; ask the sender to send it again, '
                      'then Discard this copy.',
    Cause.NOT_RECEIVING: f'Fix the alias so that it makes records that take mail ({ALIASES}), then press '
                         'Retry; or Route to... a record.',
    Cause.CONTACT_POLICY: 'If the sender may write there, add them as a contact or a follower, or widen the '
                          f"alias's Accept Emails From ({ALIASES}), then press Retry; or Route to... the record.",
    Cause.MODEL_RULE: 'The model refuses such mail by a rule of its own: Route to... an existing record, or '
                      'Discard it.',
    Cause.RECORD_GONE: 'Route to... another record, or Discard it.',
}
OUTCOME_ADVICE = {
    Outcome.QUARANTINE: 'Fix the cause, then press Retry; or Route to... the record it belongs to, or Discard it.',
    Outcome.REFUSED: 'Fix the cause, then press Retry; or Route to... the record it belongs to, or Discard it.',
    Outcome.FAILED: 'Read the error, fix its cause, then press Retry; or Route to... another record.',
    Outcome.THROTTLED: 'If the sender is no robot, add their address to Settings > Mail Routing > Mail '
                       'Gateway Allowed, then press Route Again.',
    Outcome.BOUNCE: 'Nothing to do: a bounce marks the contact it bounced from. If a person wrote it, press '
                    'Route Again.',
    Outcome.LOOP: 'Nothing to do: mail from our own addresses, or answering our loop notices, is never routed.',
    Outcome.AUTO_REPLY: 'Nothing to do: an automatic reply that answers no thread is kept here, never posted '
                        'or answered. If a person wrote it, press Route Again.',
    Outcome.DUPLICATE: 'Nothing to do: its first copy was processed (search the log by its Message-ID).',
}


def advice(outcome: str, cause: str | None = None) -> str | None:
    """What an administrator can do about a mail of this outcome and cause; None when
    there is nothing to do (posted, or handled by hand)."""
    return ADVICE.get(cause) or OUTCOME_ADVICE.get(outcome)
