"""Host-signed chatter identities (data/identity.py): a valid token vouches for its claims, any other
verifies nothing and says why in the log."""

import base64
import hashlib
import hmac
import json
import logging
import time

import jwt
import pytest

from data.identity import MAX_TOKEN, Identity, label, verify

SECRET = "a-long-shared-secret-for-the-tests-" + "0123456789" * 4  # 74 bytes: enough for HS512 too
NOW = 1_800_000_000  # a fixed clock: tokens below are made relative to it
HOUR = 3600


def token(secret=SECRET, algorithm="HS256", headers=None, **claims):
    claims = {"name": "Vera Verified", "email": "vera@example.com", "exp": NOW + HOUR, **claims}
    return jwt.encode({k: v for k, v in claims.items() if v is not ...}, secret, algorithm, headers=headers)


def b64(data):
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def signed_by_hand(header, claims, secret=SECRET):
    """A token assembled without PyJWT, so headers PyJWT would not write can be tried."""
    signing_input = f"{b64(header)}.{b64(claims)}"
    signature = hmac.new(secret.encode(), signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + base64.urlsafe_b64encode(signature).rstrip(b"=").decode()


def refused(text, caplog, reason):
    with caplog.at_level(logging.WARNING, logger="parley.identity"):
        assert verify(text, SECRET, now=NOW) is None
    assert reason in caplog.text, caplog.text


def test_a_valid_token_vouches_for_name_and_email():
    assert verify(token(), SECRET, now=NOW) == Identity("Vera Verified", "vera@example.com")


def test_a_token_may_vouch_for_the_email_alone():
    assert verify(token(name=""), SECRET, now=NOW) == Identity("", "vera@example.com")


def test_a_token_signed_with_another_secret_is_refused(caplog):
    refused(token(secret="some-other-secret-that-is-long-enough-0123456789"), caplog, "bad signature")


def test_a_token_with_changed_claims_is_refused(caplog):
    header, _, signature = token().split(".")
    forged = ".".join(
        (header, b64({"name": "Mallory", "email": "m@example.com", "exp": NOW + 60}), signature)
    )
    refused(forged, caplog, "bad signature")


def test_an_expired_token_is_refused(caplog):
    refused(token(exp=NOW - 5 * 60), caplog, "expired")


def test_a_few_seconds_of_clock_difference_are_forgiven():
    assert verify(token(exp=NOW - 10), SECRET, now=NOW) is not None


@pytest.mark.parametrize("ahead", [25 * HOUR, 365 * 24 * HOUR])
def test_exp_more_than_24_hours_ahead_is_refused(caplog, ahead):
    refused(token(exp=NOW + ahead), caplog, "24 hours")


def test_exp_within_24_hours_is_accepted():
    assert verify(token(exp=NOW + 23 * HOUR), SECRET, now=NOW) is not None


def test_alg_none_is_refused(caplog):
    unsigned = jwt.encode(
        {"name": "Eve", "email": "eve@example.com", "exp": NOW + 60}, None, algorithm="none"
    )
    refused(unsigned, caplog, "refused")
    refused(unsigned + "c2lnbmF0dXJl", caplog, "refused")  # "none" with a signature glued on


def test_alg_none_spelt_otherwise_is_refused(caplog):
    for alg in ("None", "NONE", "nOnE"):
        claims = {"name": "Eve", "email": "eve@example.com", "exp": NOW + 60}
        refused(f"{b64({'alg': alg, 'typ': 'JWT'})}.{b64(claims)}.", caplog, "refused")


def test_other_algorithms_are_refused_even_with_the_right_secret(caplog):
    refused(token(algorithm="HS512"), caplog, "algorithm")
    refused(token(algorithm="HS384"), caplog, "algorithm")


def test_a_header_lying_about_its_algorithm_is_refused(caplog):
    # signed with HS256 but announced as HS512: the pinned algorithm refuses it
    claims = {"name": "Eve", "email": "eve@example.com", "exp": NOW + 60}
    refused(signed_by_hand({"alg": "HS512", "typ": "JWT"}, claims), caplog, "algorithm")


@pytest.mark.parametrize("missing", ["name", "email", "exp"])
def test_a_token_missing_a_claim_is_refused(caplog, missing):
    refused(token(**{missing: ...}), caplog, f"missing claim '{missing}'")


@pytest.mark.parametrize(
    "claims",
    [
        {"name": 42},
        {"email": ["vera@example.com"]},
        {"exp": "tomorrow"},
        {"exp": True},
        {"email": "not an address"},
        {"email": "vera@example.com\r\nBcc: everyone@example.com"},
        {"name": "Vera\r\nBcc: everyone@example.com"},
        {"name": "x" * 81},
        {"name": "", "email": ""},
    ],
)
def test_a_token_with_unusable_claims_is_refused(caplog, claims):
    refused(token(**claims), caplog, "refused")


def test_an_oversized_token_is_refused_before_it_is_read(caplog):
    big = token(padding="x" * MAX_TOKEN)
    assert len(big) > MAX_TOKEN
    refused(big, caplog, "more than")


@pytest.mark.parametrize(
    "text", ["garbage", "a.b.c", "...", "e30.e30.", "eyJhbGciOiJIUzI1NiJ9.bm90IGpzb24.c2ln"]
)
def test_malformed_tokens_are_refused(caplog, text):
    refused(text, caplog, "refused")


def test_no_secret_verifies_nothing(caplog):
    with caplog.at_level(logging.WARNING, logger="parley.identity"):
        assert verify(token(), "", now=NOW) is None
    assert "PARLEY_IDENTITY_SECRET is not set" in caplog.text


def test_no_token_verifies_nothing_quietly(caplog):
    with caplog.at_level(logging.WARNING, logger="parley.identity"):
        assert verify("", SECRET) is None
    assert caplog.text == ""


def test_the_real_clock_is_used_by_default():
    fresh = jwt.encode(
        {"name": "Vera", "email": "vera@example.com", "exp": int(time.time()) + 600}, SECRET, "HS256"
    )
    assert verify(fresh, SECRET) == Identity("Vera", "vera@example.com")


# --- other claims: whatever else the host site knows ------------------------------------------


def test_other_claims_are_vouched_for_in_the_order_signed():
    signed = token(customer_number="K-1234", plan="Gold", accountId=98765, vip=True, balance=12.5)
    assert verify(signed, SECRET, now=NOW).claims == (
        ("customer_number", "K-1234"),
        ("plan", "Gold"),
        ("accountId", "98765"),
        ("vip", "Yes"),
        ("balance", "12.5"),
    )
    assert verify(token(plan="Gold", customer_number="K-1"), SECRET, now=NOW).claims == (
        ("plan", "Gold"),
        ("customer_number", "K-1"),
    )


def test_registered_claims_and_name_and_email_are_not_other_claims():
    past = 1_600_000_000  # PyJWT checks iat and nbf against the real clock, not NOW
    signed = token(iat=past, nbf=past, iss="shop", sub="42", jti="x1", NAME="Mallory", Email="m@x")
    assert verify(signed, SECRET, now=NOW) == Identity("Vera Verified", "vera@example.com")


@pytest.mark.parametrize(
    "value",
    [["a", "b"], {"tier": "gold"}, None, "x" * 201, "line one\nline two", "bell\x07"],
)
def test_a_claim_that_is_not_a_short_line_of_text_is_left_out_and_the_rest_counts(caplog, value):
    with caplog.at_level(logging.WARNING, logger="parley.identity"):
        found = verify(token(plan="Gold", odd=value, phone="+47 22 00 00 00"), SECRET, now=NOW)
    assert found.name == "Vera Verified"
    assert found.claims == (("plan", "Gold"), ("phone", "+47 22 00 00 00"))
    assert "identity claim 'odd' left out" in caplog.text


def test_values_are_text_as_signed_html_included_and_names_are_bounded(caplog):
    found = verify(token(note="<b>VIP</b> & co", **{"x" * 41: "long name", "": "no name"}), SECRET, now=NOW)
    assert found.claims == (("note", "<b>VIP</b> & co"),)  # escaping is the page's work
    assert verify(token(note="x" * 200), SECRET, now=NOW).claims == (("note", "x" * 200),)


def test_at_most_twenty_other_claims_are_shown(caplog):
    many = {f"field_{i:02}": str(i) for i in range(25)}
    with caplog.at_level(logging.WARNING, logger="parley.identity"):
        found = verify(token(**many), SECRET, now=NOW)
    assert [claim for claim, _ in found.claims] == [f"field_{i:02}" for i in range(20)]
    assert "after the first 20" in caplog.text


def test_a_token_may_vouch_for_other_claims_alone(caplog):
    assert verify(token(name="", email="", customer_number="K-1"), SECRET, now=NOW) == Identity(
        "", "", (("customer_number", "K-1"),)
    )
    refused(token(name="", email="", customer_number=["K-1"]), caplog, "vouches for nothing")


@pytest.mark.parametrize(
    ("claim", "shown"),
    [
        ("customer_number", "Customer number"),
        ("customerNumber", "Customer number"),
        ("phone-number", "Phone number"),
        ("plan", "Plan"),
        ("account.id", "Account id"),
    ],
)
def test_claims_read_as_labels(claim, shown):
    assert label(claim) == shown
