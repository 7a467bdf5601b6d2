"""Admission: the targets the chain chose, checked as stock's route checks do (loop
headers, the model takes mail, the alias's contact policy, throttling)."""
from dataclasses import dataclass, field

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_core_chain import CODEC, CONFIG, MODEL_NAMES, PO, PO_RFQ, FakeLookup, mail

from routing.admission import STAGES, admit, judge, trace
from routing.chain import Decision, Refusal, Target, decide
from routing.outcome import Outcome

NEW_RFQ = Target('purchase.order', None, alias_id=1)
NEW_LEAD = Target('crm.lead', None, alias_id=2)
LOOP_NOTICE = '<1702500000.123456789-loop-detection-bounce-email@example.com>'


@dataclass
class FakeGate:
    """The database's answers as data: models that take no mail, aliases that refuse
    the sender, how many records the sender created lately."""
    no_mail: dict = field(default_factory=dict)        # model -> why it takes no such mail
    refusing: dict = field(default_factory=dict)       # alias id -> why the sender may not write
    created: int = 0

    def acceptance_refusal(self, target):
        return self.no_mail.get(target.model)

    def contact_refusal(self, target):
        reason = self.refusing.get(target.alias_id)
        return reason and Refusal(target, reason)

    def created_recently(self, models, minutes):
        return self.created

    def record_name(self, model, res_id):
        return f'{self.model_name(model)} #{res_id}'

    def model_name(self, model):
        return MODEL_NAMES.get(model, model)


def alias_decision(*targets):
    return Decision(Outcome.ALIAS, targets, 'purchase@example.com', 'mail to alias purchase (new purchase.order)')


def test_a_target_that_takes_the_mail_is_admitted_unchanged():
    decision = alias_decision(NEW_RFQ)
    assert admit(decision, mail(), FakeGate(), CONFIG) == decision


@pytest.mark.parametrize('gate, stage, reason', [
    (FakeGate(no_mail={'purchase.order': 'no Purchase Order is created by mail'}), 'refused',
     'no Purchase Order is created by mail'),
    (FakeGate(refusing={1: 'the alias purchase@example.com refuses the sender: restricted to known authors'}),
     'refused', 'the alias purchase@example.com refuses the sender: restricted to known authors'),
    (FakeGate(created=20), 'throttled', 'vendor@supplier.example created 20 records (Purchase Order) by mail'),
])
def test_a_refused_target_refuses_the_mail(gate, stage, reason):
    verdict = admit(alias_decision(NEW_RFQ), mail(), gate, CONFIG)
    assert verdict.stage == stage and verdict.targets == ()
    assert reason in verdict.reason


def test_one_refusing_alias_among_two_drops_only_its_target():
    verdict = admit(alias_decision(NEW_RFQ, NEW_LEAD), mail(), FakeGate(refusing={2: 'restricted to followers'}),
                    CONFIG)
    assert (verdict.stage, verdict.targets) == ('alias', (NEW_RFQ,))
    assert verdict.refusals == (Refusal(NEW_LEAD, 'restricted to followers'),)
    assert 'not restricted to followers' in verdict.reason


def test_below_the_threshold_and_replies_are_never_throttled():
    assert admit(alias_decision(NEW_RFQ), mail(), FakeGate(created=19), CONFIG).stage == 'alias'
    reply = Decision(Outcome.IN_REPLY_TO, (PO,), PO_RFQ, 'a reply')
    assert admit(reply, mail(), FakeGate(created=1000), CONFIG) == reply


def test_an_answer_to_our_loop_notice_is_a_loop_whatever_the_chain_decided():
    for decision in (Decision(Outcome.IN_REPLY_TO, (PO,), PO_RFQ, 'a reply'), alias_decision(NEW_RFQ),
                     Decision(Outcome.QUARANTINE, (), None, 'nothing matched')):
        verdict = admit(decision, mail(references=[PO_RFQ, LOOP_NOTICE]), FakeGate(), CONFIG)
        assert (verdict.stage, verdict.matched, verdict.targets) == ('loop', LOOP_NOTICE, ())


def test_an_administrators_choice_is_only_checked_for_the_model_taking_mail():
    manual = Decision(Outcome.MANUAL, (PO,), None, 'routed by hand')
    gate = FakeGate(refusing={None: 'never asked'}, created=1000)
    assert admit(manual, mail(references=[LOOP_NOTICE]), gate, CONFIG) == manual
    refused = admit(manual, mail(), FakeGate(no_mail={'purchase.order': 'takes no mail'}), CONFIG)
    assert refused.stage == 'refused'


def test_trace_runs_the_chain_then_admission_up_to_the_stage_that_refuses():
    lookup = FakeLookup()
    steps = trace(mail(to=['purchase@example.com']), lookup, FakeGate(refusing={1: 'restricted'}), CODEC, CONFIG)
    names = [name for name, _decision in steps]
    assert names[-4:] == ['loop_headers', 'acceptance', 'contact_policy', 'verdict']
    assert names[-5] == 'alias'
    assert steps[-1][1].stage == 'refused'
    assert judge(mail(to=['purchase@example.com']), lookup, FakeGate(refusing={1: 'restricted'}), CODEC,
                 CONFIG) == steps[-1][1]


@settings(database=None, max_examples=60)
@given(st.lists(st.sampled_from([PO_RFQ, LOOP_NOTICE, '<x@y.example>']), max_size=3),
       st.lists(st.sampled_from(['catchall@example.com', 'purchase@example.com', 'sales@example.com',
                                 'nobody@example.com']), max_size=3),
       st.sampled_from([FakeGate(), FakeGate(created=25), FakeGate(refusing={1: 'no'}),
                        FakeGate(no_mail={'crm.lead': 'no'})]))
def test_admission_only_ever_removes_targets(references, to, gate):
    incoming = mail(references=references, to=to)
    decision = decide(incoming, FakeLookup(), CODEC, CONFIG)
    verdict = admit(decision, incoming, gate, CONFIG)
    assert set(verdict.targets) <= set(decision.targets)
    assert bool(verdict.targets) == (verdict.stage in {'in_reply_to', 'references', 'record_address', 'alias'})
    assert verdict.reason
    assert {stage.__name__ for stage in STAGES} == {'loop_headers', 'acceptance', 'contact_policy', 'throttling'}
