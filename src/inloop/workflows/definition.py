"""The shapes of a workflow definition (seed 001's), and reading one from JSON or YAML.

A definition is ``{"name", "description", "inputs", "start", "nodes", "edges"}``; two
shorter forms of the seed load too: a single node object (a one-node workflow) and
``{"nodes": [...]}`` without edges (the nodes run in the order listed). Node shapes are
pydantic models, one per ``type``; unknown fields are refused. ``definition_schema()`` is
the JSON Schema of the whole, for editors.
"""

from __future__ import annotations

import difflib
import json
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from inloop.domain.specs import Display, Duration, Option
from inloop.workflows.problems import Problem

NODE_TYPES = ("human", "llm", "function", "http", "end")
ID_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]{0,63}$"
NAME_PATTERN = r"^[A-Za-z0-9_.-]{1,100}$"
#: Names the interpreter sets itself: no node may take them as its id.
RESERVED = frozenset({"response", "error", "env", "run", "true", "false", "null", "in"})
MAX_NODES = 500
MAX_EDGES = 2000


class _Shape(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NodeBase(_Shape):
    id: Annotated[
        str, Field(pattern=ID_PATTERN, description="Also the variable its output is under.")
    ]
    description: str | None = None


class HumanNode(NodeBase):
    """Ask a human: a request through Inloop's routing and escalation."""

    type: Literal["human"]
    prompt: str = Field(min_length=1, description="Instructions or question; {{templates}}.")
    options: list[str | Option] | None = Field(default=None, min_length=1, max_length=50)
    timeout: Duration | None = None
    escalation: Any = Field(
        default=None,
        description="auto_approve, auto_reject, escalate, retry, queue, or a chain object",
    )
    assignee: Any = Field(
        default=None, description="user:/role:/team:<name>, a list, or {strategy, pool}"
    )
    priority: Literal["low", "medium", "high", "urgent"] | None = None
    context: Any = Field(
        default=None, description="Shown to the human; {{templates}} at any depth."
    )
    display: Display | None = None
    response_schema: dict[str, Any] | None = None
    kind: Literal["approval", "input", "confirmation", "choice", "form"] | None = Field(
        default=None,
        description="Inferred: form with a response_schema, approval with options holding "
        "approve (or with no options at all), choice with other options.",
    )
    title: str | None = None
    payload: Any = Field(default=None, description="The proposed action a human may edit.")
    metadata: dict[str, Any] | None = None
    assignment: Any = None
    approvals: Any = None
    quorum: Any = None


class _Working(NodeBase):
    on_error: str | None = Field(
        default=None, description="The node to go to when this one fails (`error` holds why)."
    )
    timeout: Duration | None = None
    retries: int = Field(default=0, ge=0, le=10)


class LLMNode(_Working):
    """Ask a model (an OpenAI-compatible endpoint, or the built-in one)."""

    type: Literal["llm"]
    prompt: str | None = Field(default=None, description="Default: the run's variables as JSON.")
    system: str | None = None
    model: str | None = None
    output_schema: dict[str, Any] | None = None
    temperature: float | None = Field(default=None, ge=0, le=2)
    max_tokens: int | None = Field(default=None, ge=1, le=200_000)
    retries: int = Field(default=1, ge=0, le=10)


class FunctionNode(_Working):
    """Call a Python callable, ``module:function``, that the worker serving the run trusts."""

    type: Literal["function"]
    function: str = Field(pattern=r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")
    args: dict[str, Any] | None = Field(
        default=None, description="Keyword arguments; {{templates}}."
    )
    output_schema: dict[str, Any] | None = None


class HttpNode(_Working):
    """Call a URL; ``output`` maps the answer into variables (CEL over status, body, headers)."""

    type: Literal["http"]
    url: str = Field(min_length=1)
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "GET"
    headers: dict[str, str] = Field(default_factory=dict)
    body: Any = None
    output: dict[str, str] = Field(default_factory=dict)
    timeout: Duration | None = "30s"
    retries: int = Field(default=2, ge=0, le=10)


class EndNode(NodeBase):
    """End the run, with an ``outcome`` (default: the node's id) and an ``output``."""

    type: Literal["end"]
    outcome: str | None = Field(default=None, min_length=1, max_length=100)
    output: Any = Field(default=None, description="The run's result; {{templates}}.")


Node = HumanNode | LLMNode | FunctionNode | HttpNode | EndNode
MODELS: dict[str, type[Node]] = {
    "human": HumanNode, "llm": LLMNode, "function": FunctionNode, "http": HttpNode, "end": EndNode,
}  # fmt: skip


class Edge(_Shape):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    source: str = Field(alias="from")
    target: str = Field(alias="to")
    when: str | None = Field(default=None, description="A CEL condition; none: the default edge.")


class Definition(_Shape):
    """The whole workflow, as written (JSON Schema for editors: ``definition_schema()``)."""

    name: str | None = Field(default=None, pattern=NAME_PATTERN)
    description: str | None = None
    inputs: dict[str, Any] | None = Field(
        default=None, description="A JSON Schema of the run's input (an object)."
    )
    start: str | None = Field(default=None, description="Default: the first node.")
    max_steps: int = Field(default=1000, ge=1, le=1_000_000)
    checkpoint: Literal["node", "human"] = Field(
        default="node",
        description="Where a run's progress is stored: after each automated node (node), or "
        "only where it waits on a human or ends (human: the automated nodes between run in "
        "one step, fewer writes, and a worker that dies inside them leaves all of them to "
        "run again).",
    )
    nodes: list[Annotated[Node, Field(discriminator="type")]]
    edges: list[Edge] = Field(default_factory=list)


TOP_FIELDS = tuple(Definition.model_fields)


def definition_schema() -> dict[str, Any]:
    return Definition.model_json_schema(by_alias=True)


# -- reading --------------------------------------------------------------------------


class LoadError(Exception):
    """The text is not JSON or YAML (or repeats a key); ``problem`` says where."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(str(problem))
        self.problem = problem


def load_text(text: str, *, source: str = "definition") -> Any:
    """Parse JSON (text starting with ``{``, or a ``.json`` source) or YAML (PyYAML's safe
    loader); a key written twice in one object is refused in both."""
    stripped = text.lstrip()
    if source.endswith(".json") or stripped.startswith(("{", "[")):
        try:
            return json.loads(text, object_pairs_hook=_no_duplicates)
        except _DuplicateKey as exc:
            raise LoadError(Problem(path="", message=str(exc))) from None
        except json.JSONDecodeError as exc:
            raise LoadError(
                Problem(
                    path="",
                    message=f"{source} is not valid JSON: {exc.msg} at line {exc.lineno}, "
                    f"column {exc.colno}",
                )
            ) from None
    return _load_yaml(text, source)


def load_file(path: str | Path) -> Any:
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise LoadError(Problem(path="", message=f"cannot read {file}: {exc.strerror}")) from None
    except UnicodeDecodeError:
        raise LoadError(Problem(path="", message=f"{file} is not UTF-8 text")) from None
    return load_text(text, source=file.name)


class _DuplicateKey(ValueError):
    pass


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _DuplicateKey(f"the key {key!r} is written twice in one object: keep one")
        result[key] = value
    return result


def _load_yaml(text: str, source: str) -> Any:
    try:
        import yaml
    except ImportError:
        raise LoadError(
            Problem(
                path="",
                message="reading YAML needs PyYAML: pip install 'inloop[workflows]' "
                "(or write the definition as JSON)",
            )
        ) from None

    class Loader(yaml.SafeLoader):
        pass

    def mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict[Any, Any]:
        loader.flatten_mapping(node)
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            if key in result:
                line = key_node.start_mark.line + 1
                raise _DuplicateKey(
                    f"the key {key!r} is written twice in one mapping (line {line}): keep one"
                )
            result[key] = loader.construct_object(value_node, deep=True)
        return result

    Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, mapping)
    try:
        return yaml.load(text, Loader=Loader)  # noqa: S506 (a SafeLoader subclass)
    except _DuplicateKey as exc:
        raise LoadError(Problem(path="", message=str(exc))) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        reason = getattr(exc, "problem", None) or str(exc)
        raise LoadError(
            Problem(path="", message=f"{source} is not valid YAML{where}: {reason}")
        ) from None


# -- shapes ---------------------------------------------------------------------------


def normalize(data: Any) -> tuple[dict[str, Any], bool, list[Problem]]:
    """The definition in its full form; whether its edges are implicit (the nodes in
    order); and the problems of its top level."""
    if not isinstance(data, dict):
        kind = type(data).__name__ if data is not None else "empty"
        return (
            {},
            False,
            [
                Problem(
                    path="",
                    message=(
                        f"a workflow is a JSON object, not {kind}: write "
                        f'{{"nodes": [...], "edges": [...]}}'
                    ),
                )
            ],
        )
    if "nodes" not in data and "type" in data and "id" in data:
        data = {"nodes": [data]}  # seed 001's single-node samples
    problems = [
        Problem(path=key, message=f"unknown field {key!r}" + suggest(key, TOP_FIELDS, "fields"))
        for key in data
        if key not in TOP_FIELDS
    ]
    implicit = "edges" not in data and isinstance(data.get("nodes"), list)
    if "nodes" not in data:
        problems.append(
            Problem(
                path="nodes",
                message='the workflow has no nodes: add "nodes": [{"id": ..., "type": ...}, ...]',
            )
        )
    return dict(data), implicit, problems


def suggest(word: str, choices: tuple[str, ...] | list[str], what: str) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    if close:
        return f": did you mean {close[0]!r}?"
    listed = ", ".join(choices[:30])
    return f": the {what} are {listed}" if listed else ""


def parse_node(raw: Any, path: str) -> tuple[Node | None, list[Problem]]:
    """A node's model, or the problems of its shape (each with the field's path)."""
    if not isinstance(raw, dict):
        return None, [Problem(path=path, message="a node is an object with an id and a type")]
    kind = raw.get("type")
    if kind not in MODELS:
        if kind is None:
            message = 'this node has no type: add "type": one of ' + ", ".join(NODE_TYPES)
        else:
            message = f"unknown node type {kind!r}" + suggest(str(kind), NODE_TYPES, "node types")
        return None, [Problem(path=f"{path}.type", message=message)]
    model = MODELS[kind]
    unknown = [key for key in raw if key not in model.model_fields]
    if unknown:
        fields = [f for f in model.model_fields if f != "type"]
        return None, [
            Problem(
                path=f"{path}.{key}",
                message=f"unknown field {key!r} for a {kind} node" + suggest(key, fields, "fields"),
            )
            for key in unknown
        ]
    try:
        return model.model_validate(raw), []
    except ValidationError as exc:
        return None, shape_problems(exc, path)


def parse_edge(raw: Any, path: str) -> tuple[Edge | None, list[Problem]]:
    if not isinstance(raw, dict):
        return None, [
            Problem(
                path=path, message='an edge is an object: {"from": ..., "to": ..., "when": ...}'
            )
        ]
    unknown = [key for key in raw if key not in ("from", "to", "when")]
    if unknown:
        return None, [
            Problem(
                path=f"{path}.{key}",
                message=f"unknown field {key!r} for an edge"
                + suggest(key, ["from", "to", "when"], "fields"),
            )
            for key in unknown
        ]
    try:
        return Edge.model_validate(raw), []
    except ValidationError as exc:
        return None, shape_problems(exc, path)


def shape_problems(exc: ValidationError, path: str) -> list[Problem]:
    problems = []
    for error in exc.errors():
        parts = [
            p for p in error["loc"] if not (isinstance(p, str) and (p[:1].isupper() or p in _TAGS))
        ]
        where = path
        for part in parts:
            where += f"[{part}]" if isinstance(part, int) else f".{part}"
        message = str(error["msg"]).removeprefix("Value error, ")
        if error["type"] == "missing":
            message = "this field is required"
        elif error["type"] == "string_pattern_mismatch":
            message = _pattern_message(parts, error.get("input"))
        problems.append(Problem(path=where, message=message))
    return problems


_TAGS = {"str", "int", "float", "bool", "dict", "list", "none", "literal"}


def _pattern_message(parts: list[Any], value: Any) -> str:
    field = parts[-1] if parts else ""
    if field == "id":
        return (
            f"{value!r} is not a node id: use letters, digits and _, starting with a letter or _ "
            "(it is also a variable name), e.g. manager_approval"
        )
    if field == "function":
        return f"{value!r} is not module:function, e.g. myapp.checks:score_risk"
    if field == "name":
        return f"{value!r} is not a workflow name: letters, digits, _, . and -, at most 100"
    return f"{value!r} does not have the expected form"
