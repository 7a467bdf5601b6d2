"""An attachment of a mail parsed by read_mail() reads as the email package reads it,
without the email package's copies of its text."""
import base64
import email
import email.policy
import tracemalloc

import pytest

from routing.incoming import read_mail
from routing.tests.test_core_corpus import corpus_files

BINARY = ('audio', 'image', 'video', 'application')


def mail_with(body: bytes, encoding: str = 'base64', content_type: str = 'application/pdf') -> bytes:
    return (b'From: a@example.com\r\nTo: b@example.com\r\nSubject: file\r\nMIME-Version: 1.0\r\n'
            b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n'
            b'--b\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n'
            b'--b\r\nContent-Type: ' + content_type.encode() + b'; name="f"\r\n'
            b'Content-Disposition: attachment; filename="f"\r\n'
            b'Content-Transfer-Encoding: ' + encoding.encode() + b'\r\n\r\n' + body + b'\r\n--b--\r\n')


def contents(message) -> list:
    """What get_content() gives for each non-multipart binary part, or the error it raises."""
    found = []
    for part in message.walk():
        if part.get_content_maintype() not in BINARY:
            continue
        try:
            found.append(part.get_content())
        except Exception as exc:  # compared with the email package's own error
            found.append(type(exc))
    return found


def as_the_email_package_reads(raw: bytes) -> list:
    return contents(email.message_from_bytes(raw, policy=email.policy.SMTP))


def test_every_corpus_attachment_reads_the_same():
    compared = 0
    for path in corpus_files():
        raw = path.read_bytes()
        message = read_mail(raw)[0]
        if message is None:
            continue
        ours = contents(message)
        assert ours == as_the_email_package_reads(raw), path
        compared += len(ours)
    assert compared >= 20  # the corpus holds images, PDFs and archives


PDF = b'%PDF-1.4\n' + bytes(range(256)) * 40


@pytest.mark.parametrize('body', [
    base64.encodebytes(PDF),                               # wrapped at 76 characters
    base64.b64encode(PDF),                                 # one line
    base64.encodebytes(PDF).replace(b'\n', b'\r\n'),
    base64.b64encode(b'abcd').rstrip(b'='),                # padding missing: the email package adds it
    base64.b64encode(b'abcde')[:-2],
    b'YWJj!ZGVm\n',                                        # a character outside the alphabet
    b'YWJj\nZA==\nZGVm\n',                                 # data after the padding
    b'YWJjZ\n',                                            # one character past a whole quantum
    b'YWJj\xe9ZGVm\n',                                     # a byte that is not ASCII
    b'',
], ids=['wrapped', 'one-line', 'crlf', 'no-padding', 'short-padding', 'bad-character',
        'after-padding', 'length', 'non-ascii', 'empty'])
def test_base64_reads_as_the_email_package_reads_it(body):
    raw = mail_with(body)
    assert contents(read_mail(raw)[0]) == as_the_email_package_reads(raw)


@pytest.mark.parametrize('encoding, body', [
    ('quoted-printable', b'caf=C3=A9 =\r\nsoft break'),
    ('8bit', b'caf\xc3\xa9'),
    ('7bit', b'plain'),
    ('x-unknown', b'YWJj'),
])
def test_other_encodings_read_as_the_email_package_reads_them(encoding, body):
    raw = mail_with(body, encoding=encoding)
    assert contents(read_mail(raw)[0]) == as_the_email_package_reads(raw)


def test_an_attachment_is_decoded_without_copies_of_its_text():
    decoded = bytes(range(256)) * 16384  # 4 MiB, 5.3 MiB of base64 text
    message = read_mail(mail_with(base64.encodebytes(decoded)))[0]
    part = next(part for part in message.walk() if part.get_content_maintype() == 'application')
    tracemalloc.start()
    try:
        content = part.get_content()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert content == decoded
    # The decoded bytes alone; the email package held the text as bytes, its lines and
    # their join besides (more than 4 times the decoded size).
    assert peak < 1.2 * len(decoded)
