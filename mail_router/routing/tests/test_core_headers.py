"""Header parsing on the variants that real mail clients and servers write."""
import email
import email.policy
import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from routing.headers import (
    base_address,
    decode_words,
    parse_addresses,
    parse_msgid_list,
    split_address,
)
from routing.incoming import MAX_IDS, incoming_mail


@pytest.mark.parametrize('value, expected', [
    (None, ()),
    ('', ()),
    ('  \r\n ', ()),
    ('<a@b.c>', ('<a@b.c>',)),
    # folded References, as Thunderbird and Gmail write long ones
    ('<1@x.org>\r\n <2@x.org>\r\n\t<3@x.org>', ('<1@x.org>', '<2@x.org>', '<3@x.org>')),
    # folding that broke an id in two: the whitespace is not part of it
    ('<purchase.order-1-17-ab\r\n @example.com>', ('<purchase.order-1-17-ab@example.com>',)),
    ('<abc@ho st>', ('<abc@host>',)),
    # several ids in In-Reply-To, with or without separators
    ('<a@x> <b@y>', ('<a@x>', '<b@y>')),
    ('<a@x>,<b@y>', ('<a@x>', '<b@y>')),
    ('<a@x><b@y>', ('<a@x>', '<b@y>')),
    # missing angle brackets
    ('someone@yahoo.com', ('<someone@yahoo.com>',)),
    ('abc@host <d@e>', ('<abc@host>', '<d@e>')),
    # comments, nested, even holding something that looks like an id
    ('<a@b> (John\'s message of "Mon, 1 Jan 2024" <x@y>)', ('<a@b>',)),
    ('(a (nested <x@y>) comment) <a@b>', ('<a@b>',)),
    # RFC 822 phrases around the id, quoted or not
    ('Your message of "Tue, 11 Mar 2003 10:00:00 +0100" <a@b>', ('<a@b>',)),
    ('"quoted@phrase" <a@b>', ('<a@b>',)),
    # truncated References
    ('<foo@bar.net> <baz@bar.net>, <invalid.   ', ('<foo@bar.net>', '<baz@bar.net>')),
    ('<foo@bar.net> <baz@bar', ('<foo@bar.net>', '<baz@bar>')),
    # ids without '@' exist (bracketed only)
    ('<11107978796724623>', ('<11107978796724623>',)),
    # case is kept: the lookup is exact
    ('<CAF=Xy@mail.gmail.com>', ('<CAF=Xy@mail.gmail.com>',)),
    # duplicates keep the first place
    ('<a@b> <c@d> <a@b>', ('<a@b>', '<c@d>')),
    # garbage
    ('<> < > ;;; @ a@ @b ((( <x@y>', ()),
    ('\udcff\udcfe <a@b>', ('<a@b>',)),
])
def test_parse_msgid_list(value, expected):
    assert parse_msgid_list(value) == expected


def test_parse_msgid_list_reads_several_header_values_as_one():
    # multiple_references_with_one_invalid.eml has two References headers
    assert parse_msgid_list('<a@b>', None, '<c@d> <a@b>', '(open comment <e@f>') == ('<a@b>', '<c@d>')


@settings(database=None)
@given(st.text(alphabet=st.sampled_from('<>()"\\,;: \t\r\nab@.x\udcff')))
def test_parse_msgid_list_never_raises_and_gives_clean_ids(value):
    ids = parse_msgid_list(value)
    assert len(set(ids)) == len(ids)
    for msgid in ids:
        assert msgid.startswith('<') and msgid.endswith('>') and msgid != '<>'
        assert not any(space in msgid for space in ' \t\r\n')


@pytest.mark.parametrize('values, expected', [
    ((None,), ()),
    (('',), ()),
    (('Mary Smith <Mary@Example.NET>, jdoe@example.org',), ('mary@example.net', 'jdoe@example.org')),
    # an '@' in the display name, quoted or not, is not an address
    (('Mikel@Lindsaar <raasdnil@gmail.com>, tom@gmail.com',), ('raasdnil@gmail.com', 'tom@gmail.com')),
    (('"a@b.com" <c@d.com>',), ('c@d.com',)),
    (('"Giant; \\"Big\\" Box" <sysservices@example.net>',), ('sysservices@example.net',)),
    # a missing comma
    (('tim@powerupdev.com concierge@powerupdev.com',), ('tim@powerupdev.com', 'concierge@powerupdev.com')),
    # groups, empty groups, empty items
    (('A Group:Chris Jones <c@a.test>,joe@where.test,John <jdoe@one.test>;',),
     ('c@a.test', 'joe@where.test', 'jdoe@one.test')),
    (('undisclosed-recipients:;',), ()),
    ((', user@aol.com, ,other@aol.com',), ('user@aol.com', 'other@aol.com')),
    # comments, also inside the brackets, and an obsolete source route
    (('MAILER-DAEMON@x.com (Mail Delivery System)',), ('mailer-daemon@x.com',)),
    (('Pete(A \\) chap) <pete(his account)@silly.test(his host)>',), ('pete@silly.test',)),
    (('<@relay.example:mary@example.net>',), ('mary@example.net',)),
    # encoded words are not decoded first: an encoded ',' cannot split an item
    (('=?utf-8?q?Doe=2C_John?= <j@x.com>',), ('j@x.com',)),
    # unclosed bracket, folding
    (('<a@x.com',), ('a@x.com',)),
    (('leads@sg.dc.com,\r\n\t sag@leads.gs.ry.com',), ('leads@sg.dc.com', 'sag@leads.gs.ry.com')),
    # several headers, deduplicated across them
    (('a@x.com', None, 'A@X.com, b@x.com'), ('a@x.com', 'b@x.com')),
    # no address at all
    (('"xxxxx@xxxxx" <matmail>',), ()),
])
def test_parse_addresses(values, expected):
    assert parse_addresses(*values) == expected


