"""Hostile bytes: every value the core hands on can be stored by PostgreSQL, and
a mail the email package cannot parse is still known by its headers."""
import collections
import email
from email import policy

import pytest
from hypothesis import given
from hypothesis import strategies as st

from routing.headers import (
    MAX_ADDRESS_LENGTH,
    MAX_ID_BYTES,
    parse_addresses,
    parse_msgid_list,
    storable,
    storable_values,
)
from routing.hygiene import bounce_refusal
from routing.incoming import read_mail
from routing.mime import repair_unreadable_headers

Attachment = collections.namedtuple('Attachment', ('fname', 'content', 'info'))


# hypothesis's text never holds lone surrogates: they are mixed in by hand
HOSTILE_TEXT = st.lists(st.one_of(st.text(), st.sampled_from(['\x00', '\ud800', '\udcff', '\udfff']))).map(''.join)


@given(HOSTILE_TEXT)
def test_storable_text_encodes_and_holds_no_nul(text):
    stored = storable(text)
    stored.encode('utf-8')  # raises on a lone surrogate
    assert '\x00' not in stored


def test_storable_replaces_visibly():
    assert storable('a\x00b\ud800c') == 'a\ufffdb\ufffdc'


def test_storable_values_keep_the_kind_of_text():
    class Markup(str):
        pass

    body = storable_values(Markup('<p>\x00</p>'))
    assert (type(body), body) == (Markup, '<p>\ufffd</p>')


def test_storable_values_reach_into_stock_message_dicts():
    values = {'subject': 'x\x00', 'to': ['\udcff@x'], 'n': 3,
              'attachments': [Attachment('f\x00.txt', b'\x00 bytes stay', {'cid': '\ud800'})]}
    assert storable_values(values) == {
        'subject': 'x\ufffd', 'to': ['\ufffd@x'], 'n': 3,
        'attachments': [Attachment('f\ufffd.txt', b'\x00 bytes stay', {'cid': '\ufffd'})]}


@pytest.mark.parametrize('value', [
    '<' + 'x' * MAX_ID_BYTES + '@example.com>',
    '<a\x00b@example.com>',
    '<a\x01b@example.com>',
    '<a\ud800@example.com>',
])
def test_ids_that_cannot_be_stored_are_no_ids(value):
    assert parse_msgid_list(f'{value} <ok@example.com>') == ('<ok@example.com>',)


@pytest.mark.parametrize('value', [
    'a' * MAX_ADDRESS_LENGTH + '@example.com',
    'Ann <a\x00nn@example.com>',
])
def test_addresses_that_cannot_be_stored_are_no_addresses(value):
    assert parse_addresses(f'{value}, ok@example.com') == ('ok@example.com',)


def deep_mime(depth: int) -> bytes:
    opening = b''.join(b'Content-Type: multipart/mixed; boundary="b%d"\r\n\r\n--b%d\r\n' % (n, n)
                       for n in range(depth))
    return (b'From: ann@vendor.example\r\nTo: t@example.com\r\nSubject: deep\r\n'
            b'Message-ID: <deep@vendor.example>\r\n' + opening + b'Content-Type: text/plain\r\n\r\nx\r\n')


def test_mail_the_parser_cannot_parse_is_known_by_its_headers():
    message, mail, error = read_mail(deep_mime(3000))
    assert message is None
    assert error.startswith('RecursionError')
    assert (mail.message_id, mail.from_email, mail.subject) == ('<deep@vendor.example>', 'ann@vendor.example', 'deep')


def test_parsable_mail_is_parsed():
    message, mail, error = read_mail(deep_mime(3))
    assert (message['Subject'], mail.message_id, error) == ('deep', '<deep@vendor.example>', None)


def test_a_header_that_cannot_be_read_is_rewritten_readable():
    raw = (b'From: a@example.com\r\nSubject: =?unicode-escape?q?lone_\\ud800_surrogate?=\r\n'
           b'Subject: second\r\n\r\nbody\r\n')
    msg = email.message_from_bytes(raw, policy=policy.SMTP)
    with pytest.raises(UnicodeEncodeError):
        msg.get_all('Subject')
    assert repair_unreadable_headers(msg) == ('Subject',)
    assert msg.get_all('Subject') == ['lone \ufffd surrogate', 'second']
    assert repair_unreadable_headers(msg) == ()


@pytest.mark.parametrize('headers, refusal', [
    ('From: ann@vendor.example', None),
    ('From: ann@vendor.example\r\nReturn-Path: <bounces@vendor.example>', None),
    ('From: ann@vendor.example\r\nReturn-Path: <>', 'its Return-Path is null (<>)'),
    ('To: b@example.com', 'it has no From address'),
    ('From: ann@vendor.example\r\nAuto-Submitted: auto-replied', 'it is an automatic reply'),
    ('From: ann@vendor.example\r\nList-Id: <sales.example.com>', 'it is mailing-list or bulk mail'),
    ('From: MAILER-DAEMON@vendor.example', 'it is a delivery status notification'),
])
def test_bounce_refusal(headers, refusal):
    message, mail, _error = read_mail(headers.encode() + b'\r\n\r\nbody\r\n')
    assert bounce_refusal(mail.from_email, mail.kind, mail.null_return_path) == refusal


def test_mail_whose_content_type_cannot_be_read_is_known_by_its_headers():
    raw = (b'From: Ann <ann@vendor.example>\r\nTo: t@example.com\r\nMessage-ID: <m1@vendor.example>\r\n'
           b'Content-Type: =?utf-7?q?+2AA-?=\r\n\r\nbody\r\n')
    message, mail, error = read_mail(raw)
    assert message is None and error.startswith('UnicodeEncodeError')
    assert (mail.message_id, mail.from_email, mail.recipients) == ('<m1@vendor.example>', 'ann@vendor.example',
                                                                   ('t@example.com',))
