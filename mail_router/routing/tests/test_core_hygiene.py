"""Bounces, auto-replies and loops are told from mail that a person wrote."""
import email

import pytest

from routing.headers import parse_addresses
from routing.hygiene import bounce_recipient, classify, is_loop

BOUNCE_ADDRESSES = ('bounce@example.com',)


def classified(headers: str, bounce_addresses=()) -> str | None:
    msg = email.message_from_string(headers + '\n\nbody\n')
    from_email = next(iter(parse_addresses(msg['From'])), '')
    return classify(msg, from_email, parse_addresses(msg['To']), bounce_addresses)


DSN = 'Content-Type: multipart/report;\n report-type="delivery-status"; boundary=x'
MDN = 'Content-Type: multipart/report; report-type=disposition-notification; boundary=x'


@pytest.mark.parametrize('headers, expected', [
    ('From: a@x.org\nTo: b@example.com', None),
    # bounces
    (f'From: a@x.org\nTo: b@example.com\n{DSN}', 'bounce'),
    (f'From: a@x.org\nTo: b@example.com\nAuto-Submitted: auto-replied\n{DSN}', 'bounce'),
    ('From: Mail Delivery System <MAILER-DAEMON@mx.example.org>\nTo: b@example.com', 'bounce'),
    ('From: Postmaster@ci.com\nTo: b@example.com', 'bounce'),
    ('From: mailer-daemon-fan@x.org\nTo: b@example.com', None),
    ('From: a@x.org\nTo: Bounce@Example.com', 'bounce'),
    ('From: a@x.org\nTo: bounce+42-mail.mail-7@example.com', 'bounce'),  # VERP
    ('From: a@x.org\nTo: bounce@other.org', None),
    ('From: a@x.org\nTo: notification+promo@example.com', None),
    # auto-replies
    ('From: a@x.org\nAuto-Submitted: auto-replied', 'auto_reply'),
    ('From: a@x.org\nAuto-Submitted: auto-generated (failure)', 'auto_reply'),
    ('From: a@x.org\nAuto-Submitted: No', None),
    ('From: a@x.org\nAuto-Submitted:', None),
    # mailing lists and bulk mail: written by a person, never answered
    ('From: a@x.org\nPrecedence: bulk', 'list'),
    ('From: a@x.org\nPrecedence: Junk', 'list'),
    ('From: a@x.org\nPrecedence: list', 'list'),
    ('From: a@x.org\nList-Id: <sales.example.com>', 'list'),
    ('From: a@x.org\nList-Id: <sales.example.com>\nAuto-Submitted: auto-generated', 'auto_reply'),
    ('From: a@x.org\nPrecedence: auto_reply', 'auto_reply'),
    ('From: a@x.org\nPrecedence: first-class', None),
    ('From: a@x.org\nX-Autoreply: yes', 'auto_reply'),
    ('From: a@x.org\nX-Autorespond: Out of office', 'auto_reply'),
    (f'From: a@x.org\n{MDN}', 'auto_reply'),  # read receipt
    ('From: a@x.org\nContent-Type: multipart/report; boundary=x', None),
    ('From: a@x.org\nX-Auto-Response-Suppress: All', None),  # a request to others, not a mark
])
def test_classify(headers, expected):
    assert classified(headers, BOUNCE_ADDRESSES) == expected


def test_without_bounce_addresses_only_headers_decide():
    assert classified('From: a@x.org\nTo: bounce@example.com') is None


def test_bounce_recipient_names_the_address():
    recipients = ('someone@example.com', 'bounce+7@example.com', 'bounce@example.com')
    assert bounce_recipient(recipients, ('BOUNCE@example.com',)) == 'bounce+7@example.com'
    assert bounce_recipient(recipients, ()) is None


@pytest.mark.parametrize('from_email, expected', [
    ('notifications@example.com', True),
    ('Catchall@Example.com', True),
    ('vendor@supplier.example', False),
    ('notifications+x@example.com', False),
    ('', False),
])
def test_is_loop(from_email, expected):
    loop_addresses = ('catchall@example.com', 'bounce@example.com', 'Notifications@example.com')
    assert is_loop(from_email, loop_addresses) is expected