@settings(database=None)
@given(st.lists(st.none() | st.text(alphabet=st.sampled_from('<>()"\\,;: \t\nAb@.x\udcff'))))
def test_parse_addresses_never_raises_and_gives_bare_addresses(values):
    addresses = parse_addresses(*values)
    assert len(set(addresses)) == len(addresses)
    for address in addresses:
        assert '@' in address[1:-1] and address == address.lower()
        assert not any(c in address for c in ' \t\r\n<>(),;"')


@pytest.mark.parametrize('address, expected', [
    ('purchase+123-5b0e8d2c41f7a9e3@Example.com', ('purchase', '123-5b0e8d2c41f7a9e3', 'example.com')),
    ('Purchase@example.com', ('purchase', None, 'example.com')),
    ('purchase+@example.com', ('purchase', None, 'example.com')),
    ('a+b+c@x.org', ('a', 'b+c', 'x.org')),
    ('no-domain', ('no-domain', None, '')),
    ('', ('', None, '')),
])
def test_split_address(address, expected):
    assert split_address(address) == expected


def test_base_address():
    assert base_address('Purchase+123@Example.com') == 'purchase@example.com'
    assert base_address('bounce@example.com') == 'bounce@example.com'


@pytest.mark.parametrize('text, expected', [
    ('plain', 'plain'),
    ('=?ISO-8859-1?Q?Eelanal=FC=FCsi_p=E4ring?=', 'Eelanalüüsi päring'),
    ('Re: =?UTF-8?B?Iua8ouWtlyI=?= mid =?UTF-8?B?Iua8ouWtlyI=?= tail', 'Re: "漢字" mid "漢字" tail'),
    ('=?UTF-8?B?TXlTdXJ2ZXk=?= =?UTF-8?B?LmNvbQ==?=', 'MySurvey.com'),  # RFC 2047 §6.2
    ('=?NONE?B?VEVTVA=?=', 'TEST'),              # unknown charset, missing padding
    ('=?utf-8*en?q?caf=C3=A9?=', 'café'),         # RFC 2231 language
    ('=?x-unknown?q?caf=E9?=', 'café'),          # unknown charset, not UTF-8: Latin-1
    ('=?utf-8?b?A?=', '=?utf-8?b?A?='),          # base64 that cannot be decoded stays
    ('=?ISO-2022-JP?B?GyRCJUYlOSVIGyhC?=', 'テスト'),
])
def test_decode_words(text, expected):
    assert decode_words(text) == expected


def parse(text: str) -> tuple[email.message.Message, bytes]:
    raw = text.replace('\n', '\r\n').encode('utf-8')
    return email.message_from_bytes(raw, policy=email.policy.compat32), raw


GMAIL_REPLY = """\
Delivered-To: catchall@example.com
MIME-Version: 1.0
References: <purchase.order-123-1702500000-3f9a1c0b7e-9c1e4b7a2d3f8e60@example.com>
In-Reply-To: <purchase.order-123-1702500000-3f9a1c0b7e-9c1e4b7a2d3f8e60@example.com>
From: Vendor Sales <Sales@Vendor.example>
Date: Thu, 14 Dec 2023 10:00:00 +0100
Message-ID: <CAF8xYz=Q+abc@mail.gmail.com>
Subject: Re: =?UTF-8?Q?Request_for_Quotation_=E2=80=93_PO0001?=
To: "YourCompany" <catchall@example.com>
Cc: buyer@example.com
Content-Type: text/plain; charset="UTF-8"

Confirmed.
"""

OUTLOOK_REPLY = """\
From: Vendor <vendor@outlook.example>
To: YourCompany <catchall@example.com>
Subject: RE: Request for Quotation PO0001
Thread-Topic: Request for Quotation PO0001
Thread-Index: AQHaLm8xYz1234567890abcdefghij==
Date: Thu, 14 Dec 2023 09:00:00 +0000
Message-ID:
 <AM0PR01MB1234567890ABCDEF@AM0PR01MB1234.eurprd01.prod.outlook.com>
In-Reply-To:
 <purchase.order-123-1702500000-3f9a1c0b7e-9c1e4b7a2d3f8e60@example.com>
Content-Language: en-US
Content-Type: text/plain; charset="us-ascii"
MIME-Version: 1.0

Confirmed.
"""

