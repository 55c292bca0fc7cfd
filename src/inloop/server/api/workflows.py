"""``/v1/workflows``: check a definition, start a workflow run, read where a run stands."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from inloop.domain.runs import Run
from inloop.server.api.deps import PrincipalDep, ServicesDep, json
from inloop.workflows.models import DefinitionCheck, NewWorkflowRun, Validation, WorkflowRun

router = APIRouter(prefix="/v1/workflows", tags=["workflows"])


@router.post("/validate", response_model=Validation)
async def validate(
    check: DefinitionCheck, services: ServicesDep, principal: PrincipalDep
) -> Response:
    """Every problem of a definition, each with its JSON path and the fix (200 either way)."""
    return json(await services.workflows.validate(principal, check.definition, check.name))


@router.post(
    "/runs", status_code=201, response_model=Run, responses={422: {"description": "Invalid"}}
)
async def start_run(
    new: NewWorkflowRun, services: ServicesDep, principal: PrincipalDep
) -> Response:
    """Check the definition and the inputs, then start the run (a worker serving the
    workflow carries it on); 422 ``invalid_workflow`` lists every problem in ``details``."""
    return json(await services.workflows.start(principal, new), 201)


@router.get("/runs/{run_id}", response_model=WorkflowRun)
async def get_run(run_id: str, services: ServicesDep, principal: PrincipalDep) -> Response:
    """Where the run stands: its current node(s), the path taken, its variables, its requests."""
    return json(await services.workflows.get(principal, run_id))
