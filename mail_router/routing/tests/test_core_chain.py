"""The resolver chain: which stage decides, given which headers, recipients and
database contents. The table below is the routing order of the spec."""
from dataclasses import dataclass, field

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from routing.chain import STAGES, Alias, Decision, Referenced, RoutingConfig, Target, decide
from routing.incoming import IncomingMail
from routing.message_id import MessageIdCodec

CODEC = MessageIdCodec(b'per-database secret')
CONFIG = RoutingConfig(
    alias_domains=('example.com',),
    catchall_addresses=('catchall@example.com',),
    bounce_addresses=('bounce@example.com',),
    loop_addresses=('catchall@example.com', 'bounce@example.com', 'notifications@example.com'),
)
WITH_DEFAULT = RoutingConfig(**{**CONFIG.__dict__, 'default_model': 'crm.lead'})

PURCHASE = Alias(1, 'purchase', 'example.com', 'purchase.order', None, False)
SALES = Alias(2, 'sales', 'example.com', 'crm.lead', None, False)
SUPPORT = Alias(3, 'support', None, 'helpdesk.ticket', None, False)      # no domain: matches nothing (stock)
JOBS = Alias(4, 'jobs', 'example.com', 'hr.applicant', None, True)       # local part, any domain
BOARD = Alias(5, 'board', 'example.com', 'project.task', 77, False)      # posts on task 77
ARCHIVE = Alias(6, 'archive', 'example.com', 'project.task', 78, False)  # task 78 was deleted


def signed_id(model, res_id, timestamp=1702500000):
    return CODEC.encode(model, res_id, 'example.com', timestamp=timestamp, nonce='3f9a1c0b7e')


PO_RFQ = signed_id('purchase.order', 123)                  # stored: the RFQ sent from PO0001
PO_LATER = signed_id('purchase.order', 124)                # its mail.message was deleted
PO_GONE = signed_id('purchase.order', 999)                 # the PO itself was deleted
SO_QUOTE = '<CAF=quote@mail.gmail.com>'                    # stored, on sale.order 456
GONE_THREAD = '<old@vendor.example>'                       # stored, on a deleted record
PO_FOLLOW_UP = '<follow-up@odoo.example>'                  # stored on PO 123 too, after the RFQ
FORGED = '<purchase.order-123-1702500000-3f9a1c0b7e-0000000000000000@example.com>'
UNSIGNED = '<purchase.order-123-1702500000@example.com>'   # the seed's form, stock's ids
PO_TAG = CODEC.record_address_tag('purchase.order', 123)
BAD_TAG = '123-0000000000000000'


# how the screens call the models (ir.model's description)
MODEL_NAMES = {'purchase.order': 'Purchase Order', 'sale.order': 'Sales Order', 'crm.lead': 'Lead/Opportunity',
               'project.task': 'Task', 'hr.applicant': 'Applicant', 'helpdesk.ticket': 'Helpdesk Ticket'}


