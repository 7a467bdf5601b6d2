"""One vocabulary for incoming mail: what became of it (Outcome), what kind of mail it
is (MailKind), where a quarantined mail stands (QuarantineState). The routing log's
and the quarantine's selections, the simulator and the ORM layer use these names,
never bare strings.
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


LABELS = {
    Outcome.IN_REPLY_TO: 'In-Reply-To',
    Outcome.REFERENCES: 'References',
    Outcome.ALIAS: 'Alias',
    Outcome.RECORD_ADDRESS: 'Record address (alias+id)',
    Outcome.SUBJECT_REFERENCE: 'Reference in the Subject',
    Outcome.CATCHALL_DEFAULT: 'Catchall: default model',
    Outcome.QUARANTINE: 'Quarantine',
    Outcome.REFUSED: 'Refused by the target',
    Outcome.FAILED: 'Processing failed',
    Outcome.BOUNCE: 'Bounce',
    Outcome.DUPLICATE: 'Duplicate',
    Outcome.LOOP: 'Loop',
    Outcome.AUTO_REPLY: 'Auto-reply dropped',
    Outcome.THROTTLED: 'Throttled',
    Outcome.MANUAL: 'Routed by hand',
    Outcome.DISCARDED: 'Discarded by hand',
}
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
