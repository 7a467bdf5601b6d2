"""Read header values robustly: message ids, addresses, encoded words, as plain data.

Incoming mail is often broken: folded or truncated References, ids without
angle brackets, raw 8-bit bytes, encoded words in unknown charsets. Every
function here accepts anything and never raises; what cannot be read is left
out. Headers are read from their source text (``Message.raw_items``), so the
result is the same whichever ``email.policy`` parsed the message.

Every value is storable: PostgreSQL text holds no NUL and UTF-8 encodes no
lone surrogate, so ``storable`` replaces both by U+FFFD, visibly. Ids and
addresses, kept in indexed columns, are bounded: an id longer than an RFC 5322
line or an address longer than RFC 5321 allows names nothing and is left out.
"""
import binascii
import contextlib
import re
from collections.abc import Iterator
from email.message import Message

# RFC 5322 §2.1.1: a line is at most 998 characters; a longer id is no id. In
# bytes, so that the btree index of any column holding it accepts it.
MAX_ID_BYTES = 998
# RFC 5321 §4.5.3.1: a path is at most 256 octets, brackets included.
MAX_ADDRESS_LENGTH = 254


def parse_msgid_list(*values: str | None) -> tuple[str, ...]:
    """Every message id in the header values, in order, each once, as '<...>'.

    Whitespace inside brackets is folding and is removed; a bare 'abc@host'
    counts as an id; comments and quoted strings are skipped. Case is kept:
    ids are looked up exactly. An id that cannot be stored as it is (control
    characters, lone surrogates, longer than MAX_ID_BYTES) is left out.
    """
    ids = []
    for value in values:
        for kind, text in _lexemes(value or ''):
            if kind == 'angle' and (msgid := _WHITESPACE.sub('', text)) != '<>':
                ids.append(msgid)
            elif kind == 'word' and '@' in text[1:-1]:  # a bare 'abc@host'
                ids.append(f'<{text}>')
    return tuple(dict.fromkeys(filter(_storable_id, ids)))


def storable(text: str) -> str:
    """``text`` with what PostgreSQL cannot store (NUL, lone surrogates)
    replaced by U+FFFD."""
    return _UNSTORABLE.sub('\ufffd', text)


def storable_values(value):
    """``value`` (str, or dicts, lists and tuples of them, as stock's message
    dict) with every string made ``storable``; other values as they are."""
    if isinstance(value, str):
        # a str subclass (stock's body is Markup) keeps its type: it says how to render it
        return type(value)(storable(value)) if _UNSTORABLE.search(value) else value
    if isinstance(value, dict):
        return {key: storable_values(item) for key, item in value.items()}
    if isinstance(value, tuple) and hasattr(value, '_fields'):  # stock's Attachment
        return type(value)(*map(storable_values, value))
    if isinstance(value, list | tuple):
        return type(value)(map(storable_values, value))
    return value


def parse_addresses(*values: str | None) -> tuple[str, ...]:
    """The bare addresses in address header values, lowercase, each once, in order.

    In each comma-separated item the address in angle brackets wins; items
    without brackets give every bare word that looks like an address, which
    also reads 'a@x b@y' (a missing comma) as two addresses.
    """
    found = []
    for value in values:
        for bracketed, words in _mailboxes(value or ''):
            found += filter(None, map(_bare_address, bracketed or words))
    return tuple(dict.fromkeys(found))


def split_address(email: str) -> tuple[str, str | None, str]:
    """(local part without its +tag, the tag or None, domain), lowercase."""
    local, at, domain = email.strip().lower().rpartition('@')
    if not at:
        local, domain = domain, ''
    base, _plus, tag = local.partition('+')
    return base, tag or None, domain


def base_address(email: str) -> str:
    """The address without its plus tag: 'purchase+123@x.com' -> 'purchase@x.com'."""
    local, _tag, domain = split_address(email)
    return f'{local}@{domain}'


def header_values(msg: Message, name: str) -> list[str]:
    """Every value of header `name`, unfolded, as text. Raw 8-bit bytes are read
    as UTF-8 (RFC 6532) or else Latin-1; encoded words are left as they are."""
    name = name.lower()
    return [_LINE_BREAKS.sub('', _source_text(value))
            for key, value in msg.raw_items() if key.lower() == name]


