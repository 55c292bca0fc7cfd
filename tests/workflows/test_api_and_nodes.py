"""The workflow API (validate, start, state; errors with every problem; who may see a run)
and the automated nodes: http against a local fake endpoint (retries, mapping the JSON
answer, Idempotency-Key), function args, an llm output that never fits. SQLite and
PostgreSQL."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from inloop import AsyncClient, InvalidError, NotFoundError, PermissionDeniedError
from inloop.domain.runs import RunStatus
from tests.unit.test_llm import FakeOpenAI
from tests.workflows.conftest import Harness, workflows_app

GOOD = {"name": "tiny", "nodes": [{"id": "ask", "type": "human", "prompt": "Ship {{order}}?"}]}


async def test_validate_answers_every_problem_with_200(api: httpx.AsyncClient) -> None:
    bad = {"nodes": [{"id": "a", "type": "humna"}], "edges": [{"from": "a", "to": "zz"}]}
    body = (await api.post("/v1/workflows/validate", json={"definition": bad, "name": "x"})).json()
    assert body["valid"] is False
    assert [p["path"] for p in body["problems"]] == ["nodes[0].type", "edges[0].to"]
    good = (await api.post("/v1/workflows/validate", json={"definition": GOOD})).json()
    assert good["valid"] and good["inputs"] == ["order"] and good["required_inputs"] == ["order"]


async def test_start_refuses_a_bad_definition_or_input_and_writes_nothing(
    client: AsyncClient, api: httpx.AsyncClient
) -> None:
    response = await api.post(
        "/v1/workflows/runs", json={"definition": {"nodes": [{"id": "a"}]}, "name": "x"}
    )
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "invalid_workflow" and error["field"] == "nodes[0].type"
    assert error["message"] == f"nodes[0].type: {error['details'][0]['message']}"
    assert [d["path"] for d in error["details"]] == ["nodes[0].type"]
    with pytest.raises(InvalidError) as caught:
        await client.workflows.start(GOOD, {})
    assert caught.value.field == "inputs.order" and caught.value.details
    assert (await client.runs.list()).items == []


async def test_a_run_is_seen_by_its_key_and_admins_only(client: AsyncClient, services: Any) -> None:
    key = await client.create_key("other", scopes=["agent"])
    run = await client.workflows.start(GOOD, {"order": 1})
    transport = httpx.ASGITransport(app=workflows_app(services))
    async with AsyncClient("http://inloop.test", key.secret, transport=transport) as other:
        with pytest.raises(PermissionDeniedError):
            await other.workflows.get(run.id)
    with pytest.raises(NotFoundError):
        await client.workflows.get("run_nope")
    plain = await client.runs.start("SomeAgent", "StartEvent", {})
    with pytest.raises(NotFoundError, match="not of a workflow"):
        await client.workflows.get(plain.id)


class FakeService:
    """A local endpoint: 503 once, then a JSON answer; records what it got."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self.app = FastAPI()
        self.app.post("/score")(self.score)

    async def score(self, request: Request) -> JSONResponse:
        self.calls.append({"body": await request.json(), "headers": dict(request.headers)})
        if len(self.calls) == 1:
            return JSONResponse({"error": "busy"}, 503, headers={"Retry-After": "1"})
        return JSONResponse({"score": 0.82, "flags": ["velocity"]})


