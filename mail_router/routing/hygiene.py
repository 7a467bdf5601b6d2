"""Tell bounces, auto-replies and mail loops from mail that a person wrote.

A bounce must never become a reply or a new record, and an auto-reply must
never create a record nor be answered: either could start a mail loop.
"""
import re
from collections.abc import Collection, Sequence
from email.message import Message

from .headers import base_address, header_values, split_address

BOUNCE_SENDERS = frozenset({'mailer-daemon', 'postmaster'})
AUTO_PRECEDENCE = frozenset({'bulk', 'junk', 'list', 'auto_reply'})
AUTO_REPLY_HEADERS = ('X-Autoreply', 'X-Autorespond')

_REPORT_TYPE = re.compile(r';\s*report-type\s*=\s*"?([\w.-]+)', re.IGNORECASE)


def classify(msg: Message, from_email: str, recipients: Sequence[str],
             bounce_addresses: Collection[str] = ()) -> str | None:
    """'bounce' for a delivery status notification, 'auto_reply' for other
    auto-generated mail, None for mail that a person wrote."""
    report_type = _report_type(msg)
    if (report_type == 'delivery-status'
            or split_address(from_email)[0] in BOUNCE_SENDERS
            or bounce_recipient(recipients, bounce_addresses) is not None):
        return 'bounce'
    if (report_type == 'disposition-notification'  # read receipt
            or _keyword(msg, 'Auto-Submitted') not in ('', 'no')
            or _keyword(msg, 'Precedence') in AUTO_PRECEDENCE
            or any(header_values(msg, name) for name in AUTO_REPLY_HEADERS)):
        return 'auto_reply'
    return None


def bounce_recipient(recipients: Sequence[str], bounce_addresses: Collection[str]) -> str | None:
    """The first recipient that is a bounce address, or its VERP form
    'bounce+anything@domain'; None when there is none."""
    bounces = {base_address(address) for address in bounce_addresses}
    return next((rcpt for rcpt in recipients if base_address(rcpt) in bounces), None)


def is_loop(from_email: str, loop_addresses: Collection[str]) -> bool:
    """Whether the mail comes from one of our own catchall, bounce or default
    From addresses: routing it could answer ourselves forever."""
    return bool(from_email) and from_email.lower() in {a.lower() for a in loop_addresses}


def _report_type(msg: Message) -> str | None:
    """The report-type of a multipart/report mail (RFC 6522), None for other mail."""
    content_type = next(iter(header_values(msg, 'Content-Type')), '')
    if content_type.partition(';')[0].strip().lower() != 'multipart/report':
        return None
    found = _REPORT_TYPE.search(content_type)
    return found[1].lower() if found else None


def _keyword(msg: Message, name: str) -> str:
    """The first value of header `name` without its comment, lowercase:
    'auto-generated (failure)' -> 'auto-generated'; '' when absent."""
    value = next(iter(header_values(msg, name)), '')
    return value.partition('(')[0].strip().lower()