THUNDERBIRD_REPLY = """\
Message-ID: <b1c2d3e4-0000-4000-8000-000000000001@vendor.example>
Date: Thu, 14 Dec 2023 11:00:00 +0100
MIME-Version: 1.0
User-Agent: Mozilla Thunderbird
Subject: Re: Request for Quotation PO0001
To: catchall@example.com
References: <purchase.order-123-1702500000-3f9a1c0b7e-9c1e4b7a2d3f8e60@example.com>
 <a9b8c7d6-0000-4000-8000-000000000002@vendor.example>
 <purchase.order-123-1702500100-0a1b2c3d4e-1234567890abcdef@example.com>
In-Reply-To: <purchase.order-123-1702500100-0a1b2c3d4e-1234567890abcdef@example.com>
From: Vendor <vendor@tb.example>
Content-Type: text/plain; charset=UTF-8; format=flowed

Confirmed.
"""


def test_gmail_reply():
    mail = incoming_mail(*parse(GMAIL_REPLY))
    signed = '<purchase.order-123-1702500000-3f9a1c0b7e-9c1e4b7a2d3f8e60@example.com>'
    assert mail.message_id == '<CAF8xYz=Q+abc@mail.gmail.com>'
    assert not mail.message_id_synthetic
    assert mail.in_reply_to == mail.references == (signed,)
    assert mail.from_email == 'sales@vendor.example'
    assert mail.recipients == ('catchall@example.com', 'buyer@example.com')
    assert mail.subject == 'Re: Request for Quotation \u2013 PO0001'
    assert mail.kind is None


def test_outlook_reply_has_in_reply_to_only():
    mail = incoming_mail(*parse(OUTLOOK_REPLY))
    assert mail.message_id == '<AM0PR01MB1234567890ABCDEF@AM0PR01MB1234.eurprd01.prod.outlook.com>'
    assert mail.in_reply_to == ('<purchase.order-123-1702500000-3f9a1c0b7e-9c1e4b7a2d3f8e60@example.com>',)
    assert mail.references == ()


def test_thunderbird_reply_keeps_the_references_in_order():
    mail = incoming_mail(*parse(THUNDERBIRD_REPLY))
    assert mail.references == (
        '<purchase.order-123-1702500000-3f9a1c0b7e-9c1e4b7a2d3f8e60@example.com>',
        '<a9b8c7d6-0000-4000-8000-000000000002@vendor.example>',
        '<purchase.order-123-1702500100-0a1b2c3d4e-1234567890abcdef@example.com>',
    )
    assert mail.in_reply_to == mail.references[-1:]


def test_only_the_last_references_are_kept():
    references = ' '.join(f'<{n}@x.org>' for n in range(100))
    mail = incoming_mail(*parse(f'References: {references}\nIn-Reply-To: <99@x.org>\n\nbody\n'))
    assert len(mail.references) == MAX_IDS
    assert mail.references[-1] == '<99@x.org>' and mail.references[0] == f'<{100 - MAX_IDS}@x.org>'


@pytest.mark.parametrize('header', ['', 'Message-ID: \n', 'Message-ID: <>\n', 'Message-ID: (comment only)\n'])
def test_a_mail_without_message_id_gets_a_stable_synthetic_one(header):
    text = f'{header}From: a@x.org\nTo: b@example.com\nSubject: hello\n\nbody\n'
    msg, raw = parse(text)
    first, second = incoming_mail(msg, raw), incoming_mail(*parse(text))
    assert first.message_id_synthetic
    assert first.message_id == second.message_id
    assert first.message_id == f'<{hashlib.sha256(raw).hexdigest()[:32]}@mail-router.invalid>'
    other = incoming_mail(*parse(text.replace('hello', 'hello again')))
    assert other.message_id != first.message_id


def test_missing_and_empty_headers():
    mail = incoming_mail(*parse('In-Reply-To: \nSubject:\n\nbody\n'))
    assert (mail.in_reply_to, mail.references, mail.from_email, mail.recipients, mail.subject) == ((), (), '', (), '')


def test_raw_8bit_headers_read_as_utf8_or_latin1():
    raw = ('From: J\u00f6rn <j\u00f6rn@example.org>\r\nTo: x@example.com\r\n'
           'Subject: S\u00e4ying\r\n\r\nbody\r\n').encode()
    latin = raw.replace('S\u00e4ying'.encode(), 'Forma\u00e7\u00e3o'.encode('latin-1'))
    assert incoming_mail(email.message_from_bytes(raw), raw).subject == 'S\u00e4ying'
    assert incoming_mail(email.message_from_bytes(raw), raw).from_email == 'j\u00f6rn@example.org'
    assert incoming_mail(email.message_from_bytes(latin), latin).subject == 'Forma\u00e7\u00e3o'


def test_the_same_result_whatever_the_parsing_policy():
    raw = parse(THUNDERBIRD_REPLY)[1]
    parsed = [email.message_from_bytes(raw, policy=policy)
              for policy in (email.policy.compat32, email.policy.default, email.policy.SMTP)]
    assert len({incoming_mail(msg, raw) for msg in parsed}) == 1
