"""Who is signed in to the desk, CSRF checks, and rendering pages.

For every desk router (the queue, the request page, the admin pages, the dashboard):

- ``DeskUser``: the signed-in session (``.principal``, ``.user``, ``.csrf_token``);
  without one, the browser is sent to ``/desk/login``.
- ``DeskAdmin``: the same, for users with the admin role; others get a 403 page.
- ``verify_csrf``: a dependency for every state-changing route: the form field
  ``csrf_token`` or the header ``X-CSRF-Token`` must carry the session's token.
- ``render(request, name, context)``: a template, autoescaped, with the desk's
  security headers and ``session``, ``csrf_token`` and ``csrf_input()`` available.
- ``DeskRoute``: the route class that turns domain errors into error pages (or JSON
  error bodies for the desk's own fetch calls).
"""

from __future__ import annotations

import hmac
import os
from collections.abc import Callable, Coroutine, Mapping
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup, escape

from inloop.domain.errors import DomainError, InvalidError, PermissionDeniedError
from inloop.server.api.deps import ServicesDep
from inloop.server.api.errors import STATUS, error_body
from inloop.server.desk import views
from inloop.server.services.sessions import DeskSession

COOKIE = "inloop_session"
LOGIN_PATH = "/desk/login"
HERE = Path(__file__).parent

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
        "frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}

_env = Environment(
    loader=FileSystemLoader(HERE / "templates"),
    autoescape=True,  # every template, whatever its name: agents' text is untrusted
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
views.install(_env)
templates = Jinja2Templates(env=_env)


class SignInRequired(Exception):
    """Raised by DeskUser without a live session: the browser goes to the sign-in page."""


async def current_session(request: Request, services: ServicesDep) -> DeskSession:
    session = await services.sessions.resume(request.cookies.get(COOKIE))
    if session is None:
        raise SignInRequired
    request.state.desk_session = session
    return session


DeskUser = Annotated[DeskSession, Depends(current_session)]


async def admin_session(session: DeskUser) -> DeskSession:
    if not session.principal.is_admin:
        raise PermissionDeniedError("this page is for admins", code="forbidden")
    return session


DeskAdmin = Annotated[DeskSession, Depends(admin_session)]


async def verify_csrf(request: Request, session: DeskUser) -> None:
    """Refuse a state change without the session's CSRF token (form field or header)."""
    token: Any = request.headers.get("x-csrf-token")
    if token is None and _is_form(request):
        token = (await request.form()).get("csrf_token")
    origin = request.headers.get("origin")
    if origin is not None and origin != _origin(request):
        raise PermissionDeniedError(
            f"a form posted from another site ({origin}) is refused", code="csrf_failed"
        )
    if not isinstance(token, str) or not hmac.compare_digest(
        token.encode(), session.csrf_token.encode()
    ):
        raise PermissionDeniedError(
            "the form's security token is missing or out of date: reload the page and try again",
            field="csrf_token",
            code="csrf_failed",
        )


def _is_form(request: Request) -> bool:
    kind = request.headers.get("content-type", "")
    return kind.startswith(("application/x-www-form-urlencoded", "multipart/form-data"))


def _origin(request: Request) -> str:
    return f"{request.url.scheme}://{request.url.netloc}"


def render(
    request: Request,
    name: str,
    context: Mapping[str, Any] | None = None,
    *,
    status_code: int = 200,
) -> Response:
    session: DeskSession | None = getattr(request.state, "desk_session", None)
    csrf = session.csrf_token if session else ""
    page = {
        "request": request,
        "session": session,
        "csrf_token": csrf,
        "csrf_input": lambda: (
            Markup('<input type="hidden" name="csrf_token" value="%s">') % escape(csrf)
        ),
        **(context or {}),
    }
    return templates.TemplateResponse(
        request, name, page, status_code=status_code, headers=SECURITY_HEADERS
    )


def wants_json(request: Request) -> bool:
    return "application/json" in request.headers.get("accept", "") or request.url.path.endswith(
        ".json"
    )


def error_page(request: Request, exc: DomainError) -> Response:
    status = next((s for cls, s in STATUS.items() if isinstance(exc, cls)), 400)
    if wants_json(request):
        return JSONResponse(
            error_body(exc.code, exc.message, exc.field), status, headers=SECURITY_HEADERS
        )
    return render(request, "error.html", {"status": status, "error": exc}, status_code=status)


def secure_cookies(request: Request) -> bool:
    """Secure cookies over https, or always with INLOOP_SECURE_COOKIES=1 (behind a proxy)."""
    return request.url.scheme == "https" or os.environ.get("INLOOP_SECURE_COOKIES", "") in (
        "1",
        "true",
        "yes",
    )


def sign_in_redirect(request: Request) -> Response:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    if request.method != "GET" or wants_json(request):
        target = "/desk"
    if wants_json(request):
        return JSONResponse(
            error_body("unauthenticated", "signed out: sign in again"),
            401,
            headers=SECURITY_HEADERS,
        )
    return RedirectResponse(f"{LOGIN_PATH}?next={quote(target)}", 303)


def _invalid(exc: RequestValidationError) -> InvalidError:
    first: dict[str, Any] = next(iter(exc.errors()), {})
    field = ".".join(str(p) for p in first.get("loc", ())[1:]) or None
    message = str(first.get("msg", "invalid input")).removeprefix("Value error, ")
    return InvalidError(f"{field}: {message}" if field else message, field=field)


class DeskRoute(APIRoute):
    """Desk routes answer errors with a page (or JSON for the desk's fetch calls)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                return await handler(request)
            except SignInRequired:
                return sign_in_redirect(request)
            except DomainError as exc:
                return error_page(request, exc)
            except RequestValidationError as exc:
                return error_page(request, _invalid(exc))

        return handle
