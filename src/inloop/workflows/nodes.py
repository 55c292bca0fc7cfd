"""What the automated nodes do: call a Python function, a URL, or a model.

Each returns the node's output (JSON data) or raises ``NodeError`` saying what failed; the
interpreter keeps the output under the node's id and merges its fields into the variables.
Retries wait through an injected ``sleep`` (tests pass one that returns at once).
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
from pydantic_core import to_jsonable_python

from inloop.domain.durations import parse_duration
from inloop.llm import BuiltinModel, ChatModel, LLMError, Message, complete_json
from inloop.workflows.cel import CelEvalError
from inloop.workflows.compiled import CompiledNode
from inloop.workflows.definition import FunctionNode, HttpNode, LLMNode
from inloop.workflows.templates import as_text

Sleep = Callable[[float], Awaitable[None]]
MAX_BODY = 1024 * 1024


class NodeError(Exception):
    """A node failed; the message says which node, what it did and why."""


@dataclass
class NodeContext:
    """What a node may use: the run's ids, the model, an HTTP transport, how to wait."""

    run_id: str
    event_id: int
    model: ChatModel
    sleep: Sleep = asyncio.sleep
    transport: httpx.AsyncBaseTransport | None = None
    environment: Mapping[str, str] = field(default_factory=dict)
    #: Which automated node of its step this is (0: the first); with ``checkpoint:
    #: human`` a step runs several, and a loop may visit a node twice in one step.
    visit: int = 0

    def idempotency_key(self, node: str) -> str:
        """Stable across retries of the step: the same pending event is claimed again,
        and its step passes the same nodes in the same order."""
        key = f"{self.run_id}:{node}:{self.event_id}"
        return f"{key}:{self.visit}" if self.visit else key


def _backoff(attempt: int) -> float:
    return float(min(0.5 * 2**attempt, 8.0))


def _seconds(timeout: str | None) -> float | None:
    return parse_duration(timeout).total_seconds() if timeout else None


async def run_node(node: CompiledNode, variables: Mapping[str, Any], ctx: NodeContext) -> Any:
    spec = node.spec
    if isinstance(spec, FunctionNode):
        return await call_function(node, spec, variables, ctx)
    if isinstance(spec, HttpNode):
        return await call_http(node, spec, variables, ctx)
    if isinstance(spec, LLMNode):
        return await call_model(node, spec, variables, ctx)
    raise AssertionError(f"{node.type} is not an automated node")


# -- function -------------------------------------------------------------------------

_FUNCTIONS: dict[str, Callable[..., Any]] = {}


def resolve(target: str) -> Callable[..., Any]:
    """The callable at ``module:function`` (cached); NodeError if it cannot be imported."""
    found = _FUNCTIONS.get(target)
    if found is not None:
        return found
    module_name, _, qualname = target.partition(":")
    try:
        value: Any = importlib.import_module(module_name)
        for part in qualname.split("."):
            value = getattr(value, part)
    except (ImportError, AttributeError) as exc:
        raise NodeError(f"cannot import {target}: {exc}") from None
    if not callable(value):
        raise NodeError(f"{target} is not callable")
    _FUNCTIONS[target] = value
    return value  # type: ignore[no-any-return]


async def call_function(
    node: CompiledNode, spec: FunctionNode, variables: Mapping[str, Any], ctx: NodeContext
) -> Any:
    fn = resolve(spec.function)
    args = node.render("args", variables) if spec.args is not None else None
    if args is not None and not isinstance(args, dict):
        raise NodeError(f"{node.id}: args rendered to {type(args).__name__}, not an object")
    accepts_key = "idempotency_key" in _parameters(fn)
    timeout = _seconds(spec.timeout)
    kwargs = dict(args) if args is not None else {}
    if args is not None and accepts_key:
        kwargs["idempotency_key"] = ctx.idempotency_key(node.id)
    positional = () if args is not None else (dict(variables),)
    for attempt in range(spec.retries + 1):
        try:
            result = await _invoke(fn, positional, kwargs, timeout)
            break
        except Exception as exc:
            if attempt == spec.retries:
                what = "timed out" if isinstance(exc, TimeoutError) else f"raised {exc!r}"
                raise NodeError(f"{node.id}: {spec.function} {what}") from exc
            await ctx.sleep(_backoff(attempt))
    try:
        output = to_jsonable_python(result)
    except Exception as exc:
        raise NodeError(
            f"{node.id}: {spec.function} returned something that is not JSON data: {exc}"
        ) from None
    _check_output(node, spec.output_schema, output, spec.function)
    return output


async def _invoke(
    fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any], timeout: float | None
) -> Any:
    """Call ``fn``: a coroutine function on the loop, anything else on a thread (so a slow
    function does not stall the worker's other steps)."""
    if inspect.iscoroutinefunction(fn):
        return await asyncio.wait_for(fn(*args, **kwargs), timeout)
    result = await asyncio.wait_for(asyncio.to_thread(fn, *args, **kwargs), timeout)
    if inspect.isawaitable(result):
        result = await asyncio.wait_for(result, timeout)
    return result


def _parameters(fn: Callable[..., Any]) -> set[str]:
    try:
        return set(inspect.signature(fn).parameters)
    except (TypeError, ValueError):
        return set()


