"""``POST /v1/users/{handle}/password``: an admin sets or resets a desk password."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from inloop.server.api.deps import PrincipalDep, ServicesDep, json

router = APIRouter(prefix="/v1", tags=["identity"])


class NewPassword(BaseModel):
    model_config = ConfigDict(extra="forbid")

    password: str = Field(min_length=8, max_length=1024, description="At least 8 characters.")


@router.post("/users/{handle}/password")
async def set_password(
    handle: str, body: NewPassword, services: ServicesDep, principal: PrincipalDep
) -> Response:
    """Set the user's desk password (admin); their desk sessions end at once."""
    await services.sessions.set_password(principal, handle, body.password)
    return json(await services.identity.get_user(principal, handle))