@dataclass
class FakeLookup:
    """The database as dicts; counts the calls that must happen once per mail."""
    messages: dict = field(default_factory=lambda: {
        PO_RFQ: Target('purchase.order', 123, parent_id=501),
        SO_QUOTE: Target('sale.order', 456, parent_id=601),
        GONE_THREAD: Target('purchase.order', 998, parent_id=701),
        PO_FOLLOW_UP: Target('purchase.order', 123, parent_id=502),
    })
    records: set = field(default_factory=lambda: {
        ('purchase.order', 123), ('purchase.order', 124), ('sale.order', 456), ('project.task', 77)})
    known: set = field(default_factory=lambda: {('purchase.order', 123, 'vendor@supplier.example')})
    aliases: tuple = (PURCHASE, SALES, SUPPORT, JOBS, BOARD, ARCHIVE)
    # (model, res_id) -> (its reference, its company id or None)
    references: dict = field(default_factory=lambda: {
        ('purchase.order', 123): ('P00123', 1), ('purchase.order', 124): ('P00124', 1),
        ('sale.order', 456): ('S00456', 1)})
    # (model, res_id) -> the domains of its partners' companies
    domains: dict = field(default_factory=lambda: {('purchase.order', 123): {'supplier.example'}})
    calls: list = field(default_factory=list)

    def threads_by_message_ids(self, message_ids):
        self.calls.append(('threads_by_message_ids', tuple(message_ids)))
        return {msgid: self.messages[msgid] for msgid in message_ids if msgid in self.messages}

    def record_exists(self, model, res_id):
        return (model, res_id) in self.records

    def aliases_for(self, addresses):
        self.calls.append(('aliases_for', tuple(addresses)))
        # By local part only, so more than matches: the chain must filter.
        local_parts = {address.rpartition('@')[0] for address in addresses}
        return [alias for alias in self.aliases if alias.name in local_parts]

    def sender_known_to(self, model, res_id, email):
        return (model, res_id, email) in self.known

    def records_by_reference(self, tokens, models, companies):
        self.calls.extend(('records_by_reference', model, tuple(tokens)) for model in models)  # a query each
        folded = {token.casefold() for token in tokens}
        return [Referenced(model, res_id, reference)
                for (model, res_id), (reference, company) in self.references.items()
                if model in models and reference.casefold() in folded and company in {None, *companies}]

    def partner_domains(self, model, res_id):
        return self.domains.get((model, res_id), set())

    def record_name(self, model, res_id):
        return f'{MODEL_NAMES.get(model, model)} #{res_id}'

    def model_name(self, model):
        return MODEL_NAMES.get(model, model)


def mail(*, in_reply_to=(), references=(), sender='vendor@supplier.example',
         to=('catchall@example.com',), cc=(), kind=None, subject='Re: RFQ') -> IncomingMail:
    return IncomingMail(
        message_id='<new@supplier.example>', message_id_synthetic=False, in_reply_to=tuple(in_reply_to),
        references=tuple(references), from_email=sender, recipients=tuple(to) + tuple(cc), to=tuple(to),
        subject=subject, kind=kind)


PO = Target('purchase.order', 123, parent_id=501)
NEW_LEAD = Target('crm.lead', None)

