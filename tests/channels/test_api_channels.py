"""Channels through the API: secrets are write-only, settings are checked, addresses are
one person's each; the outbox's API refuses what it cannot send; SQLite and PostgreSQL."""

from __future__ import annotations

import logging
from typing import Any

import httpx
import pytest

from inloop.server.services import Services

SLACK = {
    "name": "slack",
    "kind": "slack",
    "config": {"allowed_responders": ["U0ALICE"]},
    "secrets": {"bot_token": "xoxb-very-secret-token", "signing_secret": "shh-signing-secret"},
}


async def create(api: httpx.AsyncClient, body: dict[str, Any]) -> httpx.Response:
    return await api.post("/v1/channels", json=body)


async def test_secrets_are_write_only(
    api: httpx.AsyncClient, services: Services, caplog: pytest.LogCaptureFixture
) -> None:
    """A secret goes in and never comes out: not in answers, not in the log, not in the
    database in plain text; the API says only which are set."""
    from sqlalchemy import select

    from inloop.server.store.schema import channels

    caplog.set_level(logging.DEBUG)
    created = await create(api, SLACK)
    assert created.status_code == 201, created.text
    for response in (
        created,
        await api.get("/v1/channels/slack"),
        await api.get("/v1/channels"),
        await api.patch("/v1/channels/slack", json={"config": {"timeout": 5}}),
    ):
        assert response.status_code == 200 or response.status_code == 201
        assert "very-secret" not in response.text and "shh-signing" not in response.text
    shown = (await api.get("/v1/channels/slack")).json()
    assert shown["secrets_set"] == ["bot_token", "signing_secret"]
    assert shown["config"]["timeout"] == 5 and shown["config"]["allowed_responders"] == ["U0ALICE"]
    assert shown["inbound_urls"]["interactivity"] == (
        "https://inloop.example/hooks/slack/slack/interactions"
    )
    stored = await services.db.read(lambda conn: conn.execute(select(channels)).one())
    assert "very-secret" not in str(stored._mapping)
    assert "very-secret" not in caplog.text
    record = await services.db.read(lambda conn: services.channels.snapshot(conn))
    assert services.channels.secrets_of(record[0])["bot_token"] == "xoxb-very-secret-token"


async def test_settings_are_checked_with_the_field_at_fault(api: httpx.AsyncClient) -> None:
    """Unknown settings, bad values and missing secrets are refused, naming the field."""
    cases = [
        ({**SLACK, "config": {"colour": "red"}}, "config.colour"),
        ({**SLACK, "secrets": {"bot_token": "x"}}, "secrets.signing_secret"),
        ({"name": "h", "kind": "webhook", "config": {"url": "not a url"}}, "config.url"),
        ({"name": "h", "kind": "webhook", "config": {}}, "config.url"),
        (
            {
                "name": "h",
                "kind": "webhook",
                "config": {"url": "https://x.test"},
                "secrets": {"signing_secret": "not base64!"},
            },
            "secrets.signing_secret",
        ),
        (
            {"name": "m", "kind": "email", "config": {"host": "smtp", "from_address": "nope"}},
            "config.from_address",
        ),
        (
            {
                "name": "t",
                "kind": "sms",
                "config": {"account_sid": "AC123", "from_number": "+1415"},
            },
            "config.account_sid",
        ),
        ({"name": "bad name!", "kind": "webhook"}, "name"),
        ({"name": "x", "kind": "carrier-pigeon"}, "kind"),
    ]
    for body, field in cases:
        response = await create(api, body)
        assert response.status_code == 422, (body, response.text)
        assert response.json()["error"]["field"] == field, (body, response.json())
    assert (await api.get("/v1/channels")).json()["items"] == []


async def test_webhook_secret_is_generated_and_shown_once(api: httpx.AsyncClient) -> None:
    created = await create(
        api, {"name": "hook", "kind": "webhook", "config": {"url": "https://x.test/in"}}
    )
    assert created.status_code == 201
    secret = created.json()["signing_secret"]
    assert secret.startswith("whsec_")
    again = await api.get("/v1/channels/hook")
    assert "signing_secret" not in again.json() and secret not in again.text
    assert again.json()["config"]["events"] == ["*"]
    duplicate = await create(
        api, {"name": "hook", "kind": "webhook", "config": {"url": "https://y.test"}}
    )
    assert duplicate.status_code == 409 and duplicate.json()["error"]["code"] == "already_exists"


