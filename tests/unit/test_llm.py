"""``inloop.llm``: the OpenAI-compatible client against a local fake endpoint, JSON output
checked against a schema, retries, and the deterministic built-in model."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from inloop.errors import UsageError
from inloop.llm import (
    BuiltinModel,
    LLMError,
    LLMOutputError,
    Message,
    OpenAIChat,
    chat_model,
    complete_json,
    parse_json,
)

SCHEMA = {
    "type": "object",
    "properties": {"response": {"type": "string"}, "confidence": {"type": "number"}},
    "required": ["response", "confidence"],
}


class FakeOpenAI:
    """A chat-completions endpoint that answers from a script and records what it got."""

    def __init__(self, *replies: Any) -> None:
        self.replies = list(replies)
        self.calls: list[dict[str, Any]] = []
        self.auth: list[str | None] = []
        self.app = FastAPI()
        self.app.post("/v1/chat/completions")(self.handle)

    async def handle(self, request: Request) -> JSONResponse:
        self.calls.append(await request.json())
        self.auth.append(request.headers.get("authorization"))
        reply = self.replies.pop(0)
        if isinstance(reply, tuple):
            status, body, *headers = reply
            return JSONResponse(body, status, headers=headers[0] if headers else None)
        return JSONResponse(
            {
                "id": "chatcmpl-1",
                "model": "fake-model",
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": reply},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {"prompt_tokens": 12, "completion_tokens": 5, "total_tokens": 17},
            }
        )

    def model(self, **options: Any) -> OpenAIChat:
        async def no_sleep(_: float) -> None:
            self.slept.append(_)

        self.slept: list[float] = []
        return OpenAIChat(
            "http://llm.test/v1",
            "sk-test",
            "gpt-test",
            transport=httpx.ASGITransport(app=self.app),
            sleep=no_sleep,
            **options,
        )


async def test_a_completion_sends_the_key_model_and_messages() -> None:
    fake = FakeOpenAI("Hello there")
    model = fake.model()
    reply = await model.complete([Message("user", "Say hello")], temperature=0)
    assert reply.text == "Hello there" and reply.model == "fake-model"
    assert reply.usage is not None and reply.usage.prompt_tokens == 12
    assert fake.auth == ["Bearer sk-test"]
    assert fake.calls[0] == {
        "model": "gpt-test",
        "messages": [{"role": "user", "content": "Say hello"}],
        "temperature": 0,
    }
    await model.aclose()


async def test_json_output_is_asked_with_the_schema_and_checked() -> None:
    fake = FakeOpenAI('```json\n{"response": "Refund sent", "confidence": 0.93}\n```')
    model = fake.model()
    data = await complete_json(model, [Message("user", "Draft a reply")], SCHEMA)
    assert data == {"response": "Refund sent", "confidence": 0.93}
    call = fake.calls[0]
    assert call["response_format"]["type"] == "json_schema"
    assert call["response_format"]["json_schema"]["schema"] == SCHEMA
    assert (
        call["messages"][0]["role"] == "system" and '"confidence"' in call["messages"][0]["content"]
    )


async def test_an_answer_that_does_not_fit_is_shown_to_the_model_once_more() -> None:
    fake = FakeOpenAI('{"response": "x"}', '{"response": "x", "confidence": 0.4}')
    data = await complete_json(fake.model(), [Message("user", "Draft")], SCHEMA)
    assert data["confidence"] == 0.4
    retry = fake.calls[1]["messages"]
    assert retry[-2] == {"role": "assistant", "content": '{"response": "x"}'}
    assert "'confidence' is a required property" in retry[-1]["content"]


async def test_an_answer_that_never_fits_raises_with_the_reason() -> None:
    fake = FakeOpenAI("not json at all", '{"response": 3, "confidence": 1}')
    with pytest.raises(LLMOutputError) as caught:
        await complete_json(fake.model(), [Message("user", "Draft")], SCHEMA)
    assert "at response" in str(caught.value) and caught.value.path == "response"
    assert caught.value.text == '{"response": 3, "confidence": 1}'


async def test_429_and_5xx_are_retried_with_retry_after_then_give_up() -> None:
    fake = FakeOpenAI(
        (429, {"error": {"message": "slow down"}}, {"Retry-After": "3"}),
        (503, {"error": {"message": "busy"}}),
        "finally",
    )
    model = fake.model(retries=2)
    assert (await model.complete([Message("user", "hi")])).text == "finally"
    assert fake.slept == [3.0, 1.0]
    failing = FakeOpenAI(
        (500, {"error": {"message": "boom"}}), (500, {"error": {"message": "boom"}})
    )
    with pytest.raises(LLMError) as caught:
        await failing.model(retries=1).complete([Message("user", "hi")])
    assert caught.value.status == 500 and "boom" in str(caught.value)


async def test_a_client_error_is_not_retried_and_says_why() -> None:
    fake = FakeOpenAI((401, {"error": {"message": "Incorrect API key provided"}}))
    with pytest.raises(LLMError, match="401: Incorrect API key"):
        await fake.model(retries=3).complete([Message("user", "hi")])
    assert len(fake.calls) == 1


async def test_json_object_mode_for_servers_without_structured_outputs() -> None:
    fake = FakeOpenAI('{"response": "ok", "confidence": 1}')
    await complete_json(fake.model(response_format="json_object"), [Message("user", "x")], SCHEMA)
    assert fake.calls[0]["response_format"] == {"type": "json_object"}


async def test_an_unreachable_endpoint_is_an_llm_error() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    async def no_sleep(_: float) -> None:
        return None

    model = OpenAIChat(
        "http://llm.test/v1", transport=httpx.MockTransport(refuse), retries=1, sleep=no_sleep
    )
    with pytest.raises(LLMError, match="could not be reached"):
        await model.complete([Message("user", "hi")])


async def test_the_builtin_model_is_deterministic_and_fits_the_schema() -> None:
    model = BuiltinModel()
    messages = [Message("user", "Customer asks for a refund of 120 EUR")]
    first = parse_json((await model.complete(messages, schema=SCHEMA)).text, SCHEMA)
    again = parse_json((await model.complete(messages, schema=SCHEMA)).text, SCHEMA)
    assert first == again and 0 <= first["confidence"] <= 1
    other = parse_json((await model.complete([Message("user", "else")], schema=SCHEMA)).text)
    assert other != first
    steered = await model.complete(
        messages, schema=SCHEMA, hints={"confidence": 0.42, "response": 7}
    )
    assert json.loads(steered.text)["confidence"] == 0.42  # a hint of the wrong type is ignored
    assert isinstance(json.loads(steered.text)["response"], str)
    text = await model.complete([Message("user", "Summarise   this   chat")])
    assert text.text == "Built-in model reply: Summarise this chat"


def test_chat_model_reads_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("INLOOP_LLM_URL", raising=False)
    assert isinstance(chat_model(), BuiltinModel)
    monkeypatch.setenv("INLOOP_LLM_URL", "http://127.0.0.1:9/v1")
    monkeypatch.setenv("INLOOP_LLM_MODEL", "llama3")
    model = chat_model()
    assert isinstance(model, OpenAIChat) and model.name == "llama3"
    assert model.url == "http://127.0.0.1:9/v1/chat/completions"
    with pytest.raises(UsageError, match="http:// or https://"):
        chat_model("ftp://x")