CASES = {
    # -- in_reply_to and references
    'In-Reply-To of a stored message':
        (mail(in_reply_to=[PO_RFQ]), CONFIG, 'in_reply_to', (PO,), PO_RFQ),
    'In-Reply-To wins over a conflicting References':
        (mail(in_reply_to=[PO_RFQ], references=[SO_QUOTE]), CONFIG, 'in_reply_to', (PO,), PO_RFQ),
    'several ids in In-Reply-To: the first that routes':
        (mail(in_reply_to=['<unknown@x.org>', PO_RFQ, SO_QUOTE]), CONFIG, 'in_reply_to', (PO,), PO_RFQ),
    'References, newest id first':
        (mail(references=[PO_RFQ, SO_QUOTE]), CONFIG, 'references',
         (Target('sale.order', 456, parent_id=601),), SO_QUOTE),
    'References when In-Reply-To names nothing known':
        (mail(in_reply_to=['<unknown@x.org>'], references=[PO_RFQ, '<unknown@x.org>']), CONFIG,
         'references', (PO,), PO_RFQ),
    'References: the parent is the newest stored message of the thread, as stock':
        (mail(references=[PO_FOLLOW_UP, PO_RFQ]), CONFIG, 'references',
         (Target('purchase.order', 123, parent_id=502),), PO_RFQ),
    'deleted original message, signed id still routes':
        (mail(in_reply_to=[PO_LATER]), CONFIG, 'in_reply_to', (Target('purchase.order', 124),), PO_LATER),
    'signed id in References, original deleted':
        (mail(references=[PO_LATER]), CONFIG, 'references', (Target('purchase.order', 124),), PO_LATER),
    'forged signature does not route by decoding':
        (mail(in_reply_to=[FORGED], references=[FORGED]), CONFIG, 'quarantine', (), 'catchall@example.com'),
    'unsigned id of the seed form does not route':
        (mail(in_reply_to=[UNSIGNED]), WITH_DEFAULT, 'catchall_default', (NEW_LEAD,), 'catchall@example.com'),
    'deleted record: next id':
        (mail(in_reply_to=[PO_GONE, GONE_THREAD, PO_RFQ]), CONFIG, 'in_reply_to', (PO,), PO_RFQ),
    'deleted record: next stage':
        (mail(in_reply_to=[PO_GONE], references=[GONE_THREAD], to=['purchase@example.com']), CONFIG,
         'alias', (Target('purchase.order', None, 1),), 'purchase@example.com'),
    'reply to an alias of the same model keeps the thread':
        (mail(in_reply_to=[PO_RFQ], to=['purchase@example.com']), CONFIG, 'in_reply_to',
         (Target('purchase.order', 123, 1, 501),), PO_RFQ),
    'forward: an alias of another model decides':
        (mail(in_reply_to=[PO_RFQ], to=['catchall@example.com', 'sales@example.com']), CONFIG,
         'alias', (Target('crm.lead', None, 2),), 'sales@example.com'),
    'an alias of another model in Cc is no forward (To > Cc)':
        (mail(in_reply_to=[PO_RFQ], cc=['sales@example.com']), CONFIG, 'in_reply_to', (PO,), PO_RFQ),
    'forward: the same-model alias it was also sent to is ignored':
        (mail(in_reply_to=[PO_RFQ], to=['purchase@example.com', 'sales@example.com']), CONFIG,
         'alias', (Target('crm.lead', None, 2),), 'sales@example.com'),
    'forward found through References too':
        (mail(references=[PO_RFQ], to=['sales@example.com']), CONFIG,
         'alias', (Target('crm.lead', None, 2),), 'sales@example.com'),
    # -- hygiene first
    'bounce, even when it quotes a thread':
        (mail(in_reply_to=[PO_RFQ], sender='mailer-daemon@mx.example.org', kind='bounce'), CONFIG,
         'bounce', (), 'mailer-daemon@mx.example.org'),
    'bounce address among the recipients':
        (mail(to=['bounce@example.com']), WITH_DEFAULT, 'bounce', (), 'bounce@example.com'),
    'VERP bounce address':
        (mail(to=['bounce+42-mail.mail-7@example.com']), WITH_DEFAULT, 'bounce', (),
         'bounce+42-mail.mail-7@example.com'),
    'loop: from our own notifications address':
        (mail(in_reply_to=[PO_RFQ], sender='notifications@example.com'), WITH_DEFAULT, 'loop', (),
         'notifications@example.com'),
    # -- auto-replies
    'auto-reply on a thread is posted':
        (mail(in_reply_to=[PO_RFQ], kind='auto_reply'), CONFIG, 'in_reply_to', (PO,), PO_RFQ),
    'auto-reply to an alias is dropped':
        (mail(to=['purchase@example.com'], kind='auto_reply'), WITH_DEFAULT, 'auto_reply', (),
         'vendor@supplier.example'),
    'auto-reply to the catchall is dropped, never bounced':
        (mail(kind='auto_reply'), CONFIG, 'auto_reply', (), 'vendor@supplier.example'),
    'auto-reply to a record address is dropped':
        (mail(to=[f'purchase+{PO_TAG}@example.com'], kind='auto_reply'), CONFIG, 'auto_reply', (),
         'vendor@supplier.example'),
    # -- record addresses
    'plus address, signed':
        (mail(to=[f'purchase+{PO_TAG}@example.com'], sender='stranger@x.org'), CONFIG, 'record_address',
         (Target('purchase.order', 123, 1),), f'purchase+{PO_TAG}@example.com'),
    'plus address, signed, upper-cased by a server':
        (mail(to=[f'purchase+{PO_TAG.upper()}@example.com'], sender='stranger@x.org'), CONFIG,
         'record_address', (Target('purchase.order', 123, 1),), f'purchase+{PO_TAG.upper()}@example.com'),
    'plus address, unsigned, sender known to the record':
        (mail(to=['purchase+123@example.com']), CONFIG, 'record_address',
         (Target('purchase.order', 123, 1),), 'purchase+123@example.com'),
    'plus address, bad signature, even from a sender known to the record':
        (mail(to=[f'purchase+{BAD_TAG}@example.com']), CONFIG, 'quarantine', (), f'purchase+{BAD_TAG}@example.com'),
    'plus address, unsigned, sender unknown':
        (mail(to=['purchase+123@example.com'], sender='stranger@x.org'), WITH_DEFAULT, 'quarantine', (),
         'purchase+123@example.com'),
    'plus address, bad signature, sender unknown':
        (mail(to=[f'purchase+{BAD_TAG}@example.com'], sender='stranger@x.org'), WITH_DEFAULT,
         'quarantine', (), f'purchase+{BAD_TAG}@example.com'),
    'plus address, no sender at all':
        (mail(to=['purchase+123@example.com'], sender=''), WITH_DEFAULT, 'quarantine', (),
         'purchase+123@example.com'),
    'plus address, known sender but another record':
        (mail(to=['purchase+124@example.com']), CONFIG, 'quarantine', (), 'purchase+124@example.com'),
    'plus address, signed, deleted record: next stage':
        (mail(to=[f'purchase+{CODEC.record_address_tag("purchase.order", 999)}@example.com']), WITH_DEFAULT,
         'catchall_default', (NEW_LEAD,), f'purchase+{CODEC.record_address_tag("purchase.order", 999)}@example.com'),
    'plus address on no alias':
        (mail(to=['nobody+123@example.com']), CONFIG, 'quarantine', (), 'nobody+123@example.com'),
    'plus tag that names no record':
        (mail(to=['purchase+promo@example.com']), WITH_DEFAULT, 'catchall_default', (NEW_LEAD,),
         'purchase+promo@example.com'),
    # -- aliases
    'alias: a new record':
        (mail(to=['purchase@example.com']), CONFIG, 'alias', (Target('purchase.order', None, 1),),
         'purchase@example.com'),
    'alias on another domain does not match':
        (mail(to=['purchase@other.example']), WITH_DEFAULT, 'catchall_default', (NEW_LEAD,), None),
    'alias without domain matches nothing, as in stock':
        (mail(to=['support@example.com']), CONFIG, 'quarantine', (), 'support@example.com'),
    'alias without domain, on a foreign domain':
        (mail(to=['support@other.example']), CONFIG, 'quarantine', (), None),
    'alias matched on local part (incoming_local)':
        (mail(to=['jobs@other.example']), CONFIG, 'alias', (Target('hr.applicant', None, 4),),
         'jobs@other.example'),
    'local part on a domain not allowed (mail.catchall.domain.allowed)':
        (mail(to=['jobs@other.example']), RoutingConfig(**{**CONFIG.__dict__, 'local_part_domains': ('ok.example',)}),
         'quarantine', (), None),
    'local part on an allowed domain':
        (mail(to=['jobs@ok.example']), RoutingConfig(**{**CONFIG.__dict__, 'local_part_domains': ('ok.example',)}),
         'alias', (Target('hr.applicant', None, 4),), 'jobs@ok.example'),
    'two aliases: two targets':
        (mail(to=['purchase@example.com', 'catchall@example.com', 'sales@example.com']), CONFIG, 'alias',
         (Target('purchase.order', None, 1), Target('crm.lead', None, 2)),
         'purchase@example.com, sales@example.com'),
    'alias with a forced thread':
        (mail(to=['board@example.com']), CONFIG, 'alias', (Target('project.task', 77, 5),), 'board@example.com'),
    'alias whose forced thread was deleted: next stage':
        (mail(to=['archive@example.com']), WITH_DEFAULT, 'catchall_default', (NEW_LEAD,), 'archive@example.com'),
    # -- catchall
    'catchall with a default model':
        (mail(), WITH_DEFAULT, 'catchall_default', (NEW_LEAD,), 'catchall@example.com'),
    'catchall without default model':
        (mail(), CONFIG, 'quarantine', (), 'catchall@example.com'),
    'unknown local part on our domain':
        (mail(to=['someone@other.example', 'nobody@example.com']), CONFIG, 'quarantine', (),
         'nobody@example.com'),
    'no recipient at all':
        (mail(to=[]), WITH_DEFAULT, 'catchall_default', (NEW_LEAD,), None),
}


