"""Admin pages: users, roles, teams and API keys, through the identity services.

Every page is for admins (``DeskAdmin``: others get a 403 page) and every form carries the
session's CSRF token. A change that worked redirects (303) to the page, with a one-time
notice in a short-lived cookie; one that did not renders the page again with the error
and what was typed. A new API key's secret travels the same way, so it is shown on one
page load only: a reload no longer has it, and no replica has to remember it.
"""

from __future__ import annotations

import base64
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from inloop.domain.enums import Scope
from inloop.domain.errors import DomainError, InvalidError
from inloop.domain.identity import NewApiKey, NewTeam, NewUser, UserUpdate
from inloop.server.api.deps import ServicesDep
from inloop.server.desk.auth import DeskAdmin, DeskRoute, render, secure_cookies, verify_csrf
from inloop.server.services.sessions import check_password

router = APIRouter(prefix="/admin", route_class=DeskRoute)
NOTICE = "inloop_notice"
NOTICE_PATH = "/desk/admin"
SCOPES = [s.value for s in Scope]
csrf = [Depends(verify_csrf)]
Text = Annotated[str, Form(max_length=2000)]


def _problem(exc: DomainError | ValidationError) -> tuple[str, str | None, int]:
    """A message, the field at fault and the status, for the page to show."""
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or None
        message = str(first["msg"]).removeprefix("Value error, ")
        return f"{field}: {message}" if field else message, field, 422
    status = {"not_found": 404, "already_exists": 409, "conflict": 409}.get(exc.code, 422)
    if exc.code in ("forbidden", "missing_scope"):
        status = 403
    return exc.message, exc.field, status


def _done(target: str, message: str, request: Request, **extra: str) -> Response:
    """Redirect to ``target`` with a notice (and, for a new key, its secret) shown once."""
    response = RedirectResponse(target, 303)
    value = base64.urlsafe_b64encode(orjson.dumps({"message": message, **extra})).decode()
    response.set_cookie(
        NOTICE,
        value,
        max_age=120,
        path=NOTICE_PATH,
        httponly=True,
        samesite="strict",
        secure=secure_cookies(request),
    )
    return response


def _page(
    request: Request, name: str, context: dict[str, Any], *, status_code: int = 200
) -> Response:
    """Render an admin page with the pending notice, which is then forgotten."""
    notice: dict[str, str] | None = None
    raw = request.cookies.get(NOTICE)
    if raw:
        try:
            loaded = orjson.loads(base64.urlsafe_b64decode(raw.encode()))
            if isinstance(loaded, dict):
                notice = {str(k): str(v) for k, v in loaded.items()}
        except (ValueError, orjson.JSONDecodeError):
            notice = None
    response = render(
        request, name, {"notice": notice, "error": None, **context}, status_code=status_code
    )
    if raw:
        response.delete_cookie(NOTICE, path=NOTICE_PATH)
    return response


def _split(text: str) -> list[str]:
    return [part for part in (p.strip() for p in text.replace(",", " ").split()) if part]


# users


async def _users_page(
    request: Request, session: DeskAdmin, services: ServicesDep, **extra: Any
) -> Response:
    users = await services.identity.list_users(session.principal)
    status = extra.pop("status_code", 200)
    context = {"users": users, "form": {}, **extra}
    return _page(request, "admin/users.html", context, status_code=status)


@router.get("/users")
async def users_page(request: Request, session: DeskAdmin, services: ServicesDep) -> Response:
    return await _users_page(request, session, services)


@router.post("/users", dependencies=csrf)
async def create_user(
    request: Request,
    session: DeskAdmin,
    services: ServicesDep,
    handle: Text = "",
    name: Text = "",
    email: Text = "",
    roles: Text = "",
    password: Annotated[str, Form(max_length=1024)] = "",
) -> Response:
    form = {"handle": handle, "name": name, "email": email, "roles": roles}
    try:
        new = NewUser(
            handle=handle.strip(),
            name=name.strip(),
            email=email.strip() or None,
            roles=_split(roles),
        )
        if password:
            # Checked before the user exists, so a refused password leaves nothing behind.
            check_password(password)
        await services.identity.create_user(session.principal, new)
        if password:
            await services.sessions.set_password(session.principal, new.handle, password)
    except (DomainError, ValidationError) as exc:
        message, field, status = _problem(exc)
        error = {"message": message, "field": field}
        return await _users_page(
            request, session, services, form=form, error=error, status_code=status
        )
    return _done("/desk/admin/users", f"User {new.handle} created.", request)


