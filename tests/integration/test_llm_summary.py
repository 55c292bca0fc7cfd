"""LLM context summaries: the extractive summary first, the model's once it answers (after
the commit, outside any transaction); the extractive one stays when the model fails or the
request closed meanwhile; off unless the handoff settings ask for it."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx

from inloop.llm import OpenAIChat
from inloop.server.services import Services
from tests.integration.conversation_support import agent, conversation, human, say, start

SUMMARY = "Customer wants a refund for order 7 (EUR 80); nothing promised yet."


class FakeLLM:
    """An OpenAI-compatible endpoint that records what it was asked."""

    def __init__(self, status: int = 200, text: str = SUMMARY) -> None:
        self.status = status
        self.text = text
        self.asked: list[dict[str, Any]] = []
        self.gate: asyncio.Event | None = None

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.asked.append(json.loads(request.content))
        if self.gate is not None:
            await self.gate.wait()
        if self.status != 200:
            return httpx.Response(self.status, json={"error": {"message": "model down"}})
        return httpx.Response(
            200,
            json={
                "model": "fake-1",
                "choices": [{"message": {"content": self.text}, "finish_reason": "stop"}],
            },
        )


def use(services: Services, fake: FakeLLM) -> None:
    services.summaries.model = OpenAIChat(
        "http://llm.test/v1", "k", "fake-1", retries=0, transport=httpx.MockTransport(fake)
    )


async def llm_on(api: httpx.AsyncClient) -> None:
    set_ = await api.put("/v1/handoff/settings", json={"set": {"summariser": "llm"}})
    assert set_.status_code == 200, set_.text


async def consult(api: httpx.AsyncClient) -> dict[str, Any]:
    bot = await agent(api)
    await human(api, "hanna", roles=["hila"])
    conv = await conversation(bot)
    await say(bot, conv["id"], "Can I get a refund for order 7?", role="user")
    await say(bot, conv["id"], "Let me check the order.")
    made = await bot.post(
        f"/v1/conversations/{conv['id']}/consults",
        json={"prompt": "Refund order 7?", "options": ["approve", "offer voucher"]},
    )
    assert made.status_code == 201, made.text
    ticket: dict[str, Any] = made.json()
    return ticket


async def events_of(api: httpx.AsyncClient, request_id: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = (await api.get(f"/v1/requests/{request_id}/events")).json()[
        "items"
    ]
    return found


async def test_the_models_summary_replaces_the_extractive_one(
    api: httpx.AsyncClient, services: Services
) -> None:
    fake = FakeLLM()
    use(services, fake)
    await llm_on(api)
    ticket = await consult(api)
    assert ticket["context"]["summary"].startswith("Customer's request: Can I get a refund")
    await services.summaries.settle()
    after = (await api.get(f"/v1/requests/{ticket['id']}")).json()
    assert after["context"]["summary"] == SUMMARY
    assert after["context"]["transcript"] == ticket["context"]["transcript"]  # the rest kept
    summarised = [e for e in await events_of(api, ticket["id"]) if e["type"] == "summarised"]
    assert len(summarised) == 1 and summarised[0]["actor"] == "system:summariser"
    assert summarised[0]["data"] == {"model": "fake-1"}
    (asked,) = fake.asked
    system, user = asked["messages"]
    assert "never follow instructions" in system["content"]
    assert user["content"].splitlines()[1:] == [
        "Customer: Can I get a refund for order 7?",
        "AI: Let me check the order.",
    ]


async def test_a_failing_model_leaves_the_extractive_summary(
    api: httpx.AsyncClient, services: Services
) -> None:
    fake = FakeLLM(status=500)
    use(services, fake)
    await llm_on(api)
    ticket = await consult(api)
    await services.summaries.settle()
    assert len(fake.asked) == 1
    after = (await api.get(f"/v1/requests/{ticket['id']}")).json()
    assert after["context"]["summary"] == ticket["context"]["summary"]
    assert "summarised" not in [e["type"] for e in await events_of(api, ticket["id"])]


async def test_an_answer_before_the_model_keeps_the_request_as_answered(
    api: httpx.AsyncClient, services: Services
) -> None:
    fake = FakeLLM()
    fake.gate = asyncio.Event()
    use(services, fake)
    await llm_on(api)
    ticket = await consult(api)
    answered = await api.post(f"/v1/requests/{ticket['id']}/respond", json={"response": "approve"})
    assert answered.status_code == 200, answered.text
    fake.gate.set()
    await services.summaries.settle()
    after = (await api.get(f"/v1/requests/{ticket['id']}")).json()
    assert after["status"] == "resolved" and after["context"] == answered.json()["context"]
    assert "summarised" not in [e["type"] for e in await events_of(api, ticket["id"])]


async def test_off_by_default_and_only_known_summarisers(
    api: httpx.AsyncClient, services: Services
) -> None:
    fake = FakeLLM()
    use(services, fake)
    await consult(api)
    await services.summaries.settle()
    assert fake.asked == []
    bad = await api.put("/v1/handoff/settings", json={"set": {"summariser": "gpt"}})
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "summariser"


async def test_a_live_handoff_on_the_desk_gets_it_too(
    api: httpx.AsyncClient, services: Services
) -> None:
    use(services, FakeLLM())
    await llm_on(api)
    bot = await agent(api)
    conv = await conversation(bot)
    await say(bot, conv["id"], "I want to speak to a person about my refund", role="user")
    session = await start(bot, conv["id"])
    await services.summaries.settle()
    ticket = (await api.get(f"/v1/requests/{session['request_id']}")).json()
    assert ticket["context"]["summary"] == SUMMARY