async def test_an_http_node_retries_and_maps_the_answer(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RISK_TOKEN", "s3cret")
    fake = FakeService()
    definition = {
        "name": "scoring",
        "nodes": [
            {"id": "score", "type": "http", "method": "POST", "url": "http://risk.test/score",
             "headers": {"Authorization": "Bearer {{env.RISK_TOKEN}}"},
             "body": {"amount": "{{amount}}"}, "retries": 1,
             "output": {"risk": "body.score", "flagged": "size(body.flags) > 0"}},
            {"id": "done", "type": "end", "output": {"risk": "{{risk}}", "flagged": "{{flagged}}", "status": "{{score.status}}"}},
        ],
    }  # fmt: skip
    run_id = await harness.start(
        definition, {"amount": 99}, http_transport=httpx.ASGITransport(app=fake.app)
    )
    view = await harness.finished(run_id)
    assert view.output == {"risk": 0.82, "flagged": True, "status": 200}
    assert len(fake.calls) == 2 and fake.calls[1]["body"] == {"amount": 99}
    headers = fake.calls[1]["headers"]
    assert headers["authorization"] == "Bearer s3cret"
    assert headers["idempotency-key"] == fake.calls[0]["headers"]["idempotency-key"]
    assert headers["idempotency-key"].startswith(f"{run_id}:score:")
    assert "s3cret" not in str(view.variables)  # env is read where it is used, never kept


async def test_an_http_error_goes_to_on_error(harness: Harness) -> None:
    async def refuse(request: httpx.Request) -> httpx.Response:
        return httpx.Response(404, text="no such customer")

    definition = {
        "name": "lookup",
        "nodes": [
            {
                "id": "fetch",
                "type": "http",
                "url": "http://crm.test/customers/{{id}}",
                "on_error": "manual",
            },
            {
                "id": "manual",
                "type": "human",
                "prompt": "Look it up by hand: {{error.message}}",
                "kind": "input",
            },
            {"id": "found", "type": "end"},
        ],
        "edges": [{"from": "fetch", "to": "found"}],
    }
    run_id = await harness.start(definition, {"id": 7}, http_transport=httpx.MockTransport(refuse))
    request = await harness.open_request(run_id)
    assert (
        request.prompt
        == "Look it up by hand: fetch: GET http://crm.test/customers/7 answered 404: no such customer"
    )


async def test_function_args_and_an_idempotency_key(harness: Harness) -> None:
    definition = {"name": "adding", "nodes": [
        {"id": "add", "type": "function", "function": "tests.workflows.functions:add",
         "args": {"a": "{{x}}", "b": 2}},
        {"id": "done", "type": "end", "output": "{{add.sum}}"}]}  # fmt: skip
    run_id = await harness.start(definition, {"x": 40})
    view = await harness.finished(run_id)
    assert view.output == 42 and view.variables["key"].startswith(f"{run_id}:add:")


async def test_an_llm_answer_that_never_fits_fails_the_run_saying_why(harness: Harness) -> None:
    fake = FakeOpenAI('{"confidence": "high"}', '{"confidence": "very"}')
    definition = {"name": "judging", "nodes": [
        {"id": "judge", "type": "llm", "prompt": "Judge {{text}}", "retries": 1,
         "output_schema": {"properties": {"confidence": {"type": "number"}}}}]}  # fmt: skip
    run_id = await harness.start(definition, {"text": "x"}, model=fake.model())
    run = await harness.client.runs.wait(run_id, timeout=30)
    assert run.status == RunStatus.FAILED
    assert "judge: the reply does not fit the output schema at confidence" in (run.error or "")
    assert fake.calls[0]["messages"][-1]["content"] == "Judge x"


async def test_a_when_that_fails_at_run_time_fails_the_run(harness: Harness) -> None:
    definition = {"name": "typed", "nodes": [
        {"id": "ask", "type": "human", "prompt": "Amount?", "kind": "input"},
        {"id": "big", "type": "end"}, {"id": "small", "type": "end"}],
        "edges": [{"from": "ask", "to": "big", "when": "response > 100"}, {"from": "ask", "to": "small"}]}  # fmt: skip
    run_id = await harness.start(definition)
    await harness.answer(run_id, "lots")
    run = await harness.client.runs.wait(run_id, timeout=30)
    assert run.status == RunStatus.FAILED
    assert "edges[0].when (response > 100) failed: no such overload: string > int" in (
        run.error or ""
    )
