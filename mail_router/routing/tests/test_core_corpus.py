"""incoming_mail() over every real-world mail of the shared corpus.

The corpus lives beside the repository (``<repo>/../shared/corpus``) and is
never copied into it; MAIL_ROUTER_CORPUS points elsewhere. A missing corpus
fails the tests: skipping would hide that nothing was checked.
"""
import email
import email.policy
import os
from pathlib import Path

import pytest

from routing.incoming import incoming_mail

REPO = Path(__file__).resolve().parents[3]
CORPUS = Path(os.environ.get('MAIL_ROUTER_CORPUS') or REPO.parent / 'shared' / 'corpus')

MIN_FILES = 100  # mikel-mail holds 103: fewer means a broken copy

# Read from the files: every delivery status notification of the corpus, and
# the mailing-list mail ('Precedence: junk', 'List-Id'). Every other mail was written by a person.
EXPECTED_AUTO = {
    'multipart_report_emails/multi_address_bounce1.eml': 'bounce',
    'multipart_report_emails/multi_address_bounce2.eml': 'bounce',
    'multipart_report_emails/multipart_report_multiple_status.eml': 'bounce',
    'multipart_report_emails/report_422.eml': 'bounce',
    'multipart_report_emails/report_530.eml': 'bounce',
    'mime_emails/raw_email_with_mimepart_without_content_type.eml': 'bounce',
    'error_emails/bad_date_header.eml': 'list',
    'error_emails/empty_in_reply_to.eml': 'list',
}


def mikel() -> Path:
    folder = CORPUS / 'mikel-mail'
    if not folder.is_dir():
        pytest.fail(f'{folder} is missing: the shared mail corpus is needed. Put it at '
                    '<repo>/../shared/corpus, or point MAIL_ROUTER_CORPUS to the folder that holds mikel-mail/.')
    return folder


def corpus_files() -> list[Path]:
    return sorted(mikel().rglob('*.eml'))


def read(name: str, policy=email.policy.compat32):
    raw = (mikel() / name).read_bytes()
    return incoming_mail(email.message_from_bytes(raw, policy=policy), raw)


def test_every_corpus_mail_is_read_the_same_whatever_the_policy():
    files = corpus_files()
    assert len(files) >= MIN_FILES
    auto = {}
    for path in files:
        raw = path.read_bytes()
        mails = {incoming_mail(email.message_from_bytes(raw, policy=policy), raw)
                 for policy in (email.policy.compat32, email.policy.default)}
        assert len(mails) == 1, path
        mail = mails.pop()
        assert mail.message_id.startswith('<') and mail.message_id.endswith('>'), path
        assert all('@' in address for address in mail.recipients), path
        if mail.kind:
            auto[path.relative_to(mikel()).as_posix()] = mail.kind
    assert auto == EXPECTED_AUTO


def test_every_delivery_status_report_is_a_bounce():
    for path in corpus_files():
        if 'report-type=delivery-status' in path.read_text('latin-1').replace('\n', '').replace('\t', ''):
            assert read(path.relative_to(mikel()).as_posix()).kind == 'bounce', path


@pytest.mark.parametrize('name, field, expected', [
    # a reply as most clients write it: References ends with In-Reply-To
    ('plain_emails/raw_email_reply.eml', 'in_reply_to', ('<348F04F142D69C21-291E56D292BC@xxxx.net>',)),
    ('plain_emails/raw_email_reply.eml', 'references',
     ('<473FF3B8.9020707@xxx.org>', '<348F04F142D69C21-291E56D292BC@xxxx.net>')),
    # two References headers, the second one truncated
    ('error_emails/multiple_references_with_one_invalid.eml', 'references', ('<foo@bar.net>', '<baz@bar.net>')),
    ('error_emails/empty_in_reply_to.eml', 'in_reply_to', ()),
    # an address where an id should be, without brackets
    ('error_emails/bad_date_header.eml', 'in_reply_to', ('<someone@yahoo.com>',)),
    ('plain_emails/mix_caps_content_type.eml', 'message_id', '<201002191008.30117.foo.bar@company.com>'),
    # Outlook: Thread-Index and no Message-ID nor References
    ('error_emails/content_transfer_encoding_with_semi_colon.eml', 'message_id_synthetic', True),
    ('rfc2822/example14.eml', 'references', ()),
    ('rfc2822/example14.eml', 'in_reply_to', ('<rid_5582199198@msgid.example.com>',)),
    ('rfc2822/example14.eml', 'subject', 'Re: TEST テストテスト'),
    ('plain_emails/raw_email_with_at_display_name.eml', 'recipients',
     ('raasdnil@gmail.com', 'smith@gmail.com', 'tom@gmail.com')),
    ('plain_emails/raw_email_multiple_from.eml', 'from_email', 'tim@powerupdev.com'),
    ('error_emails/new_line_in_to_header.eml', 'recipients', (
        'e-s-a-g-8718@app.ar.com', 'leads@sg.dc.com', 'sag@leads.gs.ry.com', 'sn@example-hotmail.com',
        'jp@t-exmaple.com', 'cc@c-l-example.com')),
    ('error_emails/empty_group_lists.eml', 'recipients', ()),
    ('error_emails/bad_encoded_subject.eml', 'subject', 'TEST'),
    ('error_emails/invalid_subject_characters.eml', 'subject',
     'Formação FrenetikPolis: Mega Campanha Final Verão | Cursos de Setembro'),
    ('multi_charset/japanese.eml', 'subject', 'まみむめも'),
    ('plain_emails/raw_email.eml', 'subject', 'NOTE: 한국말로 하는 것'),
    ('rfc6532/utf8_headers.eml', 'from_email', 'jdöe@mächine.example'),
    ('multipart_report_emails/multipart_report_multiple_status.eml', 'from_email', 'postmaster@ci.com'),
])
def test_corpus_mail(name, field, expected):
    assert getattr(read(name), field) == expected


def test_the_synthetic_id_of_a_corpus_mail_is_stable():
    first, second = read('multi_charset/japanese.eml'), read('multi_charset/japanese.eml', email.policy.SMTP)
    assert first.message_id_synthetic and first.message_id == second.message_id
    assert first.message_id != read('multi_charset/japanese_iso_2022.eml').message_id
