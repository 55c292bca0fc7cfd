"""The desk: the web app where humans answer requests, mounted at ``/desk``.

``router`` gathers the desk's routers. Each is an ``APIRouter(route_class=DeskRoute)``
with no prefix of its own, included below. Pages extend ``templates/base.html``
(blocks ``title`` and ``content``; the nav links Queue, Dashboard and, for admins, Admin).

What a desk route uses, from ``inloop.server.desk.auth``:

- ``DeskUser`` / ``DeskAdmin``: the signed-in ``DeskSession`` (``.principal`` for the
  services, ``.user``, ``.csrf_token``); no session redirects to ``/desk/login``, a
  non-admin gets a 403 page from ``DeskAdmin``.
- ``dependencies=[Depends(verify_csrf)]`` on every POST: forms carry
  ``{{ csrf_input() }}``; fetch calls send the ``X-CSRF-Token`` header, read from
  ``<meta name="csrf-token">`` in the base template.
- ``render(request, "page.html", {...})``: autoescaped templates with the desk's
  security headers (a strict Content-Security-Policy: scripts only from /desk/static).
- Domain errors raised by the services become error pages (or JSON bodies for requests
  that accept JSON) through ``DeskRoute``.
"""

from __future__ import annotations

from fastapi import APIRouter

from inloop.server.api.passwords import router as passwords_api
from inloop.server.desk import (
    admin,
    answer_links,
    channels_admin,
    conversation_page,
    dashboard,
    pages,
    queue,
    request_page,
    workflows,
)
from inloop.server.desk.auth import DeskRoute

router = APIRouter(prefix="/desk", route_class=DeskRoute, include_in_schema=False)
# "/desk" itself: a route path may be empty only on the router with the prefix.
router.add_api_route("", queue.queue, methods=["GET"])
router.include_router(pages.router)
router.include_router(queue.router)
router.include_router(request_page.router)
router.include_router(admin.router)
router.include_router(dashboard.router)
router.include_router(answer_links.router)
router.include_router(channels_admin.router)
router.include_router(workflows.router)
router.include_router(conversation_page.router)

__all__ = ["passwords_api", "router"]
