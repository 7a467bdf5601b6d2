"""An incoming mail, read once: its bytes parsed once (``read_mail``), and what
routing reads of its headers (``IncomingMail``), read once too.

The email package parses a header each time it is read: stock Odoo's parsing reads a
part's Content-Type dozens of times per mail. A mail parsed here keeps each parsed
header (``_ParsedOnce``), so routing, stock's parse and the attachments read the same
header objects, parsed once. Header objects are immutable: sharing them is safe.

An attachment is decoded from the parsed text at once (``binary_content``): the email
package first copies the text as bytes, splits those into lines and joins them again,
which held a 24 MB mail's attachment four times over (stock's payload extraction was the
peak of a large mail's processing, 5.5 times its size).
"""
import binascii
import contextlib
import hashlib
from dataclasses import dataclass
from email import policy
from email.contentmanager import ContentManager, raw_data_manager
from email.headerregistry import HeaderRegistry
from email.message import Message
from email.parser import BytesFeedParser, BytesHeaderParser

from .headers import decode_words, header_values, parse_addresses, parse_msgid_list, storable
from .hygiene import classify, null_return_path
from .outcome import MailKind

# References can list a whole thread; the newest ids are the last ones
# (RFC 5322 §3.6.4) and the lookup must stay one small query.
MAX_IDS = 32

SYNTHETIC_DOMAIN = 'mail-router.invalid'
# The parser is fed this much at a time: fed a whole 24 MB mail at once, the email package
# holds it as text and as lines at the same time (a peak of 7.7 times the mail's size,
# measured); fed by the megabyte, 2.8 times.
FEED_BYTES = 1 << 20


def binary_content(part: Message) -> bytes:
    """What ``part.get_content()`` gives for a non-text part (the email package's
    ``get_non_text_content``), decoded from the base64 text without copying it first.
    What binascii decodes (skipping line breaks and characters outside the alphabet, as
    the email package does) is the same bytes; the rest (bad padding, non-ASCII text,
    other encodings) the email package reads as before, with its repairs."""
    # Not get_payload(): it encodes the whole text once to check it for surrogates.
    payload = part._payload  # pylint: disable=protected-access
    if (isinstance(payload, str) and payload.isascii()
            and str(part.get('content-transfer-encoding', '')).lower() == 'base64'):
        with contextlib.suppress(binascii.Error):  # bad padding: the email package repairs it
            return binascii.a2b_base64(payload)
    return raw_data_manager.get_content(part)


def _content_manager() -> ContentManager:
    manager = ContentManager()
    manager.get_handlers.update(raw_data_manager.get_handlers)
    manager.set_handlers.update(raw_data_manager.set_handlers)
    for maintype in ('audio', 'image', 'video', 'application'):
        manager.add_get_handler(maintype, binary_content)
    return manager


CONTENT_MANAGER = _content_manager()


@dataclass(frozen=True)
class IncomingMail:
    """The headers of one incoming mail, as routing reads them."""
    message_id: str                 # '<...>'; synthetic when the mail has none
    message_id_synthetic: bool
    in_reply_to: tuple[str, ...]    # at most the first MAX_IDS
    references: tuple[str, ...]     # oldest first, at most the last MAX_IDS
    from_email: str                 # lowercase bare address, '' when there is none
    recipients: tuple[str, ...]     # Delivered-To, To, Cc: lowercase bare addresses
    to: tuple[str, ...]             # Delivered-To and To only: a forward is decided on these (stock: To > Cc)
    subject: str
    kind: MailKind | None           # bounce, auto-reply, list mail; None: a person wrote it to us
    authentication_results: tuple[str, ...] = ()  # RFC 8601 header values, topmost first
    null_return_path: bool = False  # Return-Path: <> asks for no answer at all (RFC 5321 §4.5.5)


class _ParsedOnce(HeaderRegistry):
    """A header registry that parses each (name, value) once per message."""

    def __init__(self):
        super().__init__()
        self._parsed = {}

    def __call__(self, name, value):
        key = (name.lower(), value)
        header = self._parsed.get(key)
        if header is None:
            header = self._parsed[key] = super().__call__(name, value)
        return header


def read_mail(raw: bytes) -> tuple[Message | None, IncomingMail, str | None]:
    """(parsed message, its IncomingMail, None), or, for bytes the email package
    cannot parse (MIME nested past the recursion limit...), (None, the
    IncomingMail of its headers alone, why it failed). Never raises."""
    try:
        parser = BytesFeedParser(policy=policy.SMTP.clone(header_factory=_ParsedOnce(),
                                                           content_manager=CONTENT_MANAGER))
        for start in range(0, len(raw), FEED_BYTES):
            parser.feed(raw[start:start + FEED_BYTES])
        message = parser.close()
        return message, incoming_mail(message, raw), None
    except Exception as exc:  # whatever the parser chokes on, the mail is still kept
        error = storable(f'{type(exc).__name__}: {exc}')
    try:
        # compat32 keeps header values as text: reading them cannot raise (a Content-Type
        # decoding to a lone surrogate makes the SMTP policy raise on the headers too)
        headers = BytesHeaderParser(policy=policy.compat32).parsebytes(raw)
    except Exception:  # not even the headers: the mail is known by its bytes
        headers = Message()
    return None, incoming_mail(headers, raw), error


def incoming_mail(msg: Message, raw: bytes) -> IncomingMail:
    """The routing view of a parsed message; `raw` is the mail as received."""
    message_ids = _msgid_header(msg, 'Message-ID')
    from_email = next(iter(parse_addresses(*header_values(msg, 'From'))), '')
    to = parse_addresses(*header_values(msg, 'Delivered-To'), *header_values(msg, 'To'))
    recipients = parse_addresses(*to, *header_values(msg, 'Cc'))
    subjects = header_values(msg, 'Subject')
    return IncomingMail(
        message_id=message_ids[0] if message_ids else synthetic_message_id(raw),
        message_id_synthetic=not message_ids,
        in_reply_to=_msgid_header(msg, 'In-Reply-To')[:MAX_IDS],
        references=_msgid_header(msg, 'References')[-MAX_IDS:],
        from_email=from_email,
        recipients=recipients,
        to=to,
        subject=storable(' '.join(decode_words(subjects[0]).split())) if subjects else '',
        kind=classify(msg, from_email, recipients),
        authentication_results=tuple(map(storable, header_values(msg, 'Authentication-Results'))),
        null_return_path=null_return_path(msg),
    )


def _msgid_header(msg: Message, name: str) -> tuple[str, ...]:
    # Some senders (Python's email package among them) fold a long id into
    # encoded words; no id contains '=?', so decoding first loses nothing.
    return parse_msgid_list(*map(decode_words, header_values(msg, name)))


def synthetic_message_id(raw: bytes) -> str:
    """A Message-ID for a mail without one: the same bytes always get the same id,
    so a mail fetched twice is still recognised as a duplicate."""
    return f'<{hashlib.sha256(raw).hexdigest()[:32]}@{SYNTHETIC_DOMAIN}>'
