"""Tell bounces, auto-replies and mail loops from mail that a person wrote.

A bounce must never become a reply or a new record, and an auto-reply must
never create a record nor be answered: either could start a mail loop.
"""
import re
from collections.abc import Collection, Sequence
from email.message import Message

from .headers import base_address, header_values, split_address
from .outcome import MAIL_KIND_LABELS, MailKind

BOUNCE_SENDERS = frozenset({'mailer-daemon', 'postmaster'})
AUTO_REPLY_PRECEDENCE = 'auto_reply'
LIST_PRECEDENCE = frozenset({'bulk', 'junk', 'list'})
AUTO_REPLY_HEADERS = ('X-Autoreply', 'X-Autorespond')
LIST_HEADERS = ('List-Id', 'List-Post', 'List-Unsubscribe')
# stock's loop-detection notice (mail.thread._detect_loop_sender) carries this in its
# References; an answer to it must never be routed
LOOP_DETECTION_TAG = '-loop-detection-bounce-email@'

_REPORT_TYPE = re.compile(r';\s*report-type\s*=\s*"?([\w.-]+)', re.IGNORECASE)


def classify(msg: Message, from_email: str, recipients: Sequence[str],
             bounce_addresses: Collection[str] = ()) -> MailKind | None:
    """BOUNCE for a delivery status notification, AUTO_REPLY for other
    auto-generated mail (RFC 3834 Auto-Submitted, X-Autoreply, read receipts),
    LIST for mail relayed by a list or sent in bulk, None for other mail."""
    report_type = _report_type(msg)
    if (report_type == 'delivery-status'
            or split_address(from_email)[0] in BOUNCE_SENDERS
            or bounce_recipient(recipients, bounce_addresses) is not None):
        return MailKind.BOUNCE
    if (report_type == 'disposition-notification'  # read receipt
            or _keyword(msg, 'Auto-Submitted') not in ('', 'no')
            or _keyword(msg, 'Precedence') == AUTO_REPLY_PRECEDENCE
            or any(header_values(msg, name) for name in AUTO_REPLY_HEADERS)):
        return MailKind.AUTO_REPLY
    if (_keyword(msg, 'Precedence') in LIST_PRECEDENCE
            or any(header_values(msg, name) for name in LIST_HEADERS)):
        return MailKind.LIST
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


def null_return_path(msg: Message) -> bool:
    """Whether the Return-Path is null (<>): the sender asks for no answer at all."""
    return any(value.strip() == '<>' for value in header_values(msg, 'Return-Path'))


def answers_loop_notice(message_ids: Sequence[str]) -> bool:
    """Whether these In-Reply-To and References ids answer our loop-detection notice."""
    return any(LOOP_DETECTION_TAG in message_id for message_id in message_ids)


def bounce_refusal(from_email: str, kind: MailKind | None, null_return: bool) -> str | None:
    """Why no bounce may be sent about a mail, None when one may: never to mail
    without a sender, to automatic or list mail (RFC 3834 §2), nor when the
    Return-Path is null, which asks for no answer at all (RFC 5321 §4.5.5)."""
    if not from_email:
        return 'it has no From address'
    if kind is not None:
        return f'it is {MAIL_KIND_LABELS[kind]}'
    if null_return:
        return 'its Return-Path is null (<>)'
    return None