def _check_output(
    node: CompiledNode, schema: dict[str, Any] | None, output: Any, what: str
) -> None:
    if schema is None:
        return
    errors = sorted(validator_for(schema).iter_errors(output), key=lambda e: list(e.path))
    if errors:
        where = ".".join(str(p) for p in errors[0].absolute_path)
        at = f" at {where}" if where else ""
        raise NodeError(
            f"{node.id}: {what} returned output that does not fit output_schema{at}: "
            f"{errors[0].message}"
        )


_VALIDATORS: dict[int, tuple[dict[str, Any], Any]] = {}


def validator_for(schema: dict[str, Any]) -> Any:
    """A JSON Schema validator per schema object, built once (schemas live in the compiled
    workflow, so the same object comes back for every run)."""
    found = _VALIDATORS.get(id(schema))
    if found is not None and found[0] is schema:
        return found[1]
    from jsonschema import Draft202012Validator

    validator = Draft202012Validator(schema)
    if len(_VALIDATORS) > 1024:
        _VALIDATORS.clear()
    _VALIDATORS[id(schema)] = (schema, validator)
    return validator


# -- http -----------------------------------------------------------------------------


async def call_http(
    node: CompiledNode, spec: HttpNode, variables: Mapping[str, Any], ctx: NodeContext
) -> Any:
    scope = {**variables, "env": dict(ctx.environment)}
    url = node.render("url", scope)
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise NodeError(f"{node.id}: the url rendered to {url!r}, not an http(s) URL")
    headers = {str(k): as_text(v) for k, v in (node.render("headers", scope) or {}).items()}
    headers.setdefault("Idempotency-Key", ctx.idempotency_key(node.id))
    body = node.render("body", variables) if spec.body is not None else None
    timeout = _seconds(spec.timeout) or 30.0
    async with httpx.AsyncClient(timeout=timeout, transport=ctx.transport) as http:
        response = await _send(node, spec, http, url, headers, body, ctx)
    parsed = _body(response)
    answer = {
        "status": response.status_code,
        "body": parsed,
        "headers": {k.lower(): v for k, v in response.headers.items()},
    }
    output: dict[str, Any] = {"status": response.status_code, "body": parsed}
    for name, expression in node.outputs.items():
        try:
            output[name] = expression.evaluate({**variables, **answer})
        except CelEvalError as exc:
            raise NodeError(f"{node.id}: output.{name} ({expression.text}) failed: {exc}") from None
    return output


async def _send(
    node: CompiledNode,
    spec: HttpNode,
    http: httpx.AsyncClient,
    url: str,
    headers: dict[str, str],
    body: Any,
    ctx: NodeContext,
) -> httpx.Response:
    content = None if body is None else json.dumps(body, ensure_ascii=False).encode()
    if content is not None:
        headers.setdefault("Content-Type", "application/json")
    for attempt in range(spec.retries + 1):
        last = attempt == spec.retries
        try:
            response = await http.request(spec.method, url, headers=headers, content=content)
        except httpx.HTTPError as exc:
            if last:
                raise NodeError(f"{node.id}: {spec.method} {url} failed: {exc!r}") from None
            await ctx.sleep(_backoff(attempt))
            continue
        if (response.status_code == 429 or response.status_code >= 500) and not last:
            await ctx.sleep(_retry_after(response) or _backoff(attempt))
            continue
        if response.status_code >= 400:
            raise NodeError(
                f"{node.id}: {spec.method} {url} answered {response.status_code}: "
                f"{response.text[:300]}"
            )
        return response
    raise AssertionError("unreachable")  # pragma: no cover


def _retry_after(response: httpx.Response) -> float | None:
    try:
        return min(max(float(response.headers.get("retry-after", "")), 0.0), 30.0)
    except ValueError:
        return None


def _body(response: httpx.Response) -> Any:
    if len(response.content) > MAX_BODY:
        raise NodeError(f"the answer is {len(response.content)} bytes: at most {MAX_BODY}")
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        return response.text


# -- llm ------------------------------------------------------------------------------


async def call_model(
    node: CompiledNode, spec: LLMNode, variables: Mapping[str, Any], ctx: NodeContext
) -> Any:
    visible = {k: v for k, v in variables.items() if k != "run"}
    if spec.prompt is not None:
        prompt = as_text(node.render("prompt", variables))
    else:
        prompt = "Input:\n" + json.dumps(visible, ensure_ascii=False, indent=2, default=str)
    messages = [Message("user", prompt)]
    if spec.system is not None:
        messages.insert(0, Message("system", as_text(node.render("system", variables))))
    options: dict[str, Any] = {}
    if spec.model is not None:
        options["model"] = spec.model
    if spec.temperature is not None:
        options["temperature"] = spec.temperature
    if spec.max_tokens is not None:
        options["max_tokens"] = spec.max_tokens
    if isinstance(ctx.model, BuiltinModel):
        options["hints"] = visible
    timeout = _seconds(spec.timeout)
    try:
        if spec.output_schema is None:
            reply = await asyncio.wait_for(ctx.model.complete(messages, **options), timeout)
            return {"text": reply.text, "model": reply.model}
        data = await asyncio.wait_for(
            complete_json(ctx.model, messages, spec.output_schema, retries=spec.retries, **options),
            timeout,
        )
    except TimeoutError:
        raise NodeError(f"{node.id}: the model did not answer within {spec.timeout}") from None
    except LLMError as exc:
        raise NodeError(f"{node.id}: {exc}") from None
    if isinstance(data, dict):
        for name in spec.output_schema.get("properties") or {}:
            data.setdefault(name, None)  # a declared field is always set, null if left out
    return data
