"""Make a parsed mail readable by code that trusts its declared charsets and types.

A part that declares a charset Python cannot decode text with (``X-UNKNOWN``, typos,
8-bit bytes, ``base64``) makes ``EmailMessage.get_content()`` raise LookupError, and
stock Odoo's parsing with it: the mail would never be posted. Such a part is
re-labelled with the charset its bytes really decode with: UTF-8 when they are valid
UTF-8, else Latin-1, which reads any byte, so no text is lost. A part of a type the
email package has no reader for (``font/woff2``, ``/``) makes it raise KeyError: it is
re-labelled ``application/octet-stream``, as stock does for ``binary/octet-stream``. A
multipart in which the parser found no part (its boundary missing or never used) holds
its text as one text/plain part: stock skips multiparts, so the text would be lost, and
its bounce parsing takes the first part of a multipart/report without one and raises.

A header whose decoded text is not valid Unicode (an encoded word in a codec such
as ``unicode-escape`` yielding a lone surrogate) makes every read of it raise:
such a header is replaced by its text as ``headers`` reads it, made storable; when
the email package cannot parse even that, by the addresses or the id that routing
reads in it. So is a header that reads as text PostgreSQL cannot store (a NUL):
stock's parsing looks up records by In-Reply-To, References and the addresses, and
the query would fail. In every part, not only the mail's own headers: stock reads
the file name of each attachment.
"""
from email import headerregistry
from email.message import Message, MIMEPart

from .headers import decode_words, header_values, parse_addresses, parse_msgid_list, storable

OCTET_STREAM = 'application/octet-stream'


def make_readable(msg: Message) -> None:
    """Every repair of this module, in place: what stock Odoo's parsing reads of ``msg``
    afterwards no longer raises."""
    repair_unreadable_headers(msg)
    repair_unknown_charsets(msg)
    repair_unknown_content_types(msg)
    repair_multiparts_without_parts(msg)


def repair_unknown_charsets(msg: Message) -> tuple[str, ...]:
    """Re-label, in place, the text parts of ``msg`` whose charset Python does not
    know; return the charsets replaced (empty when there was none)."""
    replaced = []
    for part in msg.walk():
        # As get_content() reads it: get_content_charset() says None for a non-ASCII one.
        charset = part.get_param('charset')
        if part.get_content_maintype() != 'text' or charset is None or _known(str(charset)):
            continue
        payload = part.get_payload(decode=True) or b''
        part.del_param('charset')  # set_param leaves a 'charset' without value in place
        part.set_param('charset', 'utf-8' if _decodes(payload, 'utf-8') else 'latin-1')
        replaced.append(str(charset).lower())
    return tuple(replaced)


def repair_unknown_content_types(msg: Message) -> tuple[str, ...]:
    """Re-label as application/octet-stream, in place, the parts of ``msg`` whose type
    get_content() has no reader for; return the types replaced (empty when there was none)."""
    readers = msg.policy.content_manager.get_handlers
    replaced = []
    for part in msg.walk():
        content_type = part.get_content_type()
        if part.get_content_maintype() == 'multipart' or {content_type, part.get_content_maintype()} & readers.keys():
            continue
        part.set_type(OCTET_STREAM)
        replaced.append(content_type)
    return tuple(replaced)


def repair_multiparts_without_parts(msg: Message) -> int:
    """Give, in place, each multipart of ``msg`` that holds text instead of parts that
    text as its one text/plain part; return how many there were."""
    partless = [part for part in msg.walk() if part.get_content_maintype() == 'multipart' and not part.is_multipart()]
    for multipart in partless:
        text = MIMEPart(policy=msg.policy)
        # The bytes received (the parser keeps 8-bit ones as surrogate escapes), read as
        # UTF-8: set_content() then picks a transfer encoding that writes them out again.
        received = (multipart.get_payload() or '').encode('utf-8', 'surrogateescape')
        text.set_content(received.decode('utf-8', 'replace'))
        multipart.set_payload([text])
    return len(partless)


def _known(charset: str) -> bool:
    # As get_content() decodes. Not codecs.lookup(): 'base64' and 'rot13' are codecs, but
    # not of bytes to text; and not b'': empty bytes decode with any name.
    try:
        b'x'.decode(charset, 'replace')
    except Exception:  # LookupError, mostly: whatever the codec raises, get_content() would too
        return False
    return True


def _decodes(payload: bytes, charset: str) -> bool:
    try:
        payload.decode(charset)
    except UnicodeDecodeError:
        return False
    return True


def repair_unreadable_headers(msg: Message) -> tuple[str, ...]:
    """Replace, in place, the headers of ``msg`` and of its parts that the policy cannot
    read, or reads as text that cannot be stored; return their names (empty when there
    was none)."""
    return tuple(name for part in msg.walk() for name in _repair_headers(part))


def _repair_headers(part: Message) -> tuple[str, ...]:
    unreadable = tuple(dict.fromkeys(name for name, value in part.raw_items() if not _readable(part, name, value)))
    for name in unreadable:
        texts = header_values(part, name)
        del part[name]
        for header in filter(None, (_replacement(part, name, text) for text in texts)):
            part.set_raw(name, header)  # as parsed: no policy check of how many a mail may hold
    return unreadable


def _readable(part: Message, name: str, value: str) -> bool:
    if _plain_text(part, name, value):
        return True
    try:
        text = str(part.policy.header_fetch_parse(name, value))
    except Exception:  # whatever the email package raises on it
        return False
    return storable(text) == text


def _plain_text(part: Message, name: str, value: str) -> bool:
    """Whether ``value`` is plain ASCII in a header of free text (Received, X-..., DKIM-...,
    most of a mail's headers): nothing in it for the policy to decode or parse, so it is
    readable without parsing it."""
    # the registry's class for the name, not header_factory[name]: that makes a new class each time
    factory = part.policy.header_factory
    kind = factory.registry.get(name.lower(), factory.default_class)
    return (value.isascii() and '=?' not in value and '\x00' not in value
            and issubclass(kind, headerregistry.UnstructuredHeader))


def _replacement(part: Message, name: str, text: str):
    """The first readable form of ``text`` that can be written out again, as a parsed
    header (that folds into encoded words: stock writes attached messages out as bytes);
    None when there is none, and the header goes: not even routing reads anything in it."""
    for form in _readable_forms(part, name, text):
        try:
            header = part.policy.header_factory(name, form)
            header.fold(policy=part.policy)
        except Exception:  # whatever the email package raises on it, the next form is tried
            continue
        if storable(str(header)) == str(header):
            return header
    return None


def _readable_forms(part: Message, name: str, text: str):
    """What may stand for an unreadable header, best first: its text, decoded and made
    storable; the addresses or the first id routing reads in it (the email package's
    parsers raise IndexError on some text that they should only flag as a defect)."""
    yield storable(decode_words(text))
    kind = part.policy.header_factory[name]
    if issubclass(kind, headerregistry.AddressHeader):
        yield ', '.join(parse_addresses(text))
    elif issubclass(kind, headerregistry.MessageIDHeader):
        yield ' '.join(parse_msgid_list(text)[:1])
