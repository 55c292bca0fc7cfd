"""``/v1/me``, ``/v1/users``, ``/v1/roles``, ``/v1/teams``, ``/v1/keys`` (admin scope)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response
from pydantic import BaseModel

from inloop.domain.errors import InvalidError
from inloop.domain.identity import (
    ApiKey,
    CreatedApiKey,
    NewApiKey,
    NewTeam,
    NewUser,
    PresenceUpdate,
    Team,
    User,
    UserUpdate,
)
from inloop.server.api.deps import PrincipalDep, ServicesDep, items, json

router = APIRouter(prefix="/v1", tags=["identity"])


class Me(BaseModel):
    actor: str
    scopes: list[str]
    user: str | None


class Role(BaseModel):
    name: str
    members: list[str]


@router.get("/me", response_model=Me)
async def me(principal: PrincipalDep) -> Response:
    return json(Me(actor=principal.actor, scopes=sorted(principal.scopes), user=principal.handle))


@router.post("/users", status_code=201, response_model=User)
async def create_user(new: NewUser, services: ServicesDep, principal: PrincipalDep) -> Response:
    return json(await services.identity.create_user(principal, new), 201)


@router.get("/users", response_model=dict[str, list[User]])
async def list_users(services: ServicesDep, principal: PrincipalDep) -> Response:
    return items(await services.identity.list_users(principal))


@router.get("/users/{handle}", response_model=User)
async def get_user(handle: str, services: ServicesDep, principal: PrincipalDep) -> Response:
    return json(await services.identity.get_user(principal, handle))


@router.patch("/users/{handle}", response_model=User)
async def update_user(
    handle: str, update: UserUpdate, services: ServicesDep, principal: PrincipalDep
) -> Response:
    return json(await services.identity.update_user(principal, handle, update))


@router.put("/users/{handle}/presence", response_model=User)
async def set_presence(
    handle: str, update: PresenceUpdate, services: ServicesDep, principal: PrincipalDep
) -> Response:
    return json(await services.identity.set_presence(principal, handle, update.presence))


@router.put("/me/presence", response_model=User)
async def set_my_presence(
    update: PresenceUpdate, services: ServicesDep, principal: PrincipalDep
) -> Response:
    if principal.handle is None:
        raise InvalidError(
            "this key acts for no user, so it has no presence",
            field="Authorization",
            code="no_user",
        )
    return json(await services.identity.set_presence(principal, principal.handle, update.presence))


@router.put("/users/{handle}/roles/{role}", response_model=User)
async def grant_role(
    handle: str, role: str, services: ServicesDep, principal: PrincipalDep
) -> Response:
    return json(await services.identity.set_role(principal, handle, role, granted=True))


@router.delete("/users/{handle}/roles/{role}", response_model=User)
async def revoke_role(
    handle: str, role: str, services: ServicesDep, principal: PrincipalDep
) -> Response:
    return json(await services.identity.set_role(principal, handle, role, granted=False))


@router.get("/roles", response_model=dict[str, list[Role]])
async def list_roles(services: ServicesDep, principal: PrincipalDep) -> Response:
    roles = await services.identity.list_roles(principal)
    return items([Role(name=name, members=members) for name, members in roles])


@router.post("/teams", status_code=201, response_model=Team)
async def create_team(new: NewTeam, services: ServicesDep, principal: PrincipalDep) -> Response:
    return json(await services.identity.create_team(principal, new), 201)


@router.get("/teams", response_model=dict[str, list[Team]])
async def list_teams(services: ServicesDep, principal: PrincipalDep) -> Response:
    return items(await services.identity.list_teams(principal))


@router.get("/teams/{name}", response_model=Team)
async def get_team(name: str, services: ServicesDep, principal: PrincipalDep) -> Response:
    return json(await services.identity.get_team(principal, name))


@router.delete("/teams/{name}", status_code=204)
async def delete_team(name: str, services: ServicesDep, principal: PrincipalDep) -> Response:
    await services.identity.delete_team(principal, name)
    return Response(status_code=204)


@router.put("/teams/{name}/members/{handle}", response_model=Team)
async def add_member(
    name: str, handle: str, services: ServicesDep, principal: PrincipalDep
) -> Response:
    return json(await services.identity.set_member(principal, name, handle, member=True))


@router.delete("/teams/{name}/members/{handle}", response_model=Team)
async def remove_member(
    name: str, handle: str, services: ServicesDep, principal: PrincipalDep
) -> Response:
    return json(await services.identity.set_member(principal, name, handle, member=False))


@router.post("/keys", status_code=201, response_model=CreatedApiKey)
async def create_key(new: NewApiKey, services: ServicesDep, principal: PrincipalDep) -> Response:
    return json(await services.identity.create_key(principal, new), 201)


@router.get("/keys", response_model=dict[str, list[ApiKey]])
async def list_keys(services: ServicesDep, principal: PrincipalDep) -> Response:
    return items(await services.identity.list_keys(principal))


@router.delete("/keys/{key_id}", response_model=ApiKey)
async def revoke_key(key_id: str, services: ServicesDep, principal: PrincipalDep) -> Response:
    return json(await services.identity.revoke_key(principal, key_id))
