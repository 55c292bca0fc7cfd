"""Users, roles, teams and API keys, and what keys may do; on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import httpx
import pytest


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


async def make_key(
    api: httpx.AsyncClient, scopes: list[str], user: str | None = None
) -> dict[str, Any]:
    response = await api.post("/v1/keys", json={"name": "k", "scopes": scopes, "user": user})
    assert response.status_code == 201, response.text
    return response.json()


async def test_users_roles_and_teams_round_trip(api: httpx.AsyncClient) -> None:
    """Create users, grant roles, form a team: every listing shows the memberships."""
    alice = await api.post(
        "/v1/users",
        json={"handle": "alice", "name": "Alice", "email": "a@x.io", "roles": ["manager"]},
    )
    assert alice.status_code == 201
    assert alice.json()["roles"] == ["manager"] and alice.json()["disabled"] is False
    await api.post("/v1/users", json={"handle": "bob", "name": "Bob"})
    assert (await api.put("/v1/users/bob/roles/manager")).json()["roles"] == ["manager"]
    assert (
        await api.post("/v1/teams", json={"name": "support", "description": "Tier 1"})
    ).status_code == 201
    team = (await api.put("/v1/teams/support/members/alice")).json()
    assert team["members"] == ["alice"]
    assert (await api.get("/v1/users/alice")).json()["teams"] == ["support"]
    roles = (await api.get("/v1/roles")).json()["items"]
    assert roles == [{"name": "manager", "members": ["alice", "bob"]}]
    assert (await api.delete("/v1/users/bob/roles/manager")).json()["roles"] == []
    assert (await api.delete("/v1/teams/support/members/alice")).json()["members"] == []
    assert (await api.delete("/v1/teams/support")).status_code == 204
    assert (await api.get("/v1/teams")).json()["items"] == []
    assert [u["handle"] for u in (await api.get("/v1/users")).json()["items"]] == ["alice", "bob"]


@pytest.mark.parametrize(
    ("path", "body", "status", "code"),
    [
        ("/v1/users", {"handle": "no spaces", "name": "X"}, 422, "validation_error"),
        (
            "/v1/users",
            {"handle": "x", "name": "X", "email": "not-an-email"},
            422,
            "validation_error",
        ),
        ("/v1/teams", {"name": ""}, 422, "validation_error"),
        ("/v1/keys", {"name": "k", "scopes": ["root"]}, 422, "validation_error"),
        ("/v1/keys", {"name": "k", "scopes": []}, 422, "validation_error"),
        ("/v1/keys", {"name": "k", "scopes": ["agent"], "user": "ghost"}, 404, "not_found"),
    ],
)
async def test_bad_identity_input_is_refused(
    api: httpx.AsyncClient, path: str, body: dict[str, Any], status: int, code: str
) -> None:
    """Invalid handles, emails, scopes and unknown users are clear errors."""
    response = await api.post(path, json=body)
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code


async def test_duplicates_and_unknowns(api: httpx.AsyncClient) -> None:
    """A second user or team of the same name is a 409; unknown names are 404s."""
    await api.post("/v1/users", json={"handle": "alice", "name": "A"})
    again = await api.post("/v1/users", json={"handle": "alice", "name": "B"})
    assert again.status_code == 409 and again.json()["error"]["code"] == "already_exists"
    await api.post("/v1/teams", json={"name": "ops"})
    assert (await api.post("/v1/teams", json={"name": "ops"})).status_code == 409
    assert (await api.get("/v1/users/ghost")).status_code == 404
    assert (await api.put("/v1/teams/ops/members/ghost")).status_code == 404
    assert (await api.put("/v1/teams/nope/members/alice")).status_code == 404
    assert (await api.delete("/v1/keys/ak_nope")).status_code == 404


async def test_key_secret_is_shown_once_and_never_listed(api: httpx.AsyncClient) -> None:
    """Only the create answer carries the secret; listings never do."""
    key = await make_key(api, ["agent"])
    assert key["secret"].startswith(key["id"] + ".")
    listed = (await api.get("/v1/keys")).json()["items"]
    assert [k["id"] for k in listed] == [key["id"]]
    assert "secret" not in listed[0] and "secret_hash" not in listed[0]


async def test_missing_or_bad_credentials_are_401(api: httpx.AsyncClient) -> None:
    """No key, a malformed key, or a wrong secret: 401 with a reason."""
    key = await make_key(api, ["agent"])
    for headers in (
        {"Authorization": ""},
        bearer("garbage"),
        bearer(key["id"] + ".wrong"),
        {"Authorization": "Basic abc"},
    ):
        response = await api.get("/v1/requests", headers=headers)
        assert response.status_code == 401, headers
        assert response.json()["error"]["code"] == "unauthenticated"
        assert response.headers["WWW-Authenticate"] == "Bearer"


async def test_scopes_decide_what_a_key_may_do(api: httpx.AsyncClient) -> None:
    """agent creates but cannot answer; responder answers but cannot create; neither manages identity."""
    agent = bearer((await make_key(api, ["agent"]))["secret"])
    responder = bearer((await make_key(api, ["responder"]))["secret"])
    created = await api.post(
        "/v1/requests", json={"prompt": "Ok?", "kind": "confirmation"}, headers=agent
    )
    assert created.status_code == 201
    request_id = created.json()["id"]
    assert created.json()["created_by"].startswith("key:ak_")
    refused = await api.post(
        f"/v1/requests/{request_id}/respond", json={"response": True}, headers=agent
    )
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "missing_scope"
    assert (
        await api.post("/v1/requests", json={"prompt": "x"}, headers=responder)
    ).status_code == 403
    assert (await api.get(f"/v1/requests/{request_id}", headers=responder)).status_code == 200
    assert (
        await api.post(
            f"/v1/requests/{request_id}/respond", json={"response": True}, headers=responder
        )
    ).status_code == 200
    for headers in (agent, responder):
        assert (await api.get("/v1/users", headers=headers)).status_code == 403
        assert (
            await api.post("/v1/keys", json={"name": "x", "scopes": ["admin"]}, headers=headers)
        ).status_code == 403


async def test_a_key_bound_to_a_user_acts_as_that_user(api: httpx.AsyncClient) -> None:
    """The audit trail names the human, not the key."""
    await api.post("/v1/users", json={"handle": "alice", "name": "Alice", "roles": ["ops"]})
    alice = bearer((await make_key(api, ["responder"], user="alice"))["secret"])
    assert (await api.get("/v1/me", headers=alice)).json() == {
        "actor": "user:alice",
        "scopes": ["responder"],
        "user": "alice",
    }
    request = (
        await api.post("/v1/requests", json={"prompt": "Ok?", "kind": "confirmation"})
    ).json()
    answered = (
        await api.post(
            f"/v1/requests/{request['id']}/respond", json={"response": True}, headers=alice
        )
    ).json()
    assert answered["resolved_by"] == "user:alice"


async def test_revoked_keys_and_disabled_users_stop_working_at_once(api: httpx.AsyncClient) -> None:
    """Revoking a key, or disabling its user, takes effect on the next call."""
    await api.post("/v1/users", json={"handle": "carol", "name": "Carol"})
    carol = await make_key(api, ["agent"], user="carol")
    other = await make_key(api, ["agent"])
    assert (await api.get("/v1/requests", headers=bearer(carol["secret"]))).status_code == 200
    assert (await api.get("/v1/requests", headers=bearer(other["secret"]))).status_code == 200
    revoked = await api.delete(f"/v1/keys/{other['id']}")
    assert revoked.status_code == 200 and revoked.json()["revoked_at"] is not None
    denied = await api.get("/v1/requests", headers=bearer(other["secret"]))
    assert denied.status_code == 401 and "revoked" in denied.json()["error"]["message"]
    assert (await api.patch("/v1/users/carol", json={"disabled": True})).json()["disabled"] is True
    denied = await api.get("/v1/requests", headers=bearer(carol["secret"]))
    assert denied.status_code == 401 and "disabled" in denied.json()["error"]["message"]
