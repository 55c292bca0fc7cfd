"""Who may see and answer a request: candidates, the assignee, its creator, admins."""

from __future__ import annotations

from inloop.domain.errors import ConflictError, PermissionDeniedError
from inloop.domain.identity import Principal
from inloop.domain.requests import Request


def is_candidate(principal: Principal, request: Request) -> bool:
    return bool(principal.refs.intersection(request.candidates))


def can_see(principal: Principal, request: Request) -> bool:
    return (
        principal.is_admin
        or request.created_by == principal.actor
        or (principal.handle is not None and request.assigned_to == principal.handle)
        or is_candidate(principal, request)
    )


def check_can_see(principal: Principal, request: Request) -> None:
    if not can_see(principal, request):
        raise PermissionDeniedError(
            f"{principal.actor} is not among the candidates of request {request.id}",
            code="forbidden",
        )


def check_can_answer(principal: Principal, request: Request) -> None:
    """Admins, the assignee, or (while nobody holds it) a candidate may answer."""
    if principal.is_admin:
        return
    holder = request.assigned_to
    if holder is not None and holder == principal.handle:
        return
    if not is_candidate(principal, request):
        raise PermissionDeniedError(
            f"{principal.actor} is not among the candidates of request {request.id}",
            code="forbidden",
        )
    if holder is not None:
        raise ConflictError(
            f"request {request.id} is assigned to {holder}: they answer it, or an admin "
            "releases or reassigns it",
            code="assigned_to_another",
        )
