"""Checking a definition before anything runs, and compiling it into a ``Workflow``.

Every problem is found in one pass and reported with its JSON path and the fix: shapes
(unknown types and fields), human nodes through the request rules of the core (options,
timeouts, escalation, assignee ...), edges to missing nodes, a default edge that is not
the last of its node, conditional edges without a default, nodes that cannot be reached
or cannot reach an end, ``when`` conditions and templates that do not parse, and
variables that are not known where they are read.

Variables: the run's inputs, plus what each node sets when it has run (a human node
``response`` and its id; an llm node its id and the properties of its ``output_schema``;
a function node its id and its ``output_schema``'s properties; an http node its id and
the keys of ``output``). A variable read at a node must be set on every path to it
(computed as a fixpoint over the graph, so loops are fine). Without a declared ``inputs``
schema, a variable that no node sets is taken as an input; a template's inputs are
required at the start of a run, a ``when``'s may be absent (they read null).
"""

from __future__ import annotations

import hashlib
import json
from collections import deque
from collections.abc import Iterable
from itertools import pairwise
from typing import Any

from pydantic import ValidationError

from inloop.domain.errors import InvalidError
from inloop.domain.requests import APPROVAL_WORDS, NewRequest
from inloop.workflows.cel import CelSyntaxError, Expression, compile_expression
from inloop.workflows.compiled import CompiledEdge, CompiledNode, Workflow
from inloop.workflows.definition import (
    MAX_EDGES,
    MAX_NODES,
    NAME_PATTERN,
    RESERVED,
    Edge,
    EndNode,
    FunctionNode,
    HttpNode,
    HumanNode,
    LLMNode,
    Node,
    normalize,
    parse_edge,
    parse_node,
    shape_problems,
    suggest,
)
from inloop.workflows.problems import Problem, WorkflowError
from inloop.workflows.templates import TemplatedValue, compile_value

#: Set by the interpreter for every run: ``run.id``, ``run.workflow``.
BUILTINS = frozenset({"run"})
#: Template fields of each node type.
TEMPLATED = {
    "human": ("prompt", "title", "description", "context", "payload"),
    "llm": ("prompt", "system"),
    "function": ("args",),
    "http": ("url", "headers", "body"),
    "end": ("output",),
}


def compile_workflow(data: Any, *, name: str | None = None, source: str | None = None) -> Workflow:
    """Check ``data`` (a parsed definition) and compile it; raises WorkflowError listing
    every problem. ``name`` is used when the definition names none (e.g. the file's stem)."""
    return _Checker(data, name, source).run()


