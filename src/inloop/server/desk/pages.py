"""Sign-in, sign-out, password change, presence, and the desk's static files."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from inloop.domain.enums import Presence
from inloop.domain.errors import AuthenticationError, InvalidError, NotFoundError
from inloop.server.api.deps import ServicesDep
from inloop.server.desk.auth import (
    COOKIE,
    HERE,
    DeskRoute,
    DeskUser,
    render,
    secure_cookies,
    verify_csrf,
)

router = APIRouter(route_class=DeskRoute)
LOGIN_COOKIE = "inloop_login"
_STATIC_TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8",
                 ".svg": "image/svg+xml"}  # fmt: skip


def _load_static() -> dict[str, tuple[bytes, str, str]]:
    files: dict[str, tuple[bytes, str, str]] = {}
    for path in sorted((HERE / "static").iterdir()):
        if path.suffix in _STATIC_TYPES:
            body = path.read_bytes()
            etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
            files[path.name] = (body, _STATIC_TYPES[path.suffix], etag)
    return files


STATIC = _load_static()


@router.get("/static/{name}")
async def static(name: str, request: Request) -> Response:
    found = STATIC.get(name)
    if found is None:
        raise NotFoundError(f"no static file {name!r}", field="name")
    body, media_type, etag = found
    headers = {"ETag": etag, "Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=media_type, headers=headers)


def safe_next(target: str | None) -> str:
    """Only a desk path: never another site (an open redirect)."""
    if target and target.startswith("/desk") and "//" not in target and "\\" not in target:
        return target
    return "/desk"


def _login_page(
    request: Request,
    next_url: str,
    *,
    error: str | None = None,
    handle: str = "",
    status: int = 200,
) -> Response:
    token = secrets.token_urlsafe(24)
    response = render(
        request,
        "login.html",
        {"login_token": token, "next": next_url, "error": error, "handle": handle},
        status_code=status,
    )
    response.set_cookie(
        LOGIN_COOKIE, token, httponly=True, samesite="lax", secure=secure_cookies(request),
        path="/desk/login", max_age=3600,
    )  # fmt: skip
    return response


@router.get("/login")
async def login_form(request: Request, next: str | None = None) -> Response:
    return _login_page(request, safe_next(next))


@router.post("/login")
async def login(
    request: Request,
    services: ServicesDep,
    handle: Annotated[str, Form(max_length=100)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    login_token: Annotated[str, Form(max_length=100)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/desk",
) -> Response:
    target = safe_next(next)
    expected = request.cookies.get(LOGIN_COOKIE, "")
    if not expected or not hmac.compare_digest(expected.encode(), login_token.encode()):
        return _login_page(
            request, target, handle=handle, status=403,
            error="The sign-in form expired: please sign in again.",
        )  # fmt: skip
    try:
        token, _ = await services.sessions.sign_in(handle.strip(), password)
    except AuthenticationError as exc:
        return _login_page(request, target, error=exc.message, handle=handle, status=401)
    response = RedirectResponse(target, 303)
    response.set_cookie(
        COOKIE, token, httponly=True, samesite="lax", secure=secure_cookies(request),
        path="/desk", max_age=int(services.sessions.lifetime.total_seconds()),
    )  # fmt: skip
    response.delete_cookie(LOGIN_COOKIE, path="/desk/login")
    return response


@router.post("/logout", dependencies=[Depends(verify_csrf)])
async def logout(session: DeskUser, services: ServicesDep) -> Response:
    await services.sessions.sign_out(session)
    response = RedirectResponse("/desk/login", 303)
    response.delete_cookie(COOKIE, path="/desk")
    return response


@router.get("/password")
async def password_form(request: Request, session: DeskUser) -> Response:
    return render(request, "password.html", {"error": None, "done": False})


@router.post("/password", dependencies=[Depends(verify_csrf)])
async def change_password(
    request: Request,
    session: DeskUser,
    services: ServicesDep,
    current_password: Annotated[str, Form(max_length=1024)] = "",
    new_password: Annotated[str, Form(max_length=1024)] = "",
    repeat_password: Annotated[str, Form(max_length=1024)] = "",
) -> Response:
    try:
        if new_password != repeat_password:
            raise InvalidError(
                "the new password and its repetition differ", field="repeat_password"
            )
        await services.sessions.change_password(session, current_password, new_password)
    except InvalidError as exc:
        return render(request, "password.html", {"error": exc, "done": False}, status_code=422)
    return render(request, "password.html", {"error": None, "done": True})


@router.post("/presence", dependencies=[Depends(verify_csrf)])
async def presence(
    session: DeskUser,
    services: ServicesDep,
    presence: Annotated[str, Form(max_length=20)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/desk",
) -> Response:
    if presence not in (Presence.ONLINE, Presence.AWAY):
        raise InvalidError("presence must be online or away", field="presence")
    assert session.user.handle is not None
    await services.identity.set_presence(session.principal, session.user.handle, Presence(presence))
    return RedirectResponse(safe_next(next), 303)
