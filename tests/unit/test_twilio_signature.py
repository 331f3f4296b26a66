"""X-Twilio-Signature: computed as Twilio documents it, and checked without shortcuts."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from tom.telephony import twilio_signature as sig

# --- signatures -------------------------------------------------------------------------------

TOKEN = "12345"
URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
PARAMS = {"CallSid": "CA1234567890ABCDE", "Caller": "+12349013030", "Digits": "1234",
          "From": "+12349013030", "To": "+18005551212"}


def _independent_signature(token: str, data: str) -> str:
    return base64.b64encode(hmac.new(token.encode(), data.encode(), hashlib.sha1).digest()).decode()


def test_signature_matches_an_independent_computation():
    data = URL + "".join(k + PARAMS[k] for k in sorted(PARAMS))
    expected = _independent_signature(TOKEN, data)
    assert sig.compute_signature(TOKEN, URL, PARAMS) == expected
    # The worked example from Twilio's security documentation.
    assert expected == "0/KCTR6DLpKmkAf8muzZqo1nDgQ="


def test_signature_ignores_parameter_order_but_not_content():
    shuffled = dict(reversed(list(PARAMS.items())))
    signature = sig.compute_signature(TOKEN, URL, PARAMS)
    assert sig.validate_signature(TOKEN, URL, shuffled, signature)
    tampered = {**PARAMS, "Digits": "1235"}
    assert not sig.validate_signature(TOKEN, URL, tampered, signature)
    assert not sig.validate_signature(TOKEN, URL, {**PARAMS, "Extra": "1"}, signature)
    assert not sig.validate_signature(TOKEN, URL.replace("foo=1", "foo=2"), PARAMS, signature)
    assert not sig.validate_signature("54321", URL, PARAMS, signature)


def test_signature_edge_cases():
    signature = sig.compute_signature(TOKEN, URL, PARAMS)
    assert not sig.validate_signature("", URL, PARAMS, signature)
    assert not sig.validate_signature(TOKEN, URL, PARAMS, "")
    assert not sig.validate_signature(TOKEN, URL, PARAMS, None)
    assert sig.compute_signature(TOKEN, URL, None) == _independent_signature(TOKEN, URL)
    assert sig.compute_signature(TOKEN, URL, {}) == _independent_signature(TOKEN, URL)


def test_signature_with_repeated_keys_sorts_values():
    params = {"To": "+1", "Media": ["b", "a"]}
    expected = _independent_signature(TOKEN, URL + "Mediaa" + "Mediab" + "To+1")
    assert sig.compute_signature(TOKEN, URL, params) == expected


@pytest.mark.parametrize(("signed", "seen"), [
    ("https://tom.example:443/twilio/voice", "https://tom.example/twilio/voice"),
    ("https://tom.example/twilio/voice", "https://tom.example:443/twilio/voice"),
])
def test_signature_accepts_default_port_spelled_either_way(signed, seen):
    signature = sig.compute_signature(TOKEN, signed, PARAMS)
    assert sig.validate_signature(TOKEN, seen, PARAMS, signature)


def test_signature_does_not_mix_hosts_or_paths():
    signature = sig.compute_signature(TOKEN, "https://tom.example/twilio/voice", PARAMS)
    assert not sig.validate_signature(TOKEN, "https://evil.example/twilio/voice", PARAMS, signature)
    assert not sig.validate_signature(TOKEN, "https://tom.example:8443/twilio/voice", PARAMS,
                                     signature + "x")