@router.get("/users/{handle}")
async def user_page(
    request: Request, handle: str, session: DeskAdmin, services: ServicesDep
) -> Response:
    user = await services.identity.get_user(session.principal, handle)
    keys = [k for k in await services.identity.list_keys(session.principal) if k.user == handle]
    return _page(request, "admin/user.html", {"user": user, "keys": keys})


async def _user_error(
    request: Request,
    session: DeskAdmin,
    services: ServicesDep,
    handle: str,
    exc: DomainError | ValidationError,
) -> Response:
    user = await services.identity.get_user(session.principal, handle)
    keys = [k for k in await services.identity.list_keys(session.principal) if k.user == handle]
    message, field, status = _problem(exc)
    context = {"user": user, "keys": keys, "error": {"message": message, "field": field}}
    return _page(request, "admin/user.html", context, status_code=status)


@router.post("/users/{handle}", dependencies=csrf)
async def update_user(
    request: Request,
    handle: str,
    session: DeskAdmin,
    services: ServicesDep,
    name: Text = "",
    email: Text = "",
    capacity: Text = "",
) -> Response:
    values: dict[str, Any] = {"name": name.strip(), "email": email.strip() or None}
    try:
        if capacity.strip() and not capacity.strip().isdigit():
            raise InvalidError("capacity must be a whole number", field="capacity")
        values["capacity"] = int(capacity) if capacity.strip() else None
        update = UserUpdate.model_validate(values)
        await services.identity.update_user(session.principal, handle, update)
    except (DomainError, ValidationError) as exc:
        return await _user_error(request, session, services, handle, exc)
    return _done(f"/desk/admin/users/{handle}", f"{handle} saved.", request)


@router.post("/users/{handle}/disabled", dependencies=csrf)
async def set_disabled(
    request: Request,
    handle: str,
    session: DeskAdmin,
    services: ServicesDep,
    disabled: Text = "",
    next: Text = "",
) -> Response:
    target = "/desk/admin/users" if next != "user" else f"/desk/admin/users/{handle}"
    disable = disabled == "true"
    if disable and handle == session.user.handle:
        raise InvalidError("you cannot disable yourself: ask another admin", field="handle")
    # A disabled user's desk sessions stop working at their next page (sessions.resume).
    await services.identity.update_user(session.principal, handle, UserUpdate(disabled=disable))
    return _done(target, f"{handle} {'disabled' if disable else 'enabled'}.", request)


@router.post("/users/{handle}/password", dependencies=csrf)
async def reset_password(
    request: Request,
    handle: str,
    session: DeskAdmin,
    services: ServicesDep,
    password: Annotated[str, Form(max_length=1024)] = "",
) -> Response:
    try:
        await services.sessions.set_password(session.principal, handle, password)
    except DomainError as exc:
        return await _user_error(request, session, services, handle, exc)
    return _done(f"/desk/admin/users/{handle}", f"Password of {handle} reset.", request)


@router.post("/users/{handle}/roles", dependencies=csrf)
async def set_role(
    request: Request,
    handle: str,
    session: DeskAdmin,
    services: ServicesDep,
    role: Text = "",
    granted: Text = "true",
    next: Text = "",
) -> Response:
    grant = granted == "true"
    try:
        await services.identity.set_role(session.principal, handle, role.strip(), granted=grant)
    except DomainError as exc:
        return await _user_error(request, session, services, handle, exc)
    target = "/desk/admin/roles" if next == "roles" else f"/desk/admin/users/{handle}"
    verb = "granted to" if grant else "revoked from"
    return _done(target, f"Role {role.strip()} {verb} {handle}.", request)


# roles


@router.get("/roles")
async def roles_page(request: Request, session: DeskAdmin, services: ServicesDep) -> Response:
    roles = await services.identity.list_roles(session.principal)
    users = await services.identity.list_users(session.principal)
    return _page(request, "admin/roles.html", {"roles": roles, "users": users})


@router.post("/roles", dependencies=csrf)
async def grant_role(
    request: Request,
    session: DeskAdmin,
    services: ServicesDep,
    handle: Text = "",
    role: Text = "",
) -> Response:
    try:
        await services.identity.set_role(
            session.principal, handle.strip(), role.strip(), granted=True
        )
    except DomainError as exc:
        message, field, status = _problem(exc)
        roles = await services.identity.list_roles(session.principal)
        users = await services.identity.list_users(session.principal)
        context = {"roles": roles, "users": users, "error": {"message": message, "field": field}}
        return _page(request, "admin/roles.html", context, status_code=status)
    return _done("/desk/admin/roles", f"Role {role.strip()} granted to {handle.strip()}.", request)


