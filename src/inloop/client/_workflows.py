"""Workflow runs over HTTP: ``client.workflows``, sync and async (see docs/workflows.md)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from inloop.client._calls import Call, one, segment
from inloop.domain.runs import Run
from inloop.workflows.models import Validation, WorkflowRun


def validate_call(definition: Any, name: str | None) -> Call[Validation]:
    body = {"definition": definition, "name": name}
    return Call("POST", "/v1/workflows/validate", one(Validation), body=body)


def start_call(definition: Any, inputs: Mapping[str, Any] | None, name: str | None) -> Call[Run]:
    body = {"definition": definition, "inputs": dict(inputs or {}), "name": name}
    return Call("POST", "/v1/workflows/runs", one(Run), body=body)


def get_call(run_id: str) -> Call[WorkflowRun]:
    return Call("GET", f"/v1/workflows/runs/{segment(run_id)}", one(WorkflowRun))


class Workflows:
    """``client.workflows`` of a blocking ``Client``."""

    def __init__(self, send: Callable[[Call[Any]], Any]) -> None:
        self._send = send

    def validate(self, definition: Any, *, name: str | None = None) -> Validation:
        """Every problem of a definition (parsed JSON/YAML), checked by the server."""
        result: Validation = self._send(validate_call(definition, name))
        return result

    def start(
        self, definition: Any, inputs: Mapping[str, Any] | None = None, *, name: str | None = None
    ) -> Run:
        """Start a run (a worker serving the workflow carries it on); InvalidError, with
        every problem in ``.details``, if the definition or the inputs do not fit."""
        result: Run = self._send(start_call(definition, inputs, name))
        return result

    def get(self, run_id: str) -> WorkflowRun:
        """Where a workflow run stands: current node(s), path taken, variables, requests."""
        result: WorkflowRun = self._send(get_call(run_id))
        return result


class AsyncWorkflows:
    """``client.workflows`` of an ``AsyncClient``; see ``Workflows``."""

    def __init__(self, send: Callable[[Call[Any]], Awaitable[Any]]) -> None:
        self._send = send

    async def validate(self, definition: Any, *, name: str | None = None) -> Validation:
        result: Validation = await self._send(validate_call(definition, name))
        return result

    async def start(
        self, definition: Any, inputs: Mapping[str, Any] | None = None, *, name: str | None = None
    ) -> Run:
        result: Run = await self._send(start_call(definition, inputs, name))
        return result

    async def get(self, run_id: str) -> WorkflowRun:
        result: WorkflowRun = await self._send(get_call(run_id))
        return result
