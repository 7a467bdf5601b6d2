"""Message-IDs and plus-address tags that name a record, signed so that they
cannot be guessed.

Knowing an id that Odoo stored means having received that mail, so a reply
quoting it may route. What must be impossible is *making up* an id or an
address that routes to a record: both carry an HMAC-SHA256 under a per-database
secret, checked in constant time. Everything signed is lowercase hex and
digits, and ids are lowercased before they are read, because mail servers and
clients change case.

    Message-ID   <purchase.order-123-1702500000-3f9a1c0b7e-9c1e4b7a2d3f8e60@example.com>
                  model          id  unix time  nonce      signature        domain
    plus address purchase+123-5b0e8d2c41f7a9e3@example.com                 (an alias of the model)
                 catchall+purchase.order-123-5b0e8d2c41f7a9e3@example.com  (a model without alias)

The domain is not signed: an alias domain may be renamed and replies to older
mail must still route. The purpose ('msgid:' or 'plus:') is signed, so a
Message-ID signature is never a valid plus-address tag.
"""
import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass, field

MODEL_PATTERN = r'[a-z][a-z0-9_]*(?:\.[a-z0-9_]+)*'
NONCE_HEX = 10       # two ids for one record in the same second differ
SIGNATURE_HEX = 16   # 64 bits: far beyond what guessing by sending mail can reach

_MESSAGE_ID = re.compile(
    rf'<(?P<body>(?P<model>{MODEL_PATTERN})-(?P<res_id>[1-9][0-9]*)'
    rf'-(?:0|[1-9][0-9]*)-[0-9a-f]{{{NONCE_HEX}}})'
    rf'-(?P<signature>[0-9a-f]{{{SIGNATURE_HEX}}})@[^<>@\s]+>')
_PLUS_TAG = re.compile(rf'(?P<res_id>[1-9][0-9]*)(?:-(?P<signature>[0-9a-f]{{{SIGNATURE_HEX}}}))?')
_CATCHALL_TAG = re.compile(
    rf'(?P<model>{MODEL_PATTERN})-(?P<res_id>[1-9][0-9]*)-(?P<signature>[0-9a-f]{{{SIGNATURE_HEX}}})')


@dataclass(frozen=True)
class MessageIdCodec:
    """Makes and reads the signed ids and tags of one database."""
    secret: bytes = field(repr=False)

    def __post_init__(self):
        if not self.secret:
            raise ValueError('an empty secret would let anyone sign ids')

    def encode(self, model: str, res_id: int, domain: str, *,
               timestamp: int | None = None, nonce: str | None = None) -> str:
        """A new Message-ID for a message posted on record `res_id` of `model`."""
        timestamp = int(time.time()) if timestamp is None else timestamp
        nonce = secrets.token_hex(NONCE_HEX // 2) if nonce is None else nonce
        body = f'{model}-{res_id}-{timestamp}-{nonce}'
        message_id = f'<{body}-{self._sign("msgid", body)}@{domain}>'
        # Refuse what decode() would not read back: upper case, id 0, a '-' in the model...
        if self.decode(message_id) != (model, res_id):
            raise ValueError(f'cannot encode {model!r}, {res_id!r}, {domain!r}, {timestamp!r}, {nonce!r}')
        return message_id

    def decode(self, message_id: str) -> tuple[str, int] | None:
        """(model, res_id) of a validly signed id of our form, else None."""
        match = _MESSAGE_ID.fullmatch(message_id.strip().lower())
        if match is None or not self._verify('msgid', match['body'], match['signature']):
            return None
        return match['model'], int(match['res_id'])

    def is_own_form(self, message_id: str) -> bool:
        """Whether the id has our shape, whatever its signature."""
        return _MESSAGE_ID.fullmatch(message_id.strip().lower()) is not None

    def sign_record(self, model: str, res_id: int) -> str:
        """The signature that a plus address of record `res_id` of `model` carries."""
        return self._sign('plus', f'{model}-{res_id}')

    def check_record(self, model: str, res_id: int, signature: str) -> bool:
        """Whether `signature` (the part after '<res_id>-' in a plus tag) is valid."""
        return self._verify('plus', f'{model}-{res_id}', signature)

    def record_address_tag(self, model: str, res_id: int) -> str:
        """The plus tag of a record address on an alias of `model`: 'alias+<this>@domain'."""
        return f'{res_id}-{self.sign_record(model, res_id)}'

    def catchall_address_tag(self, model: str, res_id: int) -> str:
        """The plus tag of a record address on the catchall, for a model without an
        alias: 'catchall+<this>@domain'; the model is named, and signed with the id."""
        return f'{model}-{self.record_address_tag(model, res_id)}'

    def _sign(self, purpose: str, body: str) -> str:
        digest = hmac.new(self.secret, f'{purpose}:{body}'.encode(), hashlib.sha256)
        return digest.hexdigest()[:SIGNATURE_HEX]

    def _verify(self, purpose: str, body: str, signature: str) -> bool:
        # Bytes, so that any text compares (in constant time) instead of raising.
        return hmac.compare_digest(self._sign(purpose, body).encode(),
                                   signature.lower().encode('utf-8', 'replace'))


def parse_catchall_tag(tag: str) -> tuple[str, int, str] | None:
    """(model, res_id, signature) of a catchall record tag 'purchase.order-123-<signature>';
    None for any other tag."""
    match = _CATCHALL_TAG.fullmatch(tag.strip().lower())
    return (match['model'], int(match['res_id']), match['signature']) if match else None


def parse_plus_tag(tag: str) -> tuple[int, str | None] | None:
    """(res_id, signature or None) of a record tag '123' or '123-<signature>';
    None for any other tag ('promo', '12abc')."""
    match = _PLUS_TAG.fullmatch(tag.strip().lower())
    return (int(match['res_id']), match['signature']) if match else None
