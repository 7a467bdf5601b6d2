"""The subject_reference stage: a reference in the Subject (P00123) routes a mail that no
thread header routed, for a sender the record knows, or an authenticated colleague at its
partner's domain; ambiguous, refused or of another company, the next stage decides and
the decision says why."""
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_core_chain import CODEC, CONFIG, PO_RFQ, FakeLookup, mail

from routing.chain import MAX_REFERENCE_TOKENS, Target, decide, reference_tokens, trace

ON = replace(CONFIG, reference_models=('purchase.order', 'sale.order'),
             domain_companies=(('example.com', (1,)), ('other.example', (2,))),
             public_mail_domains=('gmail.com', 'outlook.com'))
TRUSTING = replace(ON, trusted_authserv_ids=('mx.example.com',))
PO = Target('purchase.order', 123)
PASS = 'mx.example.com; dmarc=pass header.from={domain}'
FAIL = 'mx.example.com; dmarc=fail header.from={domain}'


def subject_mail(subject, *, sender='vendor@supplier.example', auth=None, **kwargs):
    incoming = mail(subject=subject, sender=sender, **kwargs)
    if auth:
        incoming = replace(incoming, authentication_results=(auth.format(domain=sender.rpartition('@')[2]),))
    return incoming


def queries(lookup):
    return [call for call in lookup.calls if call[0] == 'records_by_reference']


# -- which words of a Subject may be a reference --------------------------------

@pytest.mark.parametrize('subject, tokens', [
    ('P00123 - delivery moved to Friday', ('P00123',)),
    ('My Company Order (Ref P00123)', ('P00123',)),
    ('Invoice INV/2026/00012.', ('INV/2026/00012',)),
    ('RE: Fwd: AW: SV: [P00123] late', ('P00123',)),
    ('Re[2]: Fw: hello', ()),
    ('[Ticket#123] printer', ('123',)),
    ('p00123 and P00123 and P00124', ('p00123', 'P00124')),
    ('Re: RFQ', ()),
    ('Hello, see you on Friday', ()),
    ('', ()),
    ('x1 ' + 'A' * 65 + '1', ()),                       # too short, too long
    ('%@% P%00123 _00123 \' OR 1=1 --', ('00123', '_00123')),  # '_' is a letter here, and text to the lookup
    ('=?utf-8?q?P00123?=', ('utf-8', 'P00123')),   # the raw form: incoming.py decodes encoded words first
])
def test_reference_tokens(subject, tokens):
    assert reference_tokens(subject) == tokens


def test_a_subject_of_ten_thousand_words_looks_up_a_bounded_number():
    subject = ' '.join(f'W{n:05d}' for n in range(10_000))
    assert len(reference_tokens(subject)) == MAX_REFERENCE_TOKENS


def test_a_subject_of_spaces_after_a_prefix_is_read_in_linear_time():
    assert reference_tokens('re' + ' ' * 200_000 + 'x1y') == ('x1y',)


# -- routing --------------------------------------------------------------------

def test_a_new_mail_to_the_alias_naming_its_order_lands_on_the_order():
    decision = decide(subject_mail('P00123 - delivery moved to Friday', to=['purchase@example.com']),
                      FakeLookup(), CODEC, ON)
    assert (decision.stage, decision.targets, decision.matched) == (
        'subject_reference', (Target('purchase.order', 123, alias_id=1),), 'P00123')
    assert 'Subject token P00123 is the reference of Purchase Order Purchase Order #123' in decision.reason
    assert 'known to the record' in decision.reason


def test_the_same_from_a_stranger_creates_a_record_and_says_why_not():
    decision = decide(subject_mail('P00123 - delivery moved', sender='stranger@x.org', to=['purchase@example.com']),
                      FakeLookup(), CODEC, ON)
    assert (decision.stage, decision.targets) == ('alias', (Target('purchase.order', None, 1),))
    assert ('not routed by subject: Subject token P00123 is the reference of Purchase Order Purchase Order #123'
            in decision.reason)
    assert 'stranger@x.org is unknown to the record' in decision.reason


def test_a_reply_to_the_catchall_without_thread_headers_lands_by_its_subject():
    decision = decide(subject_mail('Re: My Company Order (Ref p00123)'), FakeLookup(), CODEC, ON)
    assert (decision.stage, decision.targets, decision.matched) == ('subject_reference', (PO,), 'p00123')