def digest_of(definition: Any) -> str:
    canonical = json.dumps(definition, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


class _Checker:
    def __init__(self, data: Any, name: str | None, source: str | None) -> None:
        self.raw = data
        self.fallback_name = name
        self.source = source
        self.problems: list[Problem] = []
        self.broken: set[str] = set()
        self.nodes: dict[str, tuple[int, Node]] = {}
        self.templates: dict[str, dict[str, TemplatedValue]] = {}
        self.http_outputs: dict[str, dict[str, Expression]] = {}
        self.edges: list[tuple[int | None, Edge, Expression | None]] = []
        # each read: (node id, on its outgoing edges?, path, roots, from a template?)
        self.reads: list[tuple[str, bool, str, frozenset[str], bool]] = []

    def add(self, path: str, message: str) -> None:
        self.problems.append(Problem(path=path, message=message))

    def run(self) -> Workflow:
        definition, implicit, problems = normalize(self.raw)
        self.problems += problems
        name = definition.get("name") or self.fallback_name
        self.check_name(name)
        raw_nodes = definition.get("nodes")
        if raw_nodes is not None and not isinstance(raw_nodes, list):
            self.add("nodes", "nodes is a list of node objects")
            raw_nodes = []
        raw_nodes = raw_nodes or []
        if len(raw_nodes) > MAX_NODES:
            self.add("nodes", f"{len(raw_nodes)} nodes: at most {MAX_NODES}")
            raw_nodes = raw_nodes[:MAX_NODES]
        if "nodes" in definition and not raw_nodes:
            self.add("nodes", "the workflow has no nodes: add at least one")
        for index, raw in enumerate(raw_nodes):
            self.check_node(index, raw)
        inputs_schema = self.check_inputs_schema(definition.get("inputs"))
        raw_edges = definition.get("edges", [])
        if not isinstance(raw_edges, list):
            self.add("edges", 'edges is a list of {"from", "to", "when"} objects')
            raw_edges = []
        if len(raw_edges) > MAX_EDGES:
            self.add("edges", f"{len(raw_edges)} edges: at most {MAX_EDGES}")
            raw_edges = raw_edges[:MAX_EDGES]
        if implicit:
            ids = [node.id for _, node in self.nodes.values()]
            self.edges = [(None, Edge(source=a, target=b), None) for a, b in pairwise(ids)]
        for index, raw in enumerate(raw_edges):
            self.check_edge(index, raw)
        start = self.check_start(definition.get("start"))
        max_steps = definition.get("max_steps", 1000)
        if (
            not isinstance(max_steps, int)
            or isinstance(max_steps, bool)
            or not 1 <= max_steps <= 1_000_000
        ):
            self.add("max_steps", "max_steps is a whole number from 1 to 1000000")
            max_steps = 1000
        checkpoint = definition.get("checkpoint", "node")
        if checkpoint not in ("node", "human"):
            self.add(
                "checkpoint",
                'checkpoint is "node" (store the run after each automated node, the default) '
                'or "human" (only where it waits on a human or ends)',
            )
            checkpoint = "node"
        if self.problems or start is None:
            raise WorkflowError(self.problems, source=self.source)
        compiled = self.assemble(start)
        self.check_graph(compiled, start)
        inputs, required = self.check_variables(compiled, start, inputs_schema)
        if self.problems:
            raise WorkflowError(self.problems, source=self.source)
        assert name is not None
        return Workflow(
            name=name,
            digest=digest_of({**definition, "name": name}),
            definition={**definition, "name": name},
            start=start,
            nodes=compiled,
            inputs_schema=inputs_schema,
            input_names=inputs,
            required_inputs=required,
            max_steps=max_steps,
            implicit_edges=implicit,
            checkpoint=checkpoint,
        )

    # -- parts ---------------------------------------------------------------------

    def check_name(self, name: Any) -> None:
        import re

        if name is None:
            self.add(
                "name",
                'the workflow has no name: add "name": "refund_approval" (letters, digits, _, . '
                "and -)",
            )
        elif not isinstance(name, str) or not re.fullmatch(NAME_PATTERN, name):
            self.add(
                "name", f"{name!r} is not a workflow name: letters, digits, _, . and -, at most 100"
            )

    def check_node(self, index: int, raw: Any) -> None:
        path = f"nodes[{index}]"
        node, problems = parse_node(raw, path)
        self.problems += problems
        if node is None:
            if isinstance(raw, dict) and isinstance(raw.get("id"), str):
                self.broken.add(raw["id"])  # its edges are not reported missing as well
            return
        if node.id in self.nodes:
            first = self.nodes[node.id][0]
            self.add(
                f"{path}.id",
                f"the id {node.id!r} is taken by nodes[{first}]: give each node its own id",
            )
            return
        if node.id in RESERVED:
            self.add(
                f"{path}.id",
                f"{node.id!r} is a name the workflow sets itself ({', '.join(sorted(RESERVED))}): "
                "choose another id",
            )
            return
        self.nodes[node.id] = (index, node)
        templates: dict[str, TemplatedValue] = {}
        for field in TEMPLATED[node.type]:
            value = getattr(node, field)
            if value is None:
                continue
            compiled, errors = compile_value(value)
            for where, error in errors:
                at = f"{path}.{field}" + (
                    f".{where}" if where and not where.startswith("[") else where
                )
                self.add(at, f"the template does not compile: {error}")
            if compiled.templates:
                templates[field] = compiled
                for where, template in compiled.templates.items():
                    at = f"{path}.{field}" + (
                        f".{where}" if where and not where.startswith("[") else where
                    )
                    self.reads.append((node.id, False, at, template.roots, True))
        self.templates[node.id] = templates
        if isinstance(node, HumanNode):
            self.check_human(path, node)
        if isinstance(node, LLMNode | FunctionNode) and node.output_schema is not None:
            self.check_schema(f"{path}.output_schema", node.output_schema)
        if isinstance(node, HttpNode):
            outputs: dict[str, Expression] = {}
            for variable, text in node.output.items():
                at = f"{path}.output.{variable}"
                if not variable.isidentifier() or variable in RESERVED:
                    self.add(
                        at, f"{variable!r} cannot be a variable name: use letters, digits and _"
                    )
                    continue
                try:
                    outputs[variable] = compile_expression(text)
                except CelSyntaxError as exc:
                    self.add(at, f"does not parse: {exc}")
            self.http_outputs[node.id] = outputs

    def check_human(self, path: str, node: HumanNode) -> None:
        """The request the node will create, through the core's own rules (with a stand-in
        prompt: templates are rendered when the run gets there)."""
        body: dict[str, Any] = {"kind": human_kind(node), "prompt": "x"}
        for field in (
            "options",
            "timeout",
            "escalation",
            "assignee",
            "priority",
            "response_schema",
            "assignment",
            "approvals",
            "quorum",
        ):
            value = getattr(node, field)
            if value is not None:
                body[field] = value
        if node.display is not None:
            body["display"] = node.display.model_dump()
        if node.options is not None:
            body["options"] = [
                o if isinstance(o, str) else o.model_dump(exclude_none=True) for o in node.options
            ]
        if node.payload is not None and not isinstance(node.payload, dict):
            self.add(
                f"{path}.payload", "payload is a JSON object (the proposed action a human may edit)"
            )
        try:
            NewRequest.model_validate(body)
        except InvalidError as exc:
            field = (exc.field or "").split(".")[0]
            where = f"{path}.{exc.field}" if exc.field else path
            self.add(where, _human_message(exc.message, field))
        except ValidationError as exc:
            self.problems += shape_problems(exc, path)

    def check_schema(self, path: str, schema: dict[str, Any]) -> None:
        from jsonschema import Draft202012Validator, SchemaError

        try:
            Draft202012Validator.check_schema(schema)
        except SchemaError as exc:
            where = "/".join(str(p) for p in exc.absolute_path)
            self.add(
                path,
                f"not a valid JSON Schema: {exc.message}" + (f" (at {where})" if where else ""),
            )

    def check_inputs_schema(self, schema: Any) -> dict[str, Any] | None:
        if schema is None:
            return None
        if not isinstance(schema, dict) or (schema.get("type", "object") != "object"):
            self.add(
                "inputs",
                'inputs is a JSON Schema of an object: {"type": "object", "properties": {...}, '
                '"required": [...]}',
            )
            return None
        self.check_schema("inputs", schema)
        if not isinstance(schema.get("properties", {}), dict):
            return None
        return schema

    def check_edge(self, index: int, raw: Any) -> None:
        path = f"edges[{index}]"
        edge, problems = parse_edge(raw, path)
        self.problems += problems
        if edge is None:
            return
        ids = list(self.nodes)
        for field, node_id in (("from", edge.source), ("to", edge.target)):
            if node_id not in self.nodes and node_id not in self.broken:
                self.add(
                    f"{path}.{field}",
                    f"no node has the id {node_id!r}"
                    + suggest(node_id, ids, "node ids")
                    + f' (or add a node with "id": "{node_id}")',
                )
        when = None
        if edge.when is not None:
            try:
                when = compile_expression(edge.when)
            except CelSyntaxError as exc:
                self.add(f"{path}.when", f"does not parse: {exc}")
                return
            self.reads.append((edge.source, True, f"{path}.when", when.roots, False))
        source = self.nodes.get(edge.source)
        if source is not None and isinstance(source[1], EndNode):
            self.add(
                f"{path}.from",
                f"{edge.source!r} is an end node, which ends the run: remove this edge, or make "
                "it another type",
            )
        self.edges.append((index, edge, when))

    def check_start(self, start: Any) -> str | None:
        if start is None:
            return next(iter(self.nodes), None)
        if start not in self.nodes:
            self.add(
                "start",
                f"no node has the id {start!r}" + suggest(str(start), list(self.nodes), "node ids"),
            )
            return None
        return str(start)

    def assemble(self, start: str) -> dict[str, CompiledNode]:
        outgoing: dict[str, list[CompiledEdge]] = {node_id: [] for node_id in self.nodes}
        for index, edge, when in self.edges:
            if edge.source in outgoing and edge.target in self.nodes:
                outgoing[edge.source].append(CompiledEdge(index, edge.source, edge.target, when))
        for source, edges in outgoing.items():
            defaults = [e for e in edges if e.when is None]
            if defaults and defaults[0] is not edges[-1]:
                after = [e for e in edges[edges.index(defaults[0]) + 1 :]]
                for later in after:
                    self.add(
                        f"edges[{later.index}]",
                        f"comes after the default edge edges[{defaults[0].index}] of {source!r}, "
                        "so it is never tried: edges of a node are tried in order; move it "
                        "before the default"
                        + (" (a node has one default edge)" if later.when is None else ""),
                    )
            if edges and not defaults:
                whens = ", ".join(f"edges[{e.index}]" for e in edges)
                self.add(
                    f"edges[{edges[-1].index}]",
                    f"{source!r} has only conditional edges ({whens}): when none holds the run "
                    "has nowhere to go; add a default edge after them, e.g. "
                    f'{{"from": "{source}", "to": "..."}} with no when',
                )
        compiled: dict[str, CompiledNode] = {}
        for node_id, (index, node) in self.nodes.items():
            on_error = None
            target = getattr(node, "on_error", None)
            if target is not None:
                if target not in self.nodes:
                    self.add(
                        f"nodes[{index}].on_error",
                        f"no node has the id {target!r}"
                        + suggest(target, list(self.nodes), "node ids"),
                    )
                else:
                    on_error = CompiledEdge(None, node_id, target)
            compiled[node_id] = CompiledNode(
                index=index,
                id=node_id,
                type=node.type,
                spec=node,
                templates=self.templates.get(node_id, {}),
                outgoing=tuple(outgoing[node_id]),
                on_error=on_error,
                produces=produces(node, self.http_outputs.get(node_id, {})),
                outputs=self.http_outputs.get(node_id, {}),
            )
        return compiled

    # -- the graph -----------------------------------------------------------------

    def check_graph(self, nodes: dict[str, CompiledNode], start: str) -> None:
        reached = _reachable(nodes, start)
        for node in nodes.values():
            if node.id not in reached:
                self.add(
                    f"nodes[{node.index}]",
                    f"{node.id!r} cannot be reached from the start node {start!r}: add an edge to "
                    f'it ("to": "{node.id}"), or remove it',
                )
        finishing = _can_finish(nodes)
        for node in nodes.values():
            if node.id in reached and node.id not in finishing:
                self.add(
                    f"nodes[{node.index}]",
                    f"from {node.id!r} no path leads to an end: the run would loop forever; add "
                    "an edge to an end node (or to a node with no outgoing edges)",
                )

    def check_variables(
        self, nodes: dict[str, CompiledNode], start: str, schema: dict[str, Any] | None
    ) -> tuple[frozenset[str], frozenset[str]]:
        declared = frozenset(schema.get("properties", {})) if schema is not None else None
        set_by: dict[str, list[str]] = {}
        for node in nodes.values():
            for name in node.produces:
                set_by.setdefault(name, []).append(node.id)
            if node.on_error is not None:
                set_by.setdefault("error", []).append(f"{node.id} (on_error)")
        for node in nodes.values():
            others = sorted(i for i in set_by.get(node.id, []) if i != node.id)
            if declared is not None and node.id in declared:
                what = "an input"
            elif others:
                what = f"set by {', '.join(others)}"
            else:
                continue
            self.add(
                f"nodes[{node.index}].id",
                f"{node.id!r} is also a variable ({what}): a node's output is kept under its "
                "id, so choose another id",
            )
        base = (declared or frozenset()) | BUILTINS
        entry = _definitely_set(nodes, start, base)
        inferred: set[str] = set()
        required: set[str] = set(schema.get("required", [])) if schema is not None else set()
        for node_id, outgoing, path, roots, templated in self.reads:
            node = nodes[node_id]
            known = entry.get(node_id, frozenset()) | (node.produces if outgoing else frozenset())
            for root in sorted(roots):
                if root in known:
                    continue
                if root == "env" and path.startswith(f"nodes[{node.index}].headers"):
                    continue
                if root in set_by:
                    where = ", ".join(sorted(set_by[root]))
                    self.add(
                        path,
                        f"reads {root!r}, which is set by {where} but not on every path to here: "
                        "move the read after it, give it a default on the other paths, or "
                        "declare it in inputs",
                    )
                elif declared is not None:
                    names = sorted(declared | set(set_by) | BUILTINS)
                    self.add(
                        path,
                        f"unknown variable {root!r}"
                        + suggest(root, names, "known variables")
                        + " (declare it under inputs.properties, or set it in an earlier node)",
                    )
                elif root == "env":
                    self.add(path, "env can be read only in an http node's headers")
                else:
                    inferred.add(root)
                    if templated:
                        required.add(root)
        inputs = frozenset(declared) if declared is not None else frozenset(inferred)
        return inputs, frozenset(required)


def human_kind(node: HumanNode) -> str:
    """The kind of request a human node asks: as given, else form with a response_schema,
    approval with options holding approve (or with no options at all: approve/reject),
    choice with other options."""
    if node.kind is not None:
        return node.kind
    if node.response_schema is not None:
        return "form"
    if node.options is None:
        return "approval"
    values = {(o if isinstance(o, str) else o.value).lower() for o in node.options}
    return "approval" if values & APPROVAL_WORDS else "choice"


def produces(node: Node, http_outputs: dict[str, Expression]) -> frozenset[str]:
    names = {node.id}
    if isinstance(node, HumanNode):
        names.add("response")
    elif isinstance(node, LLMNode | FunctionNode) and node.output_schema is not None:
        properties = node.output_schema.get("properties")
        if isinstance(properties, dict):
            names.update(str(k) for k in properties)
    elif isinstance(node, HttpNode):
        names.update(http_outputs)
    elif isinstance(node, EndNode):
        return frozenset()
    return frozenset(names)


def _human_message(message: str, field: str) -> str:
    fixes = {
        "escalation": (
            " (escalation is one of auto_approve, auto_reject, escalate, retry, queue, or an "
            'object such as {"action": "escalate", "to": "role:senior_manager", '
            '"timeout": "4h", "final_action": "auto_reject"})'
        ),
        "timeout": ' (add "timeout": "4h": escalation acts when it passes)'
        if "needs a timeout" in message
        else "",
    }
    return message + fixes.get(field, "")


def _successors(node: CompiledNode) -> Iterable[str]:
    for edge in node.outgoing:
        yield edge.target
    if node.on_error is not None:
        yield node.on_error.target


def _reachable(nodes: dict[str, CompiledNode], start: str) -> set[str]:
    seen = {start}
    queue = deque([start])
    while queue:
        for target in _successors(nodes[queue.popleft()]):
            if target not in seen:
                seen.add(target)
                queue.append(target)
    return seen


def _can_finish(nodes: dict[str, CompiledNode]) -> set[str]:
    """Nodes from which some path reaches an end (an end node, or one with no edges out)."""
    predecessors: dict[str, set[str]] = {node_id: set() for node_id in nodes}
    for node in nodes.values():
        for target in _successors(node):
            predecessors[target].add(node.id)
    finishing = {n.id for n in nodes.values() if n.type == "end" or not n.outgoing}
    queue = deque(finishing)
    while queue:
        for source in predecessors[queue.popleft()]:
            if source not in finishing:
                finishing.add(source)
                queue.append(source)
    return finishing


def _definitely_set(
    nodes: dict[str, CompiledNode], start: str, base: frozenset[str]
) -> dict[str, frozenset[str]]:
    """For each node, the variables set on every path from the start to it (a must-analysis
    iterated to its fixpoint, so loops settle)."""
    universe = (
        base | frozenset(name for node in nodes.values() for name in node.produces) | {"error"}
    )
    entry: dict[str, frozenset[str]] = {node_id: universe for node_id in nodes}
    entry[start] = base
    incoming: dict[str, list[tuple[str, bool]]] = {node_id: [] for node_id in nodes}
    for node in nodes.values():
        for edge in node.outgoing:
            incoming[edge.target].append((node.id, False))
        if node.on_error is not None:
            incoming[node.on_error.target].append((node.id, True))
    reached = _reachable(nodes, start)
    changed = True
    while changed:
        changed = False
        for node_id in nodes:
            if node_id not in reached:
                continue
            sets = [
                entry[source] | ({"error"} if failed else nodes[source].produces)
                for source, failed in incoming[node_id]
                if source in reached
            ]
            if node_id == start:
                sets.append(base)
            new = frozenset.intersection(*sets) if sets else base
            if new != entry[node_id]:
                entry[node_id] = new
                changed = True
    return entry
