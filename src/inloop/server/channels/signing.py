"""Standard Webhooks signatures, both ways: signing what Inloop sends, verifying what
it receives. The HMAC is the ``standardwebhooks`` library's; the time comes from the
caller, so the tolerance window follows the server's clock (and the tests' fake one).
"""

from __future__ import annotations

import base64
import hmac
import secrets
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from standardwebhooks import Webhook
from standardwebhooks.webhooks import EmptyWebhookSecretError

TOLERANCE_SECONDS = 300


class SignatureError(Exception):
    """The signature is missing, malformed, wrong, or outside the time window."""


def new_secret() -> str:
    """A signing secret in the Standard Webhooks form: ``whsec_`` and base64 of 24 bytes."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


def check_secret(secret: str) -> None:
    """Raise ValueError unless ``secret`` is usable (whsec_ + base64, or base64)."""
    try:
        Webhook(secret)
    except (EmptyWebhookSecretError, ValueError, RuntimeError) as exc:
        raise ValueError("a signing secret is whsec_ followed by base64") from exc


def sign(secret: str, msg_id: str, when: datetime, body: bytes) -> dict[str, str]:
    """The three headers of a signed message."""
    signature = Webhook(secret).sign(msg_id, when, body.decode())
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(when.timestamp())),
        "webhook-signature": signature,
    }


def verify(secrets_: Sequence[str], headers: Mapping[str, str], body: bytes, now: datetime) -> str:
    """Check a signed message against any of ``secrets_``; its ``webhook-id`` if good."""
    lower = {k.lower(): v for k, v in headers.items()}
    msg_id = lower.get("webhook-id", "")
    stamp = lower.get("webhook-timestamp", "")
    given = lower.get("webhook-signature", "")
    if not (msg_id and stamp and given):
        raise SignatureError("webhook-id, webhook-timestamp and webhook-signature are required")
    try:
        when = datetime.fromtimestamp(int(stamp), UTC)
    except (ValueError, OverflowError, OSError):
        raise SignatureError("webhook-timestamp is not a Unix time in seconds") from None
    if abs((now - when).total_seconds()) > TOLERANCE_SECONDS:
        raise SignatureError(
            f"webhook-timestamp is more than {TOLERANCE_SECONDS // 60} minutes from the "
            "server's time: a replay, or a clock that is off"
        )
    try:
        text = body.decode()
    except UnicodeDecodeError:
        raise SignatureError("the body is not UTF-8") from None
    for secret in secrets_:
        expected = Webhook(secret).sign(msg_id, when, text).partition(",")[2]
        for part in given.split():
            version, _, value = part.partition(",")
            if version == "v1" and hmac.compare_digest(expected, value):
                return msg_id
    raise SignatureError("no signature matches")