def test_a_reply_whose_ids_a_relay_rewrote_lands_by_its_subject():
    decision = decide(subject_mail('Re: P00123', in_reply_to=['<rewritten@relay.example>'],
                                   references=['<other@relay.example>']), FakeLookup(), CODEC, ON)
    assert decision.stage == 'subject_reference' and decision.targets == (PO,)


def test_thread_headers_win_and_cost_no_reference_lookup():
    lookup = FakeLookup()
    decision = decide(subject_mail('Re: S00456', in_reply_to=[PO_RFQ]), lookup, CODEC, ON)
    assert decision.stage == 'in_reply_to'
    assert not queries(lookup)


def test_a_subject_without_a_plausible_token_costs_nothing():
    lookup = FakeLookup()
    assert decide(subject_mail('Re: our order, as discussed'), lookup, CODEC, ON).stage == 'quarantine'
    assert not queries(lookup)


def test_off_it_looks_nothing_up():
    lookup = FakeLookup()
    assert decide(subject_mail('Re: P00123'), lookup, CODEC, CONFIG).stage == 'quarantine'
    assert not queries(lookup)


def test_one_query_per_declared_model_whatever_the_subject():
    lookup = FakeLookup()
    decide(subject_mail(' '.join(f'W{n:05d}' for n in range(10_000)) + ' P00123'), lookup, CODEC, ON)
    assert [(model, len(tokens)) for _, model, tokens in queries(lookup)] == [
        ('purchase.order', MAX_REFERENCE_TOKENS), ('sale.order', MAX_REFERENCE_TOKENS)]


def test_mail_to_an_alias_searches_its_model_only():
    lookup = FakeLookup()
    decision = decide(subject_mail('Re: S00456', to=['purchase@example.com']), lookup, CODEC, ON)
    assert decision.stage == 'alias', 'a quotation named in mail to purchase@: the alias decides'
    assert [model for _, model, _ in queries(lookup)] == ['purchase.order']


def test_mail_to_an_alias_of_a_model_without_reference_is_the_alias_s():
    lookup = FakeLookup()
    decision = decide(subject_mail('Fwd: P00123', to=['sales@example.com']), lookup, CODEC, ON)
    assert (decision.stage, decision.targets) == ('alias', (Target('crm.lead', None, 2),))
    assert not queries(lookup), "a record of another model than the alias's would make it a forward"


def test_an_alias_in_cc_is_searched_first():
    lookup = FakeLookup(references={('purchase.order', 123): ('X100', 1), ('sale.order', 456): ('X100', 1)})
    decision = decide(subject_mail('X100', cc=['purchase@example.com']), lookup, CODEC, ON)
    assert (decision.stage, decision.targets) == ('subject_reference', (Target('purchase.order', 123, 1),))
    assert [model for _, model, _ in queries(lookup)] == ['purchase.order']


def test_two_records_with_the_same_reference_route_nowhere_and_say_so():
    lookup = FakeLookup(references={('purchase.order', 123): ('X100', 1), ('sale.order', 456): ('X100', 1)})
    decision = decide(subject_mail('X100'), lookup, CODEC, ON)
    assert decision.stage == 'quarantine'
    assert ('names more than one record (Purchase Order Purchase Order #123, Sales Order Sales Order #456)'
            in decision.reason)
    decision = decide(subject_mail('X100', to=['purchase@example.com']), lookup, CODEC, ON)
    assert decision.stage == 'subject_reference', 'the alias narrows the search to its model'


def test_two_references_of_two_records_are_ambiguous():
    decision = decide(subject_mail('P00123 or P00124?'), FakeLookup(known={
        ('purchase.order', 123, 'vendor@supplier.example'), ('purchase.order', 124, 'vendor@supplier.example')}),
        CODEC, ON)
    assert decision.stage == 'quarantine' and 'more than one record' in decision.reason


def test_a_record_of_another_company_is_named_only_in_mail_to_its_domain():
    lookup = FakeLookup(references={('purchase.order', 123): ('P00123', 2)})
    assert decide(subject_mail('P00123'), lookup, CODEC, ON).stage == 'quarantine'
    decision = decide(subject_mail('P00123', to=['catchall@other.example']), lookup, CODEC, ON)
    assert decision.stage == 'subject_reference'