@pytest.mark.parametrize('incoming, config, stage, targets, matched', CASES.values(), ids=CASES.keys())
def test_stage_table(incoming, config, stage, targets, matched):
    decision = decide(incoming, FakeLookup(), CODEC, config)
    assert (decision.stage, decision.targets, decision.matched) == (stage, targets, matched)
    assert decision.reason


def test_the_stages_run_in_the_order_of_the_spec():
    assert [stage.__name__ for stage in STAGES] == [
        'bounce', 'loop', 'in_reply_to', 'references', 'auto_reply', 'record_address', 'subject_reference', 'alias',
        'catchall']


@pytest.mark.parametrize('to, bounce_sender', [
    (['catchall@example.com'], True),
    (['nobody@example.com'], True),
    (['someone@other.example'], False),  # not written to us: maybe a forged or misdelivered copy
    ([], False),
])
def test_quarantine_may_tell_the_sender_only_when_the_mail_was_written_to_us(to, bounce_sender):
    decision = decide(mail(to=to), FakeLookup(), CODEC, CONFIG)
    assert decision.stage == 'quarantine' and decision.bounce_sender is bounce_sender


def test_an_unauthorised_plus_address_is_quarantined_with_its_reason_and_no_bounce():
    decision = decide(mail(to=['purchase+123@example.com'], sender='stranger@x.org'),
                      FakeLookup(), CODEC, CONFIG)
    assert 'not validly signed' in decision.reason and 'stranger@x.org' in decision.reason
    assert decision.bounce_sender is False


