"""Pure pieces of the delivery machinery: signatures, the backoff, the server key."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from inloop.domain.deliveries import backoff
from inloop.server.channels.signing import SignatureError, new_secret, sign, verify
from inloop.server.secrets import Keyring, SecretKeyError

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def test_a_signature_verifies_and_a_forged_or_stale_one_does_not() -> None:
    secret = new_secret()
    body = b'{"type":"request.respond"}'
    headers = sign(secret, "msg_1", NOW, body)
    assert verify([secret], headers, body, NOW + timedelta(minutes=4)) == "msg_1"
    with pytest.raises(SignatureError, match="no signature matches"):
        verify([new_secret()], headers, body, NOW)
    with pytest.raises(SignatureError, match="no signature matches"):
        verify([secret], headers, body + b" ", NOW)
    with pytest.raises(SignatureError, match="5 minutes"):
        verify([secret], headers, body, NOW + timedelta(minutes=6))
    with pytest.raises(SignatureError, match="required"):
        verify([secret], {"webhook-id": "msg_1"}, body, NOW)
    bad = {**headers, "webhook-signature": "v1"}
    with pytest.raises(SignatureError):
        verify([secret], bad, body, NOW)
    rotated = [new_secret(), secret]  # the old secret still verifies during a rotation
    assert verify(rotated, headers, body, NOW) == "msg_1"


def test_the_signature_is_the_standard_webhooks_one() -> None:
    """The specification's example: msg_p5jXN8AQM9LWM0D4loKWxJek, 1614265330, this body."""
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    body = b'{"test": 2432232314}'
    when = datetime.fromtimestamp(1614265330, UTC)
    headers = sign(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", when, body)
    assert headers["webhook-signature"] == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_backoff_doubles_with_equal_jitter_up_to_the_cap() -> None:
    assert [backoff(n, base=10, cap=3600, jitter=0) for n in (1, 2, 3)] == [5, 10, 20]
    assert backoff(1, base=10, cap=3600, jitter=0.999) == pytest.approx(9.995)
    assert backoff(30, base=10, cap=3600, jitter=0) == 1800


def test_the_server_key_seals_rotates_and_refuses_a_wrong_key(tmp_path: Path) -> None:
    old = Keyring("o" * 40)
    sealed = old.seal({"bot_token": "xoxb-1"})
    assert "xoxb" not in sealed
    rotated = Keyring("n" * 40 + "," + "o" * 40)
    assert rotated.open(sealed) == {"bot_token": "xoxb-1"}
    assert Keyring("n" * 40).derive("links") != old.derive("links")
    with pytest.raises(SecretKeyError, match="do not open"):
        Keyring("x" * 40).open(sealed)
    with pytest.raises(SecretKeyError, match="at least 32"):
        Keyring("short").seal({})
    made = Keyring(key_file=tmp_path / "keys" / "secret-key")
    again = made.seal({"a": 1})
    assert (tmp_path / "keys" / "secret-key").stat().st_mode & 0o777 == 0o600
    assert Keyring(key_file=tmp_path / "keys" / "secret-key").open(again) == {"a": 1}
