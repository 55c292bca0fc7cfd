"""The desk's channel pages over ASGI: admins add and change channels (secrets go in,
never come out), read the delivery log and replay; every user sets where they are told;
SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from inloop.server.services import Services
from tests.desk.test_admin import Desk, admin_client, browser_clients, csrf_of, make_user, sign_in


@pytest.fixture
async def desk(services: Services) -> AsyncIterator[Desk]:
    async with browser_clients(services) as make:
        yield make


async def post(
    client: httpx.AsyncClient, path: str, data: dict[str, str | list[str]]
) -> httpx.Response:
    token = csrf_of(await client.get("/desk/notifications"))
    return await client.post(path, data={"csrf_token": token, **data})


async def test_an_admin_adds_and_changes_a_channel(
    api: httpx.AsyncClient, services: Services, desk: Desk
) -> None:
    admin = await admin_client(api, services, desk)
    bad = await post(
        admin, "/desk/admin/channels", {"name": "hook", "kind": "webhook", "config": "{not json"}
    )
    assert bad.status_code == 422 and "not valid JSON" in bad.text
    missing = await post(
        admin, "/desk/admin/channels", {"name": "chat", "kind": "slack", "config": "{}"}
    )
    assert missing.status_code == 422 and "secrets.bot_token" in missing.text
    added = await post(admin, "/desk/admin/channels", {
        "name": "chat", "kind": "slack", "config": '{"allowed_responders": ["U0A"]}',
        "secret_name": ["bot_token", "signing_secret", ""],
        "secret_value": ["xoxb-desk-secret", "desk-signing", ""]})  # fmt: skip
    assert added.status_code == 303 and added.headers["location"] == "/desk/admin/channels/chat"
    page = await admin.get("/desk/admin/channels/chat")
    assert "bot_token" in page.text and "xoxb-desk-secret" not in page.text
    assert "https://inloop.example/hooks/slack/chat/interactions" in page.text
    changed = await post(
        admin, "/desk/admin/channels/chat", {"secret_name": "bot_token", "secret_value": "xoxb-new"}
    )
    assert changed.status_code == 303
    record = (await services.db.read(services.channels.snapshot))[0]
    assert services.channels.secrets_of(record)["bot_token"] == "xoxb-new"
    off = await post(admin, "/desk/admin/channels/chat", {"enabled": "false"})
    assert off.status_code == 303 and not (await api.get("/v1/channels/chat")).json()["enabled"]
    hook = await post(
        admin,
        "/desk/admin/channels",
        {"name": "hook", "kind": "webhook", "config": '{"url": "https://x.test/in", "events": []}'},
    )
    shown = await admin.get(hook.headers["location"])
    assert "whsec_" in shown.text  # the generated signing secret, once
    assert "whsec_" not in (await admin.get(hook.headers["location"])).text
    listing = await admin.get("/desk/admin/channels")
    assert listing.status_code == 200 and "xoxb" not in listing.text
    gone = await post(admin, "/desk/admin/channels/hook/delete", {})
    assert gone.status_code == 303 and (await api.get("/v1/channels/hook")).status_code == 404


async def test_deliveries_page_and_replay(
    api: httpx.AsyncClient, services: Services, desk: Desk
) -> None:
    admin = await admin_client(api, services, desk)
    await api.post(
        "/v1/channels",
        json={
            "name": "hook",
            "kind": "webhook",
            "config": {"url": "http://127.0.0.1:9/in", "events": []},
        },
    )
    made = (
        await api.post(
            "/v1/deliveries", json={"key": "k-1", "channel": "hook", "event": {"type": "x"}}
        )
    ).json()
    await services.dispatcher.run_due()
    page = await admin.get("/desk/admin/deliveries?status=pending")
    assert f'id="delivery-{made["id"]}"' in page.text and "could not reach" in page.text
    detail = await admin.get(f"/desk/admin/deliveries/{made['id']}")
    assert "k-1" in detail.text and "failed" in detail.text
    refused = await post(admin, f"/desk/admin/deliveries/{made['id']}/replay", {})
    assert refused.status_code == 409  # still pending: nothing to replay yet


async def test_users_set_where_they_are_told_and_others_may_not_administer(
    api: httpx.AsyncClient, services: Services, desk: Desk
) -> None:
    await api.post("/v1/channels", json={"name": "text", "kind": "sms", "config": {
        "account_sid": "AC" + "1" * 32, "from_number": "+14155550100"}, "secrets": {"auth_token": "t"}})  # fmt: skip
    await make_user(api, services, "eve")
    user = desk()
    assert await sign_in(user, "eve") == 303
    page = await user.get("/desk/notifications")
    assert page.status_code == 200 and 'id="channel-text"' in page.text
    wrong = await post(
        user, "/desk/notifications", {"channel": "text", "address": "0790000000", "enabled": "true"}
    )
    assert wrong.status_code == 422 and "E.164" in wrong.text
    saved = await post(
        user,
        "/desk/notifications",
        {"channel": "text", "address": "+41790000005", "enabled": "true"},
    )
    assert saved.status_code == 200 and "text saved." in saved.text
    assert (await api.get("/v1/users/eve/channels")).json()["items"][0]["address"] == "+41790000005"
    for path in ("/desk/admin/channels", "/desk/admin/deliveries"):
        assert (await user.get(path)).status_code == 403
    no_csrf = await user.post("/desk/notifications", data={"channel": "text", "address": ""})
    assert no_csrf.status_code == 403
