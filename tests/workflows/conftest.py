from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from inloop import AsyncClient
from inloop.domain.requests import Request
from inloop.domain.runs import RunStatus
from inloop.workflows.definition import load_file
from inloop.workflows.interpreter import WorkflowAgent
from inloop.workflows.models import WorkflowRun
from inloop.workflows.validation import compile_workflow
from tests.support import ADMIN_TOKEN

EXAMPLES = Path(__file__).parents[2] / "examples" / "workflows"


@pytest.fixture(autouse=True, scope="session")
def example_functions() -> Iterator[None]:
    """The example workflows' functions import as the CLI finds them: beside the files."""
    sys.path.insert(0, str(EXAMPLES))
    yield
    sys.path.remove(str(EXAMPLES))


def workflows_app(services: Any) -> Any:
    """The routes a workflow run uses, as ``create_app`` mounts them (without the desk)."""
    from fastapi import FastAPI

    from inloop.server.api import assignment, errors, identity, requests, runs, workflows

    app = FastAPI()
    app.state.services = services
    errors.install(app)
    for module in (requests, assignment, runs, identity, workflows):
        app.include_router(module.router)
    return app


@pytest.fixture
async def client(services: Any) -> AsyncIterator[AsyncClient]:
    async with AsyncClient(
        "http://inloop.test",
        ADMIN_TOKEN,
        transport=httpx.ASGITransport(app=workflows_app(services)),
    ) as sdk:
        yield sdk


async def no_sleep(_: float) -> None:
    return None


class Harness:
    """Start workflow runs, serve them in this process, and answer their humans."""

    def __init__(self, client: AsyncClient) -> None:
        self.client = client
        self.tasks: list[asyncio.Task[None]] = []
        self.served: dict[str, WorkflowAgent] = {}
        self.progress: list[tuple[str, str, dict[str, Any]]] = []

    def load(self, name: str) -> dict[str, Any]:
        data = load_file(EXAMPLES / name)
        assert isinstance(data, dict)
        return data

    def serve(self, definition: Any, name: str | None = None, **options: Any) -> WorkflowAgent:
        workflow = compile_workflow(definition, name=name)
        options.setdefault("sleep", no_sleep)
        options.setdefault(
            "on_progress", lambda run, what, detail: self.progress.append((run, what, dict(detail)))
        )
        agent = WorkflowAgent(workflow, self.client, **options)
        self.tasks.append(asyncio.create_task(agent.serve(client=self.client, poll=5)))
        self.served[workflow.name] = agent
        return agent

    async def start(
        self,
        definition: Any,
        inputs: dict[str, Any] | None = None,
        *,
        name: str | None = None,
        serve: bool = True,
        **options: Any,
    ) -> str:
        workflow = compile_workflow(definition, name=name)
        if serve and workflow.name not in self.served:
            self.serve(definition, name, **options)
        run = await self.client.workflows.start(definition, inputs or {}, name=name)
        return run.id

    async def paused(self, run_id: str) -> WorkflowRun:
        """Wait (a server long-poll, no sleeping) until the run waits on humans only."""
        run = await self.client.runs.wait(run_id, timeout=30, paused=True)
        assert run.status == RunStatus.PAUSED, (run.status, run.error)
        return await self.client.workflows.get(run_id)

    async def open_request(self, run_id: str) -> Request:
        view = await self.paused(run_id)
        [request] = view.waiting_on
        return request

    async def answer(self, run_id: str, response: Any, **fields: Any) -> Request:
        request = await self.open_request(run_id)
        await self.client.respond(request.id, response, **fields)
        return request

    async def finished(self, run_id: str) -> WorkflowRun:
        run = await self.client.runs.wait(run_id, timeout=30)
        assert not run.status.is_open, run
        return await self.client.workflows.get(run_id)

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        for task in self.tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task


@pytest.fixture
async def harness(client: AsyncClient) -> AsyncIterator[Harness]:
    found = Harness(client)
    yield found
    await found.close()
