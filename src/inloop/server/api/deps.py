"""What routes depend on: the services, the caller, and fast JSON responses."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import Response
from pydantic import BaseModel

from inloop.domain.identity import Principal
from inloop.server.services import Services


async def get_services(request: Request) -> Services:
    # async on purpose: FastAPI runs a plain def dependency on a worker thread.
    services: Services = request.app.state.services
    return services


async def get_principal(
    request: Request, services: Annotated[Services, Depends(get_services)]
) -> Principal:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return await services.identity.authenticate(
        token.strip() if scheme.lower() == "bearer" else None
    )


ServicesDep = Annotated[Services, Depends(get_services)]
PrincipalDep = Annotated[Principal, Depends(get_principal)]


def json(model: BaseModel | dict[str, Any], status_code: int = 200, **headers: str) -> Response:
    """Serialize with pydantic's own encoder: no second validation pass through FastAPI."""
    body = model.model_dump_json() if isinstance(model, BaseModel) else _dump(model)
    return Response(body, status_code, media_type="application/json", headers=headers or None)


def _dump(value: dict[str, Any]) -> bytes:
    from pydantic_core import to_json

    return to_json(value)


def items(models: list[Any], **extra: Any) -> Response:
    return json({"items": models, **extra})
