"""Unknown charsets: the parts become readable, and nothing of their text is lost."""
import email
from email import policy

import pytest

from routing.mime import repair_unknown_charsets


def mail(charset: str, body: bytes) -> email.message.EmailMessage:
    raw = (b'From: a@example.com\r\nTo: b@example.com\r\nSubject: x\r\nMIME-Version: 1.0\r\n'
           b'Content-Type: text/plain; charset=' + charset.encode() + b'\r\n'
           b'Content-Transfer-Encoding: 8bit\r\n\r\n' + body)
    return email.message_from_bytes(raw, policy=policy.SMTP)


@pytest.mark.parametrize(('body', 'relabelled', 'text'), [
    ('Caf\u00e9'.encode(), 'utf-8', 'Caf\u00e9'),
    (b'Caf\xe9 \xff', 'latin-1', 'Caf\u00e9 \u00ff'),
])
def test_unknown_charset_is_relabelled_with_what_the_bytes_decode_with(body, relabelled, text):
    msg = mail('X-UNKNOWN', body)
    with pytest.raises(LookupError):
        msg.get_content()
    assert repair_unknown_charsets(msg) == ('x-unknown',)
    assert msg.get_content_charset() == relabelled
    assert msg.get_content().rstrip() == text


def test_known_charsets_are_left_alone():
    msg = mail('iso-8859-1', b'Caf\xe9')
    assert repair_unknown_charsets(msg) == ()
    assert msg.get_content_charset() == 'iso-8859-1'
