"""A workflow as it runs: nodes by id, each with its compiled templates and ordered edges.

``validation.compile_workflow`` builds it; nothing here parses text again. Routing is
pure: given a node and the variables, ``route`` says which edge is taken (the first whose
``when`` holds, else the default), or that the run stops there.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from inloop.workflows.cel import CelEvalError, Expression
from inloop.workflows.definition import Node
from inloop.workflows.problems import Problem
from inloop.workflows.templates import TemplatedValue


class RoutingError(Exception):
    """A ``when`` failed to evaluate (a type mismatch ...): the run cannot choose a way."""


@dataclass(frozen=True)
class CompiledEdge:
    index: int | None  # its place in ``edges``; None for an implicit edge (nodes in order)
    source: str
    target: str
    when: Expression | None = None

    @property
    def label(self) -> str:
        return self.when.text if self.when is not None else ""


@dataclass(frozen=True)
class CompiledNode:
    index: int
    id: str
    type: str
    spec: Node
    templates: dict[str, TemplatedValue]
    outgoing: tuple[CompiledEdge, ...] = ()
    on_error: CompiledEdge | None = None
    produces: frozenset[str] = frozenset()
    outputs: dict[str, Expression] = field(default_factory=dict)  # http: variable -> CEL

    def render(self, name: str, variables: Mapping[str, Any]) -> Any:
        template = self.templates.get(name)
        return template.render(variables) if template is not None else getattr(self.spec, name)


@dataclass(frozen=True)
class Route:
    """Where a run goes from a node: along ``edge``, or nowhere (the run ends there)."""

    edge: CompiledEdge | None

    @property
    def target(self) -> str | None:
        return self.edge.target if self.edge is not None else None


@dataclass(frozen=True)
class Workflow:
    name: str
    digest: str
    definition: dict[str, Any]  # as given, in its full form
    start: str
    nodes: dict[str, CompiledNode]
    inputs_schema: dict[str, Any] | None
    input_names: frozenset[str]  # declared, or read but set by no node
    required_inputs: frozenset[str]  # declared required, or read by a template
    max_steps: int = 1000
    implicit_edges: bool = False
    checkpoint: str = "node"  # "human": automated nodes run on in one step (interpreter)

    @property
    def order(self) -> list[str]:
        return list(self.nodes)

    def node(self, node_id: str) -> CompiledNode:
        return self.nodes[node_id]

    def route(
        self, node_id: str, variables: Mapping[str, Any], *, goes_ahead: bool = True
    ) -> Route:
        """The first edge whose ``when`` holds; else the default edge, if the answer goes
        ahead (see ``interpreter``: a rejection or no answer takes only a ``when``)."""
        for edge in self.nodes[node_id].outgoing:
            if edge.when is None:
                if goes_ahead:
                    return Route(edge)
                continue
            try:
                holds = edge.when.holds(variables)
            except CelEvalError as exc:
                where = f"edges[{edge.index}].when" if edge.index is not None else "an edge"
                raise RoutingError(f"{where} ({edge.when.text}) failed: {exc}") from None
            if holds:
                return Route(edge)
        return Route(None)

    def check_inputs(self, inputs: Mapping[str, Any]) -> list[Problem]:
        """What is wrong with a run's input, before it starts."""
        problems = [
            Problem(
                path=f"inputs.{name}",
                message=f"the workflow needs the input {name!r} (read by a template): pass "
                f"--input {name}=<value>",
            )
            for name in sorted(self.required_inputs - set(inputs))
        ]
        if self.inputs_schema is not None:
            from jsonschema import Draft202012Validator

            validator = Draft202012Validator(self.inputs_schema)
            for error in sorted(validator.iter_errors(dict(inputs)), key=lambda e: list(e.path)):
                if error.validator == "required":
                    continue  # said above, with the fix
                where = ".".join(str(p) for p in error.absolute_path)
                problems.append(
                    Problem(path="inputs" + (f".{where}" if where else ""), message=error.message)
                )
        return problems