def test_an_unauthorised_plus_address_does_not_tell_whether_the_record_exists():
    lookup = FakeLookup()
    existing = decide(mail(to=['purchase+124@example.com']), lookup, CODEC, CONFIG)
    missing = decide(mail(to=['purchase+998@example.com']), lookup, CODEC, CONFIG)
    assert existing.stage == missing.stage == 'quarantine'


def test_one_lookup_of_messages_and_one_of_aliases_per_mail():
    lookup = FakeLookup()
    decide(mail(in_reply_to=['<a@x>', PO_RFQ], references=[PO_RFQ, SO_QUOTE],
                to=['catchall@example.com', 'purchase+123@example.com']), lookup, CODEC, CONFIG)
    assert sorted(lookup.calls) == [
        ('aliases_for', ('purchase+123@example.com', 'purchase@example.com')),
        ('threads_by_message_ids', ('<a@x>', PO_RFQ, SO_QUOTE)),
    ]


def test_a_reply_to_the_catchall_costs_no_alias_lookup():
    lookup = FakeLookup()
    decision = decide(mail(in_reply_to=[PO_RFQ], to=['catchall@example.com', 'catchall+x@example.com']),
                      lookup, CODEC, CONFIG)
    assert decision.stage == 'in_reply_to'
    assert [name for name, _args in lookup.calls] == ['threads_by_message_ids']


def test_no_lookup_for_what_the_mail_does_not_name():
    lookup = FakeLookup()
    decide(mail(to=[]), lookup, CODEC, CONFIG)
    assert lookup.calls == []


def test_addresses_from_the_database_may_have_any_case():
    shouting = RoutingConfig(('EXAMPLE.COM',), ('Catchall@Example.com',), ('Bounce@Example.com',),
                             ('Notifications@Example.com',))
    lookup = FakeLookup(aliases=(Alias(9, 'Purchase', 'Example.COM', 'purchase.order', None, False),))
    lookup.aliases_for = lambda addresses: lookup.aliases
    assert decide(mail(to=['purchase@example.com']), lookup, CODEC, shouting).stage == 'alias'
    assert decide(mail(to=['bounce@example.com']), lookup, CODEC, shouting).stage == 'bounce'
    assert decide(mail(sender='notifications@example.com'), lookup, CODEC, shouting).stage == 'loop'
    assert decide(mail(), lookup, CODEC, shouting).matched == 'catchall@example.com'


