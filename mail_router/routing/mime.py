"""Make a parsed mail readable by code that trusts its declared charsets.

A part that declares a charset Python does not know (``X-UNKNOWN``, typos) makes
``EmailMessage.get_content()`` raise LookupError, and stock Odoo's parsing with it:
the mail would never be posted. Such a part is re-labelled with the charset its
bytes really decode with: UTF-8 when they are valid UTF-8, else Latin-1, which
reads any byte, so no text is lost.

A header whose decoded text is not valid Unicode (an encoded word in a codec such
as ``unicode-escape`` yielding a lone surrogate) makes every read of it raise:
such a header is replaced by its text as ``headers`` reads it, made storable.
"""
import codecs
from email.message import Message

from .headers import decode_words, header_values, storable


def repair_unknown_charsets(msg: Message) -> tuple[str, ...]:
    """Re-label, in place, the text parts of ``msg`` whose charset Python does not
    know; return the charsets replaced (empty when there was none)."""
    replaced = []
    for part in msg.walk():
        charset = part.get_content_charset()
        if part.get_content_maintype() != 'text' or charset is None or _known(charset):
            continue
        payload = part.get_payload(decode=True) or b''
        part.set_param('charset', 'utf-8' if _decodes(payload, 'utf-8') else 'latin-1')
        replaced.append(charset)
    return tuple(replaced)


def _known(charset: str) -> bool:
    try:
        codecs.lookup(charset)
    except LookupError:
        return False
    return True


def _decodes(payload: bytes, charset: str) -> bool:
    try:
        payload.decode(charset)
    except UnicodeDecodeError:
        return False
    return True


def repair_unreadable_headers(msg: Message) -> tuple[str, ...]:
    """Replace, in place, the headers of ``msg`` that its policy cannot read;
    return their names (empty when there was none)."""
    unreadable = []
    for name, value in msg.raw_items():
        try:
            str(msg.policy.header_fetch_parse(name, value))
        except Exception:  # whatever the email package raises on it, the header is rewritten
            unreadable.append(name)
    for name in dict.fromkeys(unreadable):
        texts = [storable(decode_words(text)) for text in header_values(msg, name)]
        del msg[name]
        for text in texts:
            msg.set_raw(name, text)  # as parsed: no policy check of how many a mail may hold
    return tuple(unreadable)
