"""SMS through a local fake of Twilio's Messages API, and replies through Twilio's signed
webhook: a code bound to the number it was sent to, used once; forged, replayed and
foreign replies refused; SQLite and PostgreSQL."""

from __future__ import annotations

import re
from urllib.parse import parse_qs

import httpx
import pytest

from inloop.server.channels.sms import signature
from inloop.server.services import Services
from tests.channels.fakes import Peer

SID = "AC" + "0123456789abcdef" * 2
AUTH = "twilio-auth-token-1"
URL = "https://inloop.example/hooks/sms/text"


def test_the_signature_is_twilios() -> None:
    """Twilio's published example: auth token 12345, this URL and these parameters."""
    params = {"CallSid": "CA1234567890ABCDE", "Caller": "+14158675309", "Digits": "1234",
              "From": "+14158675309", "To": "+18005551212"}  # fmt: skip
    assert signature("12345", "https://mycompany.com/myapp.php?foo=1&bar=2", params) == (
        "RSOYDt4T1cUTdK1PDd93/VVr8B8="
    )


@pytest.fixture
async def twilio(api: httpx.AsyncClient, peer: Peer, peer_url: str) -> Peer:
    from starlette.responses import JSONResponse

    peer.reset(JSONResponse({"sid": "SM" + "1" * 32, "status": "queued"}, 201))
    created = await api.post("/v1/channels", json={"name": "text", "kind": "sms", "config": {
        "account_sid": SID, "from_number": "+14155550100", "api_url": peer_url},
        "secrets": {"auth_token": AUTH}})  # fmt: skip
    assert created.status_code == 201, created.text
    await api.post("/v1/users", json={"handle": "bob", "name": "Bob"})
    await api.put("/v1/users/bob/channels/text", json={"address": "+41790000001"})
    return peer


async def reply(api: httpx.AsyncClient, text: str, *, sender: str = "+41790000001",
                sid: str = "SM0001", token: str = AUTH) -> httpx.Response:  # fmt: skip
    params = {"AccountSid": SID, "MessageSid": sid, "From": sender, "To": "+14155550100",
              "Body": text, "NumMedia": "0"}  # fmt: skip
    headers = {"X-Twilio-Signature": signature(token, URL, params)}
    return await api.post("/hooks/sms/text", data=params, headers=headers)


async def test_a_reply_with_the_code_answers_once(
    api: httpx.AsyncClient, services: Services, twilio: Peer
) -> None:
    request = (
        await api.post(
            "/v1/requests",
            json={
                "prompt": "Deploy v2 to production?",
                "options": ["approve", "reject"],
                "assignee": "user:bob",
            },
        )
    ).json()
    assert await services.dispatcher.run_due() == 1
    (sent,) = twilio.received
    assert sent.path == f"/2010-04-01/Accounts/{SID}/Messages.json"
    assert sent.headers["authorization"].startswith("Basic ")
    form = {k: v[0] for k, v in parse_qs(sent.body.decode()).items()}
    assert (form["To"], form["From"]) == ("+41790000001", "+14155550100")
    code = re.search(r'Reply "(\w{4}) approve" or "\w{4} reject"', form["Body"])
    assert code is not None, form["Body"]

    stranger = await reply(api, f"{code.group(1)} approve", sender="+41790000009", sid="SM0002")
    assert "no open question" in stranger.text
    forged = await reply(api, f"{code.group(1)} approve", token="not-the-token")
    assert forged.status_code == 401
    answered = await reply(api, f"{code.group(1).lower()} Approve")
    assert answered.headers["content-type"].startswith("application/xml")
    assert "<Message>Thank you: Approved by SMS by Bob.</Message>" in answered.text
    closed = (await api.get(f"/v1/requests/{request['id']}")).json()
    assert (closed["response"], closed["resolved_by"]) == ("approve", "user:bob")
    replayed = await reply(api, f"{code.group(1)} reject")  # the same MessageSid: a retry
    assert replayed.text.endswith("<Response></Response>")
    again = await reply(api, f"{code.group(1)} reject", sid="SM0003")
    assert "no open question" in again.text
    assert (await api.get(f"/v1/requests/{request['id']}")).json()["response"] == "approve"


async def test_one_open_question_needs_no_code_and_bad_answers_are_explained(
    api: httpx.AsyncClient, services: Services, twilio: Peer
) -> None:
    request = (
        await api.post(
            "/v1/requests",
            json={"prompt": "Proceed?", "kind": "confirmation", "assignee": "user:bob"},
        )
    ).json()
    await services.dispatcher.run_due()
    unclear = await reply(api, "maybe")
    assert "<Message>" in unclear.text and "true or false" in unclear.text
    assert (await api.get(f"/v1/requests/{request['id']}")).json()["status"] == "assigned"
    yes = await reply(api, "yes", sid="SM0009")
    assert "Confirmed by SMS by Bob" in yes.text


async def test_an_invalid_number_is_a_dead_letter_at_once(
    api: httpx.AsyncClient, services: Services, twilio: Peer
) -> None:
    from starlette.responses import JSONResponse

    twilio.reset(
        JSONResponse(
            {"code": 21211, "message": "The 'To' number is not a valid phone number."}, 400
        )
    )
    await api.post("/v1/requests", json={"prompt": "Go?", "assignee": "user:bob"})
    await services.dispatcher.run_due()
    (dead,) = (await api.get("/v1/deliveries")).json()["items"]
    assert dead["status"] == "dead" and dead["last_error"] == "Twilio answered 400 (error 21211)"
