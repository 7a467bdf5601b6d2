"""Record reply addresses (alias+<id>-<signature>@, catchall+<model>-<id>-<signature>@) and
sender trust from the Authentication-Results of our own servers."""
from dataclasses import replace

import pytest
from test_core_chain import CONFIG, PO_RFQ, FakeLookup, mail

from routing.authentication import parse, verdict
from routing.chain import RoutingConfig, decide
from routing.message_id import MessageIdCodec, parse_catchall_tag

CODEC = MessageIdCodec(b'per-database secret')
TRUSTING = replace(CONFIG, trusted_authserv_ids=('mx.example.com',))
KNOWN = 'vendor@supplier.example'  # FakeLookup: known to purchase.order 123


def catchall_address(model, res_id):
    return f'catchall+{CODEC.catchall_address_tag(model, res_id)}@example.com'


# -- the address form ---------------------------------------------------------

@pytest.mark.parametrize('model', ['purchase.order', 'mail.router.test.ticket', 'res.partner'])
def test_catchall_tag_names_model_and_record_signed(model):
    tag = CODEC.catchall_address_tag(model, 123)
    found = parse_catchall_tag(tag)
    assert found[:2] == (model, 123)
    assert CODEC.check_record(model, 123, found[2])
    assert parse_catchall_tag(tag.upper()) == found, 'servers may change the case'


def test_a_tampered_tag_does_not_verify():
    model, res_id, signature = parse_catchall_tag(CODEC.catchall_address_tag('purchase.order', 123))
    assert not CODEC.check_record('purchase.order', 124, signature)
    assert not CODEC.check_record('sale.order', 123, signature)
    flipped = signature[:-1] + ('0' if signature[-1] != '0' else '1')
    assert not CODEC.check_record(model, res_id, flipped)


@pytest.mark.parametrize('tag', ['123', '123-0000000000000000', 'purchase.order-123', 'Purchase Order-1-x', ''])
def test_other_tags_are_no_catchall_tags(tag):
    assert parse_catchall_tag(tag) is None


def test_the_alias_and_catchall_forms_share_one_signature():
    alias_tag = CODEC.record_address_tag('purchase.order', 7)
    assert CODEC.catchall_address_tag('purchase.order', 7) == f'purchase.order-{alias_tag}'


# -- routing on it ------------------------------------------------------------

def test_signed_catchall_address_routes_without_any_thread_header():
    decision = decide(mail(to=[catchall_address('purchase.order', 123)], sender='stranger@x.org'),
                      FakeLookup(), CODEC, CONFIG)
    assert (decision.stage, decision.targets[0].model, decision.targets[0].res_id) == (
        'record_address', 'purchase.order', 123)
    assert 'validly signed' in decision.reason


def test_wrongly_signed_catchall_address_is_quarantined_even_from_a_known_sender():
    address = 'catchall+purchase.order-123-0000000000000000@example.com'
    decision = decide(mail(to=[address], sender=KNOWN), FakeLookup(), CODEC, CONFIG)
    assert decision.stage == 'quarantine'
    assert 'not validly signed' in decision.reason


def test_a_wrong_signature_never_routes_whoever_sends_it():
    decision = decide(mail(to=['purchase+123-0000000000000000@example.com'], sender=KNOWN),
                      FakeLookup(), CODEC, CONFIG)
    assert decision.stage == 'quarantine'
    assert 'a wrong signature never routes' in decision.reason


def test_thread_headers_still_come_first():
    decision = decide(mail(in_reply_to=[PO_RFQ], to=[catchall_address('sale.order', 456)]),
                      FakeLookup(), CODEC, CONFIG)
    assert decision.stage == 'in_reply_to'


# -- Authentication-Results ---------------------------------------------------

PASS = 'mx.example.com; dmarc=pass (p=reject) header.from=supplier.example; spf=pass smtp.mailfrom=supplier.example'
FAIL = 'mx.example.com; dmarc=fail (p=none dis=none) header.from=supplier.example'
DKIM_ONLY = 'mx.example.com 1; dkim=pass header.d=mail.supplier.example header.s=s1 header.b=abc'
FORGED_BELOW = 'mx.example.com; dmarc=pass header.from=supplier.example'
UNTRUSTED = 'mx.attacker.example; dmarc=pass header.from=supplier.example'


def test_parse_reads_server_methods_and_properties():
    server, results = parse('MX.Example.com (comment); DKIM=pass (good) header.d="supplier.example"; spf=none')
    assert server == 'mx.example.com'
    assert results == (('dkim', 'pass', {'header.d': 'supplier.example'}), ('spf', 'none', {}))


@pytest.mark.parametrize('headers, authenticated, reason', [
    ([PASS], True, 'DMARC passed for supplier.example per mx.example.com'),
    ([FAIL], False, 'DMARC failed for supplier.example per mx.example.com'),
    ([DKIM_ONLY], True, 'DKIM passed for mail.supplier.example'),
    ([FAIL, FORGED_BELOW], False, 'DMARC failed'),        # ours is on top: the forged one below is ignored
    ([UNTRUSTED], False, 'no Authentication-Results from mx.example.com'),
    ([], False, 'no Authentication-Results from mx.example.com'),
    (['mx.example.com; dkim=pass header.d=attacker.example'], False, 'no DMARC, nor aligned'),
    (['mx.example.com; dkim=pass header.d=example'], False, 'no DMARC, nor aligned'),
])
def test_verdict(headers, authenticated, reason):
    found = verdict(headers, ('mx.example.com',), KNOWN)
    assert found.authenticated is authenticated
    assert reason in found.reason


def test_no_trusted_server_means_not_checked():
    assert verdict([PASS], (), KNOWN) is None


def authenticated_mail(*headers, to=('purchase+123@example.com',), sender=KNOWN):
    return replace(mail(to=to, sender=sender), authentication_results=headers)


def test_dmarc_fail_quarantines_an_unsigned_plus_address_from_a_known_sender():
    decision = decide(authenticated_mail(FAIL), FakeLookup(), CODEC, TRUSTING)
    assert decision.stage == 'quarantine'
    assert 'DMARC failed for supplier.example per mx.example.com' in decision.reason


def test_dmarc_pass_lets_a_known_sender_use_an_unsigned_plus_address():
    assert decide(authenticated_mail(PASS), FakeLookup(), CODEC, TRUSTING).stage == 'record_address'


def test_a_forged_pass_below_ours_does_not_help():
    decision = decide(authenticated_mail(FAIL, FORGED_BELOW), FakeLookup(), CODEC, TRUSTING)
    assert decision.stage == 'quarantine'


def test_without_trusted_servers_from_is_taken_as_written():
    assert decide(authenticated_mail(FAIL), FakeLookup(), CODEC, CONFIG).stage == 'record_address'


def test_a_signed_address_needs_no_authentication():
    signed = f"purchase+{CODEC.record_address_tag('purchase.order', 123)}@example.com"
    decision = decide(authenticated_mail(FAIL, to=(signed,), sender='anyone@x.org'), FakeLookup(), CODEC, TRUSTING)
    assert decision.stage == 'record_address'


def test_config_is_plain_data():
    assert RoutingConfig(alias_domains=(), catchall_addresses=(), bounce_addresses=(),
                         loop_addresses=()).trusted_authserv_ids == ()