def decode_words(text: str) -> str:
    """`text` with its RFC 2047 encoded words decoded, as well as they can be."""
    return _ENCODED_WORD.sub(_decode_word, _BETWEEN_ENCODED_WORDS.sub('', text))


# One lexeme of a structured header (RFC 5322 §3.2). Quoted strings and
# comments may hold anything, so they are recognised first and never yield an
# id or an address. An unclosed '<' matches nothing and is skipped, so what
# follows it is read as bare words.
_LEXEME = re.compile(r'''
      (?P<quoted> "(?:\\.|[^"\\])*"? )
    | (?P<angle>  <[^<>]*> )
    | (?P<open>   \( )
    | (?P<close>  \) )
    | (?P<sep>    [,;:] )
    | (?P<word>   (?:\\\S|[^\s"<>(),;:\\])+ )
''', re.VERBOSE | re.DOTALL)
_COMMENT = re.compile(r'\([^()]*\)')
# An addr-spec without quoted local part (those are too rare to be worth it).
_ADDR_SPEC = re.compile(r'[^\s<>(),;:"\\@]+@[^\s<>(),;:"\\@]+')
_WHITESPACE = re.compile(r'\s+')
_UNSTORABLE = re.compile('[\x00\ud800-\udfff]')
_CONTROL = re.compile('[\x00-\x1f\x7f\ud800-\udfff]')
_LINE_BREAKS = re.compile(r'[\r\n]+')
_ENCODED_WORD = re.compile(r'=\?([^?\s]*)\?([bBqQ])\?([^?\s]*)\?=')
# RFC 2047 §6.2: whitespace between two encoded words is not part of the text.
_BETWEEN_ENCODED_WORDS = re.compile(r'(?<=\?=)\s+(?==\?)')


def _lexemes(value: str) -> Iterator[tuple[str, str]]:
    """(kind, text) of each lexeme outside comments; comments nest."""
    depth = 0
    for match in _LEXEME.finditer(value):
        kind = match.lastgroup
        if kind == 'open':
            depth += 1
        elif kind == 'close':
            depth = max(depth - 1, 0)
        elif depth == 0:
            yield kind, match.group()


def _mailboxes(value: str) -> Iterator[tuple[list[str], list[str]]]:
    """(bracketed parts, bare words) of each item between ',' ';' or ':'
    (':' ends a group name)."""
    bracketed, words = [], []
    for kind, text in _lexemes(value):
        if kind == 'sep':
            yield bracketed, words
            bracketed, words = [], []
        elif kind == 'angle':
            bracketed.append(text[1:-1])
        elif kind == 'word':
            words.append(text)
    yield bracketed, words


def _bare_address(text: str) -> str | None:
    # A bracketed address may still hold comments, folding and an obsolete
    # source route ('@relay:user@host').
    address = _WHITESPACE.sub('', _COMMENT.sub('', text)).rpartition(':')[2].lower()
    if len(address) > MAX_ADDRESS_LENGTH or _CONTROL.search(address):
        return None
    return address if _ADDR_SPEC.fullmatch(address) else None


def _storable_id(msgid: str) -> bool:
    return not _CONTROL.search(msgid) and len(msgid.encode('utf-8')) <= MAX_ID_BYTES


def _source_text(value: object) -> str:
    # The parser keeps undecodable bytes as surrogate escapes: get them back.
    text = str(value)
    try:
        return _decode_bytes(text.encode('utf-8', 'surrogateescape'))
    except UnicodeEncodeError:  # a lone surrogate that is no escaped byte
        return text.encode('utf-8', 'replace').decode('utf-8')


def _decode_word(match: re.Match) -> str:
    charset, encoding, payload = match.groups()
    data = payload.encode('ascii', 'ignore')
    if encoding in 'qQ':
        data = binascii.a2b_qp(data, header=True)
    else:
        try:  # senders often drop the padding
            data = binascii.a2b_base64(data + b'=' * (-len(data) % 4))
        except binascii.Error:
            return match.group()
    return _decode_bytes(data, charset.partition('*')[0])  # 'utf-8*en': RFC 2231 language


def _decode_bytes(data: bytes, charset: str | None = None) -> str:
    """Text from bytes whose declared charset may be wrong or unknown to Python."""
    for codec in (charset, 'utf-8'):
        if codec:
            with contextlib.suppress(LookupError, ValueError):  # unknown codec; bytes not in that charset
                return data.decode(codec)
    return data.decode('latin-1')  # every byte is a Latin-1 character