model_names = st.sampled_from(['purchase.order', 'sale.order', 'crm.lead'])
record_ids = st.integers(min_value=1, max_value=2**31)


@settings(database=None, max_examples=50)
@given(model_names, record_ids, st.binary(min_size=8, max_size=8).map(bytes.hex))
def test_a_guessed_id_never_reaches_a_record(model, res_id, signature):
    # Every record exists and nothing is stored: only decoding could route.
    guessed = f'<{model}-{res_id}-1702500000-3f9a1c0b7e-{signature}@example.com>'
    lookup = FakeLookup(messages={}, records=set(), known=set())
    lookup.record_exists = lambda model, res_id: True
    decision = decide(mail(in_reply_to=[guessed], references=[guessed],
                           to=[f'purchase+{res_id}-{signature}@example.com']), lookup, CODEC, CONFIG)
    assert decision.stage == 'quarantine' and decision.targets == ()


@settings(database=None, max_examples=50)
@given(st.lists(st.sampled_from([PO_RFQ, PO_LATER, PO_GONE, SO_QUOTE, GONE_THREAD, FORGED, UNSIGNED]), max_size=4),
       st.lists(st.sampled_from([PO_RFQ, PO_LATER, PO_GONE, SO_QUOTE, GONE_THREAD, FORGED, UNSIGNED]), max_size=4),
       st.lists(st.sampled_from(['catchall@example.com', 'purchase@example.com', 'sales@example.com',
                                 f'purchase+{PO_TAG}@example.com', 'purchase+123@example.com',
                                 'bounce@example.com', 'nobody@example.com', 'x@other.example']), max_size=3),
       st.sampled_from([None, 'auto_reply', 'bounce']),
       st.sampled_from([CONFIG, WITH_DEFAULT]))
def test_every_mail_gets_one_explained_decision(in_reply_to, references, to, kind, config):
    decision = decide(mail(in_reply_to=in_reply_to, references=references, to=to, kind=kind),
                      FakeLookup(), CODEC, config)
    assert isinstance(decision, Decision) and decision.reason
    # in words: records and models by the names the screens give them
    assert not any(model in decision.reason for model in MODEL_NAMES), decision.reason
    # quarantined with a cause, for the advice on what to do
    assert (decision.cause is not None) == (decision.stage == 'quarantine')
    assert decision.stage in {stage.__name__ for stage in STAGES} - {'catchall'} | {'catchall_default', 'quarantine'}
    assert bool(decision.targets) == (decision.stage not in {'bounce', 'loop', 'auto_reply', 'quarantine'})
    if kind == 'auto_reply':  # never creates a record
        assert all(target.res_id is not None for target in decision.targets)


def test_the_reason_names_records_and_models_as_the_screens_do():
    lookup = FakeLookup()
    reply = decide(mail(in_reply_to=[PO_RFQ]), lookup, CODEC, CONFIG)
    assert reply.reason == 'a reply (In-Reply-To) to a message posted on Purchase Order #123'
    new = decide(mail(to=['purchase@example.com']), lookup, CODEC, CONFIG)
    assert new.reason == 'mail to the alias purchase@example.com: a new Purchase Order'
    by_default = decide(mail(), lookup, CODEC, WITH_DEFAULT)
    assert by_default.reason.startswith('no thread or alias matched: a new Lead/Opportunity')


@pytest.mark.parametrize('to, said', [
    (['nobody@example.com'], 'there is no alias nobody@example.com'),
    (['catchall@example.com'], 'it was sent to the catchall catchall@example.com'),
    (['x@other.example'], 'none of its recipients (x@other.example) is one of our addresses'),
])
def test_an_unrouted_mail_says_which_address_routed_nowhere(to, said):
    decision = decide(mail(to=to), FakeLookup(), CODEC, CONFIG)
    assert said in decision.reason and decision.cause == 'no_route'
