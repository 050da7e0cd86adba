"""No path through the decision engine raises: every input ends in a decision with a reason."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gate_node.decision.engine import Engine, LaneContext, SiteRules
from gate_node.ledger import Ledger
from keys.base45 import ALPHABET
from keys.claims import TicketClaims
from keys.reasons import Reason
from keys.revocation import RevocationList
from keys.ticket import PREFIX, issue_ticket

instants = st.datetimes(
    min_value=datetime(1971, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)
)
payloads = st.one_of(
    st.text(max_size=500),
    st.text(alphabet=ALPHABET, max_size=300).map(lambda t: PREFIX + t),
    st.binary(max_size=300).map(lambda b: b.decode("latin-1")),
)
settings_ = settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@given(payload=payloads, now=instants, direction=st.sampled_from(["in", "out"]))
@settings_
def test_any_payload_at_any_instant_gets_a_reason(
    tmp_path_factory, keyring, payload, now, direction
):
    ledger = Ledger(tmp_path_factory.mktemp("l") / "l.sqlite", "G1")
    engine = Engine(
        keyring,
        RevocationList(),
        ledger,
        SiteRules(exit_requires_entry=True),
        LaneContext("G1", 1, direction),
        holder_salt=bytes(16),
    )
    decision = engine.decide(payload, now)
    assert isinstance(decision.reason, Reason) and not decision.grant
    assert isinstance(engine.decide_card("id_card", payload, now).reason, Reason)
    ledger.close()


claims = st.builds(
    TicketClaims,
    ticket_id=st.binary(min_size=6, max_size=16),
    product=st.integers(0, 2**32 - 1),
    valid_from=st.just(date(2026, 11, 24)),
    valid_until=st.dates(min_value=date(2026, 11, 24), max_value=date(2027, 12, 31)),
    slot_start=st.none(),
    slot_end=st.none(),
    entries=st.integers(0, 3),
    entries_per_day=st.none() | st.integers(1, 3),
    zones=st.none() | st.lists(st.integers(0, 5), min_size=1, max_size=3, unique=True).map(tuple),
    group_size=st.integers(1, 50),
)


@given(ticket_claims=claims, offsets=st.lists(st.integers(-2000, 600_000), max_size=6))
@settings_
def test_valid_tickets_decided_repeatedly_never_raise_and_never_overrun_entries(
    tmp_path_factory, keyring, issuer_key, ticket_claims, offsets
):
    ledger = Ledger(tmp_path_factory.mktemp("l") / "l.sqlite", "G1")
    engine = Engine(keyring, RevocationList(), ledger, SiteRules(), LaneContext("G1", 1))
    text = issue_ticket(issuer_key, ticket_claims)
    start = datetime(2026, 11, 24, 2, tzinfo=UTC)
    admitted = 0
    for offset in sorted(offsets):
        now = start + timedelta(minutes=offset)
        decision = engine.decide(text, now)
        assert isinstance(decision.reason, Reason)
        if decision.grant:
            engine.admit(decision, now)
            admitted += 1
    if not ticket_claims.unlimited:
        assert admitted <= ticket_claims.entries
    ledger.close()