# teams


async def _teams_page(
    request: Request, session: DeskAdmin, services: ServicesDep, **extra: Any
) -> Response:
    teams = await services.identity.list_teams(session.principal)
    users = await services.identity.list_users(session.principal)
    status = extra.pop("status_code", 200)
    context = {"teams": teams, "users": users, "form": {}, **extra}
    return _page(request, "admin/teams.html", context, status_code=status)


@router.get("/teams")
async def teams_page(request: Request, session: DeskAdmin, services: ServicesDep) -> Response:
    return await _teams_page(request, session, services)


@router.post("/teams", dependencies=csrf)
async def create_team(
    request: Request,
    session: DeskAdmin,
    services: ServicesDep,
    name: Text = "",
    description: Text = "",
) -> Response:
    try:
        new = NewTeam(name=name.strip(), description=description.strip() or None)
        await services.identity.create_team(session.principal, new)
    except (DomainError, ValidationError) as exc:
        message, field, status = _problem(exc)
        form = {"name": name, "description": description}
        error = {"message": message, "field": field}
        return await _teams_page(
            request, session, services, form=form, error=error, status_code=status
        )
    return _done("/desk/admin/teams", f"Team {new.name} created.", request)


@router.post("/teams/{name}/members", dependencies=csrf)
async def set_member(
    request: Request,
    name: str,
    session: DeskAdmin,
    services: ServicesDep,
    handle: Text = "",
    member: Text = "true",
) -> Response:
    add = member == "true"
    try:
        await services.identity.set_member(session.principal, name, handle.strip(), member=add)
    except DomainError as exc:
        message, field, status = _problem(exc)
        error = {"message": message, "field": field}
        return await _teams_page(request, session, services, error=error, status_code=status)
    verb = "added to" if add else "removed from"
    return _done("/desk/admin/teams", f"{handle.strip()} {verb} {name}.", request)


@router.post("/teams/{name}/delete", dependencies=csrf)
async def delete_team(
    request: Request, name: str, session: DeskAdmin, services: ServicesDep
) -> Response:
    await services.identity.delete_team(session.principal, name)
    return _done("/desk/admin/teams", f"Team {name} deleted.", request)


# API keys


async def _keys_page(
    request: Request, session: DeskAdmin, services: ServicesDep, **extra: Any
) -> Response:
    keys = await services.identity.list_keys(session.principal)
    users = await services.identity.list_users(session.principal)
    keys.sort(key=lambda k: k.created_at, reverse=True)  # newest first,
    keys.sort(key=lambda k: k.revoked_at is not None)  # the revoked ones last
    status = extra.pop("status_code", 200)
    context = {"keys": keys, "users": users, "scopes": SCOPES, "form": {}, **extra}
    return _page(request, "admin/keys.html", context, status_code=status)


@router.get("/keys")
async def keys_page(request: Request, session: DeskAdmin, services: ServicesDep) -> Response:
    return await _keys_page(request, session, services)


@router.post("/keys", dependencies=csrf)
async def create_key(
    request: Request,
    session: DeskAdmin,
    services: ServicesDep,
    name: Text = "",
    scopes: Annotated[list[str] | None, Form()] = None,
    user: Text = "",
) -> Response:
    try:
        new = NewApiKey.model_validate(
            {"name": name.strip(), "scopes": scopes or [], "user": user.strip() or None}
        )
        created = await services.identity.create_key(session.principal, new)
    except (DomainError, ValidationError) as exc:
        message, field, status = _problem(exc)
        form = {"name": name, "scopes": scopes or [], "user": user}
        error = {"message": message, "field": field}
        return await _keys_page(
            request, session, services, form=form, error=error, status_code=status
        )
    return _done(
        "/desk/admin/keys",
        f"Key {created.name} created. Copy its secret now: it is not shown again.",
        request,
        secret=created.secret,
        key_id=created.id,
    )


@router.post("/keys/{key_id}/revoke", dependencies=csrf)
async def revoke_key(
    request: Request, key_id: str, session: DeskAdmin, services: ServicesDep
) -> Response:
    key = await services.identity.revoke_key(session.principal, key_id)
    return _done("/desk/admin/keys", f"Key {key.name} revoked.", request)
