"""Chat completions from an OpenAI-compatible endpoint, and a deterministic built-in model.

::

    model = chat_model()  # INLOOP_LLM_URL, INLOOP_LLM_API_KEY, INLOOP_LLM_MODEL; else built in
    reply = await model.complete([Message("user", "Summarise: ...")])
    data = await complete_json(model, [Message("user", "...")], schema)  # checked JSON

``OpenAIChat`` speaks the chat-completions protocol over httpx (OpenAI, Azure's OpenAI
compatible endpoints, vLLM, Ollama, llama.cpp, LiteLLM ...): ``POST {url}/chat/completions``
with a bearer key, retrying transport failures, 429 and 5xx with backoff (honouring
``Retry-After``). ``BuiltinModel`` needs no network: the same messages always give the same
reply, so demos and tests run offline. Both satisfy ``ChatModel``.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import httpx

from inloop.errors import InloopError, UsageError

Role = Literal["system", "user", "assistant"]
ResponseFormat = Literal["json_schema", "json_object", "none"]
BUILTIN = "builtin"
DEFAULT_MODEL = "gpt-4o-mini"
MAX_RETRY_AFTER = 30.0


@dataclass(frozen=True)
class Message:
    role: Role
    content: str


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int
    completion_tokens: int


@dataclass(frozen=True)
class Reply:
    """What the model answered: its text, the model that answered, and why it stopped."""

    text: str
    model: str
    finish_reason: str | None = None
    usage: Usage | None = None


class LLMError(InloopError):
    """The model could not be reached, or refused the call (``status`` is the HTTP status)."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class LLMOutputError(LLMError):
    """The reply is not JSON that fits the schema; ``text`` is what the model said."""

    def __init__(self, message: str, *, text: str, path: str | None = None) -> None:
        super().__init__(message)
        self.text = text
        self.path = path


class ChatModel(Protocol):
    """What callers need of a model: one chat completion."""

    name: str

    async def complete(
        self,
        messages: Sequence[Message],
        *,
        schema: Mapping[str, Any] | None = None,
        model: str | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
    ) -> Reply: ...


Sleep = Callable[[float], Awaitable[None]]


