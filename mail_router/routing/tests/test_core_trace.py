"""trace(): what the routing simulator shows, stage by stage; decide() is its last step."""
from test_core_chain import CODEC, CONFIG, PO, PO_RFQ, FakeLookup, mail

from routing.chain import STAGES, looked_at, trace


def test_the_trace_runs_the_stages_in_order_up_to_the_one_that_decides():
    steps = trace(mail(in_reply_to=[PO_RFQ]), FakeLookup(), CODEC, CONFIG)
    assert [name for name, _ in steps] == ['bounce', 'loop', 'in_reply_to']
    assert [decision for _, decision in steps[:-1]] == [None, None]
    assert steps[-1][1].stage == 'in_reply_to' and steps[-1][1].targets == (PO,)


def test_a_mail_that_routes_nowhere_is_traced_through_every_stage():
    steps = trace(mail(to=['nobody@example.com']), FakeLookup(), CODEC, CONFIG)
    assert [name for name, _ in steps] == [stage.__name__ for stage in STAGES]
    assert steps[-1][1].stage == 'quarantine'


def test_every_stage_says_what_it_reads():
    incoming = mail(in_reply_to=[PO_RFQ], to=['purchase@example.com'])
    assert PO_RFQ in looked_at('in_reply_to', incoming)
    assert 'purchase@example.com' in looked_at('alias', incoming)
    assert all(looked_at(stage.__name__, incoming) for stage in STAGES)
