"""Unknown charsets and types, unreadable headers, multiparts without parts: the parts
become readable, and nothing of their text is lost. Most cases were found by make fuzz."""
import email
from email import policy

import pytest

from routing.mime import (
    make_readable,
    repair_multiparts_without_parts,
    repair_unknown_charsets,
    repair_unknown_content_types,
    repair_unreadable_headers,
)


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


def test_a_header_holding_a_nul_is_rewritten_storable():
    # found by make fuzz: stock's parsing looked the raw values up and PostgreSQL refused the NUL
    raw = (b'From: a@example.com\r\nIn-Reply-To: <id@example.com>\x00\r\nCc: b\x00c@example.com\r\n'
           b'Subject: fine\r\n\r\nbody\r\n')
    msg = email.message_from_bytes(raw, policy=policy.SMTP)
    assert repair_unreadable_headers(msg) == ('In-Reply-To', 'Cc')
    assert (msg['In-Reply-To'], msg['Cc'], msg['Subject']) == ('<id@example.com>\ufffd', 'b\ufffdc@example.com', 'fine')


def parsed(raw: bytes) -> email.message.EmailMessage:
    return email.message_from_bytes(raw, policy=policy.SMTP)


@pytest.mark.parametrize('charset', [b'\xff', b'', b'base64', b'rot13'])
def test_charsets_python_cannot_decode_text_with_are_relabelled(charset):
    # 8-bit (get_content_charset() hides it), without value (set_param alone left it
    # first), codecs that are not of bytes to text
    msg = parsed(b'Content-Type: text/plain; charset' + (b'=' + charset if charset else b'') + b'\r\n\r\nCaf\xc3\xa9')
    with pytest.raises(LookupError):
        msg.get_content()
    assert len(repair_unknown_charsets(msg)) == 1
    assert msg.get_content() == 'Caf\u00e9'


@pytest.mark.parametrize('content_type', ['font/woff2', '/', 'x-custom/thing'])
def test_types_without_a_reader_become_octet_streams(content_type):
    msg = parsed(f'Content-Type: {content_type}; name="font.bin"\r\n\r\nbytes'.encode())
    with pytest.raises(KeyError):
        msg.get_content()
    assert repair_unknown_content_types(msg) == (content_type,)
    assert (msg.get_content_type(), msg.get_param('name')) == ('application/octet-stream', 'font.bin')
    assert msg.get_content() == b'bytes'
    assert repair_unknown_content_types(msg) == ()


def test_a_multipart_without_parts_holds_its_text_as_one_part():
    msg = parsed(b'Content-Type: multipart/report; report-type=delivery-status; boundary=r\r\n\r\n'
                 b'no part: the boundary is never used\r\n')
    assert repair_multiparts_without_parts(msg) == 1
    assert msg.get_content_type() == 'multipart/report'
    [text] = msg.get_payload()
    assert text.get_content() == 'no part: the boundary is never used\n'
    assert msg.as_bytes()


def test_headers_of_parts_are_repaired_too():
    msg = parsed(b'Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n'
                 b'Content-Type: application/octet-stream\r\n'
                 b'Content-Disposition: attachment; filename="=?utf-7?q?+2AA-?=.txt"\r\n\r\ndata\r\n--b--\r\n')
    attachment = msg.get_payload()[0]
    with pytest.raises(UnicodeEncodeError):
        attachment.get_filename()
    assert repair_unreadable_headers(msg) == ('Content-Disposition',)
    assert attachment.get_filename() == '\ufffd.txt'


@pytest.mark.parametrize(('name', 'value', 'repaired'), [
    ('Cc', 'Ann <ann@x.example>, <', 'ann@x.example'),  # the email package raises IndexError on these
    ('Cc', '<', None),                                  # no address, no id in them: the header goes
    ('Message-ID', '<>', None),
])
def test_a_header_still_unreadable_once_decoded_keeps_what_routing_reads(name, value, repaired):
    msg = parsed(f'From: a@example.com\r\n{name}: {value}\r\n\r\nbody\r\n'.encode())
    with pytest.raises(IndexError):
        msg[name]
    assert repair_unreadable_headers(msg) == (name,)
    assert msg[name] == repaired


def test_make_readable_leaves_every_part_readable_and_writable():
    msg = parsed(b'Subject: =?unicode-escape?q?=5Cud800?=\r\nCc: <\r\n'
                 b'Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n'
                 b'Content-Type: text/plain; charset=\xff\r\n\r\ncaf\xc3\xa9\r\n--b\r\n'
                 b'Content-Type: font/woff2\r\n\r\nfont\r\n--b\r\n'
                 b'Content-Type: message/rfc822\r\n\r\nContent-Type: application/octet-stream\r\n'
                 b'Content-Disposition: attachment; filename="a\x00b"\r\n\r\nattached\r\n--b\r\n'
                 b'Content-Type: multipart/alternative; boundary=never\r\n\r\ntext\r\n--b--\r\n')
    make_readable(msg)
    for part in msg.walk():
        [part.get_all(name) for name in part]
        if not part.is_multipart():
            part.get_content()
    assert msg.as_bytes()  # stock writes attached messages out as bytes