class OpenAIChat:
    """An OpenAI-compatible chat-completions endpoint.

    ``base_url`` is the API root (``https://api.openai.com/v1``); ``response_format`` says how
    a schema is asked for: ``json_schema`` (structured outputs), ``json_object`` (JSON mode,
    for servers without structured outputs) or ``none`` (only the instructions say so). The
    schema is also written into the system message, so every server sees it.
    """

    def __init__(
        self,
        base_url: str,
        api_key: str | None = None,
        model: str = DEFAULT_MODEL,
        *,
        timeout: float = 60.0,
        retries: int = 2,
        response_format: ResponseFormat = "json_schema",
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise UsageError(f"the LLM URL must start with http:// or https://, got {base_url!r}")
        if response_format not in ("json_schema", "json_object", "none"):
            raise UsageError("response_format is json_schema, json_object or none")
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.name = model
        self.retries = max(0, retries)
        self.response_format = response_format
        self._sleep = sleep
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._http = httpx.AsyncClient(headers=headers, timeout=timeout, transport=transport)

    async def complete(
        self,
        messages: Sequence[Message],
        *,
        schema: Mapping[str, Any] | None = None,
        model: str | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
    ) -> Reply:
        body: dict[str, Any] = {
            "model": model or self.name,
            "messages": [
                {"role": m.role, "content": m.content} for m in _with_schema(messages, schema)
            ],
        }
        if temperature is not None:
            body["temperature"] = temperature
        if max_tokens is not None:
            body["max_tokens"] = max_tokens
        if schema is not None and self.response_format == "json_schema":
            body["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "output", "schema": dict(schema), "strict": False},
            }
        elif schema is not None and self.response_format == "json_object":
            body["response_format"] = {"type": "json_object"}
        return _reply(await self._post(body), body["model"])

    async def _post(self, body: dict[str, Any]) -> Any:
        for attempt in range(self.retries + 1):
            last = attempt == self.retries
            try:
                response = await self._http.post(self.url, json=body)
            except httpx.HTTPError as exc:
                if last:
                    raise LLMError(f"the LLM at {self.url} could not be reached: {exc}") from exc
                await self._sleep(_backoff(attempt))
                continue
            retryable = response.status_code == 429 or response.status_code >= 500
            if retryable and not last:
                await self._sleep(_retry_after(response) or _backoff(attempt))
                continue
            if response.status_code >= 400:
                raise LLMError(
                    f"the LLM at {self.url} answered {response.status_code}: "
                    f"{_error_message(response)}",
                    status=response.status_code,
                )
            try:
                return response.json()
            except ValueError:
                raise LLMError(
                    f"the LLM at {self.url} answered {response.status_code} with a body that "
                    "is not JSON",
                    status=response.status_code,
                ) from None
        raise AssertionError("unreachable")  # pragma: no cover

    async def aclose(self) -> None:
        await self._http.aclose()


def _with_schema(messages: Sequence[Message], schema: Mapping[str, Any] | None) -> list[Message]:
    if schema is None:
        return list(messages)
    rule = (
        "Answer with one JSON object only, no prose and no code fence, that fits this JSON "
        f"Schema:\n{json.dumps(schema, ensure_ascii=False)}"
    )
    return [Message("system", rule), *messages]


def _reply(data: Any, model: str) -> Reply:
    try:
        choice = data["choices"][0]
        message = choice["message"]
        text = message.get("content")
        if text is None and message.get("refusal"):
            raise LLMError(f"the model refused: {message['refusal']}")
        usage = data.get("usage") or None
        return Reply(
            text=text or "",
            model=str(data.get("model") or model),
            finish_reason=choice.get("finish_reason"),
            usage=Usage(int(usage.get("prompt_tokens", 0)), int(usage.get("completion_tokens", 0)))
            if isinstance(usage, dict)
            else None,
        )
    except (KeyError, IndexError, TypeError, AttributeError) as exc:
        raise LLMError(f"the LLM's answer is not a chat completion: {exc!r}") from None


def _backoff(attempt: int) -> float:
    return float(min(0.5 * 2**attempt, 8.0))


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after", "")
    try:
        return min(max(float(value), 0.0), MAX_RETRY_AFTER)
    except ValueError:
        return None


def _error_message(response: httpx.Response) -> str:
    try:
        error = response.json().get("error")
    except (ValueError, AttributeError):
        return response.text[:300]
    if isinstance(error, dict):
        return str(error.get("message") or error)[:300]
    return str(error)[:300]


class BuiltinModel:
    """A deterministic stand-in for a model: no network, the same messages give the same reply.

    With a schema it answers JSON that fits it: each property takes the value of the same
    name from ``hints`` when there is one of the right type (so a demo can steer it), else a
    stable value derived from the messages. Without one it answers a short plain text.
    """

    name = BUILTIN

    async def complete(
        self,
        messages: Sequence[Message],
        *,
        schema: Mapping[str, Any] | None = None,
        model: str | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
        hints: Mapping[str, Any] | None = None,
    ) -> Reply:
        seed = "\n".join(f"{m.role}:{m.content}" for m in messages)
        if schema is None:
            return Reply(text=_summary(messages), model=BUILTIN, finish_reason="stop")
        value = _fill(schema, seed, "", dict(hints or {}))
        return Reply(
            text=json.dumps(value, ensure_ascii=False), model=BUILTIN, finish_reason="stop"
        )


def _summary(messages: Sequence[Message]) -> str:
    last = next((m.content for m in reversed(messages) if m.role == "user"), "")
    words = " ".join(last.split())
    return "Built-in model reply: " + (words[:280] + ("…" if len(words) > 280 else ""))


def _unit(seed: str, path: str) -> float:
    digest = hashlib.sha256(f"{seed}|{path}".encode()).digest()
    return int.from_bytes(digest[:6], "big") / float(1 << 48)


_TYPES: dict[str, type | tuple[type, ...]] = {
    "string": str, "number": (int, float), "integer": int, "boolean": bool,
    "array": list, "object": dict,
}  # fmt: skip


def _fits(value: Any, kind: str) -> bool:
    if isinstance(value, bool) and kind in ("number", "integer"):
        return False
    expected = _TYPES.get(kind)
    return expected is not None and isinstance(value, expected)


def _fill(schema: Mapping[str, Any], seed: str, path: str, hints: dict[str, Any]) -> Any:
    if "const" in schema:
        return schema["const"]
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        options = schema["enum"]
        return options[int(_unit(seed, path) * len(options))]
    kind = schema.get("type", "object" if "properties" in schema else "string")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object":
        result = {}
        for name, sub in (schema.get("properties") or {}).items():
            hinted = hints.get(name)
            sub_kind = sub.get("type") if isinstance(sub, dict) else None
            if path == "" and isinstance(sub_kind, str) and _fits(hinted, sub_kind):
                result[name] = hinted
                continue
            result[name] = _fill(sub if isinstance(sub, dict) else {}, seed, f"{path}/{name}", {})
        return result
    if kind == "array":
        return []
    if kind == "boolean":
        return _unit(seed, path) >= 0.5
    if kind == "integer":
        low = int(schema.get("minimum", 0))
        high = int(schema.get("maximum", low + 100))
        return low + int(_unit(seed, path) * (high - low + 1))
    if kind == "number":
        bottom = float(schema.get("minimum", 0.0))
        top = float(schema.get("maximum", 1.0))
        return round(bottom + _unit(seed, path) * (top - bottom), 2)
    if kind == "null":
        return None
    return (
        f"{path.rsplit('/', 1)[-1] or 'text'} (built-in model, {int(_unit(seed, path) * 1e4):04d})"
    )


def chat_model(
    url: str | None = None,
    api_key: str | None = None,
    model: str | None = None,
    **options: Any,
) -> ChatModel:
    """The configured model: ``url`` (or ``INLOOP_LLM_URL``) names an OpenAI-compatible API
    root, with ``api_key`` (``INLOOP_LLM_API_KEY``) and ``model`` (``INLOOP_LLM_MODEL``);
    without a URL, or with the URL ``builtin``, the built-in model."""
    env = os.environ
    url = url or env.get("INLOOP_LLM_URL") or BUILTIN
    if url == BUILTIN:
        return BuiltinModel()
    options.setdefault("response_format", env.get("INLOOP_LLM_RESPONSE_FORMAT", "json_schema"))
    return OpenAIChat(
        url,
        api_key or env.get("INLOOP_LLM_API_KEY") or None,
        model or env.get("INLOOP_LLM_MODEL") or DEFAULT_MODEL,
        **options,
    )


_FENCE = re.compile(r"^\s*```(?:json)?\s*(.*?)\s*```\s*$", re.DOTALL)


def parse_json(text: str, schema: Mapping[str, Any] | None = None) -> Any:
    """The JSON in a reply (a code fence around it is tolerated), checked against ``schema``.

    Raises LLMOutputError saying what is wrong and where. Checking needs ``jsonschema``.
    """
    fenced = _FENCE.match(text)
    body = fenced.group(1) if fenced else text.strip()
    try:
        value = json.loads(body)
    except ValueError as exc:
        raise LLMOutputError(f"the reply is not JSON: {exc}", text=text) from None
    if schema is not None:
        errors = sorted(_validator(schema).iter_errors(value), key=lambda e: list(e.path))
        if errors:
            where = ".".join(str(p) for p in errors[0].absolute_path) or None
            at = f" at {where}" if where else ""
            raise LLMOutputError(
                f"the reply does not fit the output schema{at}: {errors[0].message}",
                text=text,
                path=where,
            )
    return value


_VALIDATORS: dict[int, tuple[Mapping[str, Any], Any]] = {}


def _validator(schema: Mapping[str, Any]) -> Any:
    """Built once per schema object: callers pass the same schema for every call."""
    found = _VALIDATORS.get(id(schema))
    if found is not None and found[0] is schema:
        return found[1]
    from jsonschema import Draft202012Validator

    validator = Draft202012Validator(dict(schema))
    if len(_VALIDATORS) > 1024:
        _VALIDATORS.clear()
    _VALIDATORS[id(schema)] = (schema, validator)
    return validator


async def complete_json(
    model: ChatModel,
    messages: Sequence[Message],
    schema: Mapping[str, Any],
    *,
    retries: int = 1,
    **options: Any,
) -> Any:
    """Ask for JSON fitting ``schema``; a reply that does not fit is shown to the model with
    the reason, up to ``retries`` more times, before LLMOutputError is raised."""
    asked = list(messages)
    for attempt in range(retries + 1):
        reply = await model.complete(asked, schema=schema, **options)
        try:
            return parse_json(reply.text, schema)
        except LLMOutputError as exc:
            if attempt == retries:
                raise
            asked = [
                *asked,
                Message("assistant", reply.text),
                Message("user", f"That answer is not usable: {exc}. Answer again."),
            ]
    raise AssertionError("unreachable")  # pragma: no cover
