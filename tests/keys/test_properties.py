"""Whatever a camera reads, verification answers with a reason and never raises."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from keys.base45 import ALPHABET, b45encode
from keys.claims import TicketClaims
from keys.reasons import Reason
from keys.ticket import PREFIX, issue_ticket, verify_ticket

FIXTURES = [HealthCheck.function_scoped_fixture]


@given(st.binary(max_size=400))
@settings(suppress_health_check=FIXTURES)
def test_any_bytes_behind_our_prefix_give_a_reason(keyring, raw):
    result = verify_ticket(PREFIX + b45encode(raw), keyring)
    assert isinstance(result.reason, Reason)
    assert not result.valid  # nobody guesses an Ed25519 signature


@given(st.text(alphabet=ALPHABET, max_size=420))
@settings(suppress_health_check=FIXTURES)
def test_any_base45_text_gives_a_reason(keyring, text):
    assert not verify_ticket(PREFIX + text, keyring).valid


@given(st.text(max_size=500))
@settings(suppress_health_check=FIXTURES)
def test_any_unicode_text_gives_a_reason(keyring, text):
    assert isinstance(verify_ticket(text, keyring).reason, Reason)


@given(data=st.data())
@settings(suppress_health_check=FIXTURES, max_examples=300)
def test_any_mutation_of_a_valid_ticket_is_refused(issuer_key, keyring, day_claims, data):
    text = issue_ticket(issuer_key, day_claims)
    position = data.draw(st.integers(0, len(text) - 1))
    operation = data.draw(st.sampled_from(["replace", "delete", "insert"]))
    char = data.draw(st.sampled_from(ALPHABET))
    if operation == "replace":
        mutated = text[:position] + char + text[position + 1 :]
    elif operation == "delete":
        mutated = text[:position] + text[position + 1 :]
    else:
        mutated = text[:position] + char + text[position:]
    result = verify_ticket(mutated, keyring)
    assert result.valid == (mutated == text)


claims_strategy = st.builds(
    TicketClaims,
    ticket_id=st.binary(min_size=6, max_size=16),
    product=st.integers(0, 2**32 - 1),
    valid_from=st.just(__import__("datetime").date(2026, 5, 1)),
    valid_until=st.dates(
        min_value=__import__("datetime").date(2026, 5, 1),
        max_value=__import__("datetime").date(2099, 12, 31),
    ),
    entries=st.integers(0, 65535),
    group_size=st.integers(1, 1000),
    zones=st.none()
    | st.lists(st.integers(0, 65535), min_size=1, max_size=8, unique=True).map(tuple),
    holder=st.none() | st.binary(min_size=8, max_size=32),
)


@given(claims_strategy)
@settings(suppress_health_check=FIXTURES)
def test_any_valid_claims_survive_issue_and_verify(issuer_key, keyring, claims):
    result = verify_ticket(issue_ticket(issuer_key, claims), keyring)
    assert result.reason is Reason.OK
    assert result.claims == claims