async def test_update_disable_and_delete(api: httpx.AsyncClient) -> None:
    await create(api, SLACK)
    removed = await api.patch("/v1/channels/slack", json={"secrets": {"bot_token": None}})
    assert removed.status_code == 422 and removed.json()["error"]["field"] == "secrets.bot_token"
    off = await api.patch("/v1/channels/slack", json={"enabled": False})
    assert off.json()["enabled"] is False
    assert (await api.delete("/v1/channels/slack")).status_code == 204
    assert (await api.get("/v1/channels/slack")).status_code == 404
    assert (await api.patch("/v1/channels/nope", json={})).status_code == 404


async def test_addresses_are_one_persons_and_users_set_their_own(
    api: httpx.AsyncClient, services: Services
) -> None:
    """A user's address on a channel is checked for the kind, belongs to one user, and a
    user may set only their own (an admin anyone's)."""
    await create(api, SLACK)
    await create(
        api,
        {
            "name": "sms",
            "kind": "sms",
            "config": {"account_sid": "AC" + "1" * 32, "from_number": "+14155550100"},
            "secrets": {"auth_token": "tok"},
        },
    )
    for handle in ("alice", "bob"):
        await api.post("/v1/users", json={"handle": handle, "name": handle.title()})
    ok = await api.put("/v1/users/alice/channels/slack", json={"address": "U0ALICE"})
    assert ok.status_code == 200 and ok.json()["kind"] == "slack"
    taken = await api.put("/v1/users/bob/channels/slack", json={"address": "U0ALICE"})
    assert taken.status_code == 409
    bad = await api.put("/v1/users/bob/channels/sms", json={"address": "0790000000"})
    assert bad.status_code == 422 and "E.164" in bad.json()["error"]["message"]
    key = await api.post("/v1/keys", json={"name": "bob", "scopes": ["responder"], "user": "bob"})
    bob = {"Authorization": f"Bearer {key.json()['secret']}"}
    own = await api.put(
        "/v1/users/bob/channels/sms",
        json={"address": "+41790000000", "enabled": False},
        headers=bob,
    )
    assert own.status_code == 200 and own.json()["enabled"] is False
    other = await api.put(
        "/v1/users/alice/channels/sms", json={"address": "+41790000001"}, headers=bob
    )
    assert other.status_code == 403
    listed = (await api.get("/v1/users/bob/channels", headers=bob)).json()["items"]
    assert [(a["channel"], a["address"]) for a in listed] == [("sms", "+41790000000")]
    assert (await api.delete("/v1/users/bob/channels/sms", headers=bob)).status_code == 204
    assert (await api.delete("/v1/users/bob/channels/sms", headers=bob)).status_code == 404


async def test_the_send_api_refuses_what_it_cannot_send(api: httpx.AsyncClient) -> None:
    await create(api, {"name": "hook", "kind": "webhook", "config": {"url": "https://x.test/in"}})
    cases = [
        ({"key": "k1", "channel": "nope", "event": {"type": "x"}}, 404, "channel"),
        ({"key": "k1", "channel": "hook", "to": "https://evil.test", "event": {}}, 422, "to"),
        ({"key": "k1", "channel": "hook", "message": {"text": "hi"}}, 422, "event"),
        ({"key": "k 1", "channel": "hook", "event": {}}, 422, "key"),
        ({"key": "k1", "channel": "hook"}, 422, "message"),
        ({"key": "k1", "channel": "hook", "event": {"n": float("inf")}}, 400, None),
    ]
    for body, status, field in cases[:-1]:
        response = await api.post("/v1/deliveries", json=body)
        assert response.status_code == status, (body, response.text)
        assert response.json()["error"]["field"] == field, (body, response.json())
    first = await api.post(
        "/v1/deliveries", json={"key": "k1", "channel": "hook", "event": {"a": 1}}
    )
    assert first.status_code == 201
    again = await api.post(
        "/v1/deliveries", json={"key": "k1", "channel": "hook", "event": {"a": 1}}
    )
    assert again.status_code == 200 and again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
    assert (await api.get("/v1/deliveries/999999")).status_code == 404
    open_ = await api.post(f"/v1/deliveries/{first.json()['id']}/replay")
    assert open_.status_code == 409 and open_.json()["error"]["code"] == "delivery_open"
    assert (await api.get("/v1/deliveries", params={"cursor": "!!"})).status_code == 422


async def test_only_admins_see_channels_and_deliveries(api: httpx.AsyncClient) -> None:
    key = await api.post("/v1/keys", json={"name": "agent", "scopes": ["agent"]})
    agent = {"Authorization": f"Bearer {key.json()['secret']}"}
    for method, path in (
        ("GET", "/v1/channels"),
        ("POST", "/v1/channels"),
        ("GET", "/v1/deliveries"),
        ("GET", "/v1/channels/callback-secret"),
    ):
        response = await api.request(method, path, headers=agent, json=SLACK)
        assert response.status_code == 403, (method, path)