def test_a_record_of_no_company_is_named_in_any_mail():
    lookup = FakeLookup(references={('purchase.order', 123): ('P00123', None)})
    assert decide(subject_mail('P00123', to=['someone@elsewhere.example']), lookup, CODEC, ON).stage == \
        'subject_reference'


def test_an_auto_reply_naming_a_record_is_dropped():
    decision = decide(subject_mail('Out of office: P00123', kind='auto_reply'), FakeLookup(), CODEC, ON)
    assert decision.stage == 'auto_reply'


def test_a_deciding_record_address_comes_first():
    decision = decide(subject_mail('S00456', to=['purchase+123@example.com']), FakeLookup(), CODEC, ON)
    assert decision.stage == 'record_address'


# -- who may post by subject ------------------------------------------------------

def test_a_known_sender_needs_authentication_when_servers_are_trusted():
    assert decide(subject_mail('P00123', auth=PASS), FakeLookup(), CODEC, TRUSTING).stage == 'subject_reference'
    forged = decide(subject_mail('P00123', auth=FAIL), FakeLookup(), CODEC, TRUSTING)
    assert forged.stage == 'quarantine'
    assert 'but DMARC failed for supplier.example per mx.example.com' in forged.reason
    unsaid = decide(subject_mail('P00123'), FakeLookup(), CODEC, TRUSTING)
    assert unsaid.stage == 'quarantine' and 'no Authentication-Results from mx.example.com' in unsaid.reason


def test_an_authenticated_colleague_at_the_partner_s_domain_lands():
    decision = decide(subject_mail('P00123', sender='colleague@supplier.example', auth=PASS),
                      FakeLookup(), CODEC, TRUSTING)
    assert decision.stage == 'subject_reference'
    assert "at supplier.example, the domain of the record's partner, DMARC passed" in decision.reason


def test_a_colleague_whose_dmarc_failed_does_not():
    decision = decide(subject_mail('P00123', sender='colleague@supplier.example', auth=FAIL),
                      FakeLookup(), CODEC, TRUSTING)
    assert decision.stage == 'quarantine' and 'DMARC failed' in decision.reason


def test_a_colleague_counts_only_with_trusted_servers():
    decision = decide(subject_mail('P00123', sender='colleague@supplier.example', auth=PASS),
                      FakeLookup(), CODEC, ON)
    assert decision.stage == 'quarantine' and 'only with trusted authentication servers' in decision.reason


def test_a_public_mail_domain_is_no_organisation():
    lookup = FakeLookup(domains={('purchase.order', 123): {'gmail.com'}})
    decision = decide(subject_mail('P00123', sender='someone@gmail.com', auth=PASS), lookup, CODEC, TRUSTING)
    assert decision.stage == 'quarantine' and 'gmail.com is a public mail domain' in decision.reason


def test_another_domain_is_no_colleague():
    decision = decide(subject_mail('P00123', sender='someone@elsewhere.example', auth=PASS),
                      FakeLookup(), CODEC, TRUSTING)
    assert decision.stage == 'quarantine' and 'is not the domain of its partner' in decision.reason


def test_no_sender_never_posts_by_subject():
    decision = decide(subject_mail('P00123', sender=''), FakeLookup(), CODEC, ON)
    assert decision.stage == 'quarantine' and 'has no sender' in decision.reason


def test_the_trace_shows_why_the_stage_passed():
    steps = dict(trace(subject_mail('P00123', sender='stranger@x.org'), FakeLookup(), CODEC, ON))
    assert 'stranger@x.org is unknown' in steps['subject_reference'].reason
    assert steps['catchall'].reason.endswith(steps['subject_reference'].reason)


@settings(database=None, max_examples=200)
@given(st.text(max_size=200),
       st.sampled_from(['vendor@supplier.example', 'stranger@x.org', 'colleague@supplier.example']),
       st.sampled_from([ON, TRUSTING]), st.sampled_from([None, PASS, FAIL]))
def test_only_an_allowed_sender_ever_reaches_a_record_by_subject(subject, sender, config, auth):
    decision = decide(subject_mail(subject, sender=sender, auth=auth), FakeLookup(), CODEC, config)
    if decision.stage == 'subject_reference':
        assert 'P00123'.casefold() in subject.casefold()
        assert sender == 'vendor@supplier.example' or (config is TRUSTING and auth == PASS)
        assert config is ON or auth == PASS
