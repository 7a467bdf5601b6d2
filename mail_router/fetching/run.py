"""What one fetch of one mailbox did, as a value: the drain's Report, with the
server it fetched, and why it failed or did not run. Fetch Now, Run Manually, the
scheduled action and the server's Health tab all read this, never a reconstruction.
"""
from dataclasses import dataclass

from .drain import Report

# What the receiver says of a processed mail (Receiver.receive), counted here.
ROUTED = 'routed'
QUARANTINED = 'quarantined'


@dataclass(frozen=True)
class FetchRun:
    server_id: int
    fetched: int = 0        # processed and committed (routed, quarantined, or handled: bounces, duplicates...)
    routed: int = 0         # of which posted on a record
    quarantined: int = 0    # of which kept in the quarantine
    left: int = 0           # left on the mail server, neither flagged nor deleted
    more: bool = False      # the budget ran out with mail left: the next run goes on at once
    waiting: int = 0        # how many messages were left for it
    error: str = ''         # the fetch failed: why, in words an administrator can act on
    skipped: bool = False   # another process was fetching this mailbox: nothing done

    @classmethod
    def of(cls, server_id: int, report: Report) -> 'FetchRun':
        return cls(server_id, fetched=report.received, routed=report.outcomes[ROUTED],
                   quarantined=report.outcomes[QUARANTINED], left=report.left, more=report.more,
                   waiting=report.waiting)

    @property
    def severity(self) -> str:
        """'danger' for a failure, 'warning' when something needs a look, else 'success'."""
        if self.error:
            return 'danger'
        if self.skipped or self.more or self.quarantined or self.left:
            return 'warning'
        return 'success'


def worst(severities) -> str:
    """The most severe of `severities` (FetchRun.severity values)."""
    severities = set(severities)
    return next((severity for severity in ('danger', 'warning') if severity in severities), 'success')
