"""Editable payloads: a request proposes an action, a modify answer sends it back changed."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

import inloop
from inloop.domain.requests import MAX_PAYLOAD_BYTES
from tests.support import ADMIN_TOKEN

PAYLOAD = {"function": "send_email", "arguments": {"to": "bob@example.com", "subject": "Hi"}}
PROPOSAL = {
    "prompt": "Send this email?",
    "options": ["approve", "reject", "modify"],
    "payload": PAYLOAD,
}


async def create(api: httpx.AsyncClient, body: dict[str, Any]) -> dict[str, Any]:
    response = await api.post("/v1/requests", json=body)
    assert response.status_code == 201, response.text
    return response.json()


async def respond(api: httpx.AsyncClient, request_id: str, body: dict[str, Any]) -> httpx.Response:
    return await api.post(f"/v1/requests/{request_id}/respond", json=body)


async def assert_refused(
    api: httpx.AsyncClient, request_id: str, body: dict[str, Any], field: str, words: str
) -> None:
    """A 422 naming the field and why, and the request left open with no answer."""
    response = await respond(api, request_id, body)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["field"] == field
    assert words in error["message"]
    after = (await api.get(f"/v1/requests/{request_id}")).json()
    assert after["status"] == "pending" and after["response"] is None
    assert after["edited"] is None


async def test_modify_with_edited_stores_it_on_the_request_and_the_event(
    api: httpx.AsyncClient,
) -> None:
    """The payload is stored; modify + edited resolves with both, and the event carries it."""
    request = await create(api, PROPOSAL)
    assert request["payload"] == PAYLOAD and request["edited"] is None
    changed = {"function": "send_email", "arguments": {"to": "carol@example.com", "subject": "Hi"}}
    response = await respond(
        api, request["id"], {"response": "modify", "edited": changed, "comment": "to Carol"}
    )
    assert response.status_code == 200, response.text
    done = response.json()
    assert done["response"] == "modify" and done["edited"] == changed
    assert done["payload"] == PAYLOAD  # the original proposal is kept beside the edit
    events = (await api.get(f"/v1/requests/{request['id']}/events")).json()["items"]
    responded = next(e for e in events if e["type"] == "responded")
    assert responded["data"] == {"response": "modify", "edited": changed}


async def test_approve_on_a_request_with_a_payload_needs_no_edited(
    api: httpx.AsyncClient,
) -> None:
    """Approving keeps the payload as proposed; edited stays null."""
    request = await create(api, PROPOSAL)
    response = await respond(api, request["id"], {"response": "approve"})
    assert response.status_code == 200, response.text
    assert response.json()["edited"] is None


async def test_edited_without_a_payload_is_refused(api: httpx.AsyncClient) -> None:
    body = {"prompt": "Ok?", "options": ["approve", "modify"]}
    request = await create(api, body)
    await assert_refused(
        api, request["id"], {"response": "modify", "edited": {"a": 1}}, "edited", "has none"
    )


async def test_edited_with_approve_is_refused(api: httpx.AsyncClient) -> None:
    request = await create(api, PROPOSAL)
    await assert_refused(
        api,
        request["id"],
        {"response": "approve", "edited": PAYLOAD},
        "edited",
        "goes with the answer modify or edit, not 'approve'",
    )


async def test_modify_without_edited_is_refused(api: httpx.AsyncClient) -> None:
    request = await create(api, PROPOSAL)
    await assert_refused(
        api, request["id"], {"response": "modify"}, "edited", "send the changed payload"
    )


async def test_edit_is_an_editing_answer_too(api: httpx.AsyncClient) -> None:
    """Seed 001's 'edit' option works like modify."""
    request = await create(api, {**PROPOSAL, "options": ["approve", "edit"]})
    await assert_refused(api, request["id"], {"response": "edit"}, "edited", "edited")
    response = await respond(api, request["id"], {"response": "edit", "edited": {"x": 1}})
    assert response.status_code == 200 and response.json()["edited"] == {"x": 1}


@pytest.mark.parametrize("edited", [["a"], "text", 3, True])
async def test_edited_that_is_not_an_object_is_refused(api: httpx.AsyncClient, edited: Any) -> None:
    request = await create(api, PROPOSAL)
    await assert_refused(
        api, request["id"], {"response": "modify", "edited": edited}, "edited", "JSON object"
    )


async def test_oversize_edited_is_refused(api: httpx.AsyncClient) -> None:
    request = await create(api, PROPOSAL)
    huge = {"body": "x" * (MAX_PAYLOAD_BYTES + 1)}
    await assert_refused(
        api, request["id"], {"response": "modify", "edited": huge}, "edited", "bytes as JSON"
    )


@pytest.mark.parametrize(
    ("payload", "words"),
    [
        (["send_email"], "must be a JSON object, got an array"),
        ("send_email", "must be a JSON object, got a string"),
        ({"body": "x" * (MAX_PAYLOAD_BYTES + 1)}, "bytes as JSON"),
    ],
)
async def test_a_bad_payload_is_refused_and_nothing_is_stored(
    api: httpx.AsyncClient, payload: Any, words: str
) -> None:
    response = await api.post("/v1/requests", json={**PROPOSAL, "payload": payload})
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["field"] == "payload" and words in error["message"]
    assert (await api.get("/v1/requests")).json()["items"] == []


async def test_edited_is_refused_on_a_multi_level_approval(api: httpx.AsyncClient) -> None:
    """Each answer of a multi-level approval is a vote: no edits there."""
    body = {
        **PROPOSAL,
        "approvals": [{"assignee": "role:admin"}, {"assignee": "role:admin"}],
    }
    request = await create(api, body)
    await assert_refused(
        api, request["id"], {"response": "modify", "edited": PAYLOAD}, "edited", "vote"
    )


async def test_a_replay_with_another_payload_is_a_conflict(api: httpx.AsyncClient) -> None:
    """The payload is part of what an Idempotency-Key stands for."""
    headers = {"Idempotency-Key": "send-1"}
    first = await api.post("/v1/requests", json=PROPOSAL, headers=headers)
    assert first.status_code == 201
    other = {**PROPOSAL, "payload": {"function": "send_email", "arguments": {}}}
    second = await api.post("/v1/requests", json=other, headers=headers)
    assert second.status_code == 409, second.text


async def test_the_sdk_sends_payload_and_edited(services) -> None:  # type: ignore[no-untyped-def]
    """Client.create(payload=...) and respond(edited=...) round-trip; Answer.edited has it."""
    from inloop.server.app import create_app

    transport = httpx.ASGITransport(app=create_app(services.settings, services=services))
    async with inloop.AsyncClient("http://inloop.test", ADMIN_TOKEN, transport=transport) as sdk:
        request = await sdk.create(
            "Send?", options=["approve", "reject", "modify"], payload=PAYLOAD
        )
        assert request.payload == PAYLOAD
        done = await sdk.respond(request.id, "modify", edited={"function": "noop"})
        assert done.edited == {"function": "noop"}
        answer = inloop.Answer.from_request(done, done.response)
        assert answer.value == "modify" and answer.edited == {"function": "noop"}
        with pytest.raises(inloop.InvalidError) as refused:
            await sdk.respond(
                (await sdk.create("Ok?", options=["approve", "modify"])).id,
                "modify",
                edited={"a": 1},
            )
        assert refused.value.field == "edited"
