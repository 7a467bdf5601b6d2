"""Every outcome an incoming mail can have, in one vocabulary: the stages of the
routing chain (chain.STAGES), and what the pipeline adds around them. The routing
log's selection, the simulator and the ORM layer use these names, never bare strings.
"""
from enum import StrEnum


class Outcome(StrEnum):
    # decided by the chain
    IN_REPLY_TO = 'in_reply_to'
    REFERENCES = 'references'
    RECORD_ADDRESS = 'record_address'
    ALIAS = 'alias'
    CATCHALL_DEFAULT = 'catchall_default'
    QUARANTINE = 'quarantine'
    BOUNCE = 'bounce'
    LOOP = 'loop'
    AUTO_REPLY = 'auto_reply'
    # decided by the pipeline
    DUPLICATE = 'duplicate'     # the ledger has its Message-ID: processed before
    THROTTLED = 'throttled'     # the sender created too many records recently
    REFUSED = 'refused'         # the target refused it (alias contact policy, a model that takes no mail)
    FAILED = 'failed'           # processing raised: rolled back and quarantined
    # decided by an administrator
    MANUAL = 'manual'
    DISCARDED = 'discarded'


LABELS = {
    Outcome.IN_REPLY_TO: 'In-Reply-To',
    Outcome.REFERENCES: 'References',
    Outcome.ALIAS: 'Alias',
    Outcome.RECORD_ADDRESS: 'Record address (alias+id)',
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
ROUTED = frozenset({Outcome.IN_REPLY_TO, Outcome.REFERENCES, Outcome.RECORD_ADDRESS, Outcome.ALIAS,
                    Outcome.CATCHALL_DEFAULT, Outcome.MANUAL})
# kept in the quarantine, waiting for an administrator
QUARANTINED = frozenset({Outcome.QUARANTINE, Outcome.REFUSED, Outcome.FAILED})
