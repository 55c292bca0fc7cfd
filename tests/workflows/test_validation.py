"""Validation before anything runs: each problem with its JSON path and its fix."""

from __future__ import annotations

import json
from typing import Any

import pytest

from inloop.workflows.definition import LoadError, load_text
from inloop.workflows.problems import WorkflowError
from inloop.workflows.validation import compile_workflow

APPROVE = {"id": "approve", "type": "human", "prompt": "Approve {{amount}}?"}
DONE = {"id": "done", "type": "end"}


def problems(definition: Any, name: str | None = "flow") -> list[tuple[str, str]]:
    with pytest.raises(WorkflowError) as caught:
        compile_workflow(definition, name=name)
    return [(p.path, p.message) for p in caught.value.problems]


def one(definition: Any, name: str | None = "flow") -> tuple[str, str]:
    found = problems(definition, name)
    assert len(found) == 1, found
    return found[0]


def test_unknown_node_type_suggests_the_nearest() -> None:
    path, message = one({"nodes": [{"id": "a", "type": "humna", "prompt": "x"}]})
    assert path == "nodes[0].type"
    assert message == "unknown node type 'humna': did you mean 'human'?"


def test_a_node_without_a_type_lists_the_types() -> None:
    path, message = one({"nodes": [{"id": "a", "prompt": "x"}]})
    assert path == "nodes[0].type" and "human, llm, function, http, end" in message


def test_unknown_field_of_a_node_suggests_the_nearest() -> None:
    path, message = one({"nodes": [{"id": "a", "type": "human", "promt": "x", "prompt": "y"}]})
    assert (path, message) == (
        "nodes[0].promt",
        "unknown field 'promt' for a human node: did you mean 'prompt'?",
    )


def test_unknown_top_level_field() -> None:
    path, message = one({"nodes": [APPROVE], "edgs": []})
    assert (path, message) == ("edgs", "unknown field 'edgs': did you mean 'edges'?")


def test_checkpoint_is_node_or_human() -> None:
    assert compile_workflow({"nodes": [APPROVE, DONE]}, name="flow").checkpoint == "node"
    chained = compile_workflow({"checkpoint": "human", "nodes": [APPROVE, DONE]}, name="flow")
    assert chained.checkpoint == "human"
    path, message = one({"checkpoint": "never", "nodes": [APPROVE, DONE]})
    assert path == "checkpoint" and '"node"' in message and '"human"' in message


def test_a_required_field() -> None:
    assert one({"nodes": [{"id": "a", "type": "human"}]}) == (
        "nodes[0].prompt",
        "this field is required",
    )


def test_edge_to_a_missing_node() -> None:
    found = problems(
        {
            "nodes": [APPROVE, {"id": "send_response", "type": "end"}],
            "edges": [{"from": "approve", "to": "send_respons"}],
        }
    )
    assert (
        "edges[0].to",
        "no node has the id 'send_respons': did you mean 'send_response'? "
        '(or add a node with "id": "send_respons")',
    ) in found


def test_unreachable_node() -> None:
    found = problems(
        {
            "nodes": [APPROVE, DONE, {"id": "orphan", "type": "end"}],
            "edges": [{"from": "approve", "to": "done"}],
        }
    )
    assert found == [
        (
            "nodes[2]",
            "'orphan' cannot be reached from the start node 'approve': "
            'add an edge to it ("to": "orphan"), or remove it',
        )
    ]


def test_no_path_to_an_end() -> None:
    loop = {
        "nodes": [APPROVE, {"id": "again", "type": "human", "prompt": "Again?"}],
        "edges": [{"from": "approve", "to": "again"}, {"from": "again", "to": "approve"}],
    }
    found = problems(loop)
    assert [p for p, _ in found] == ["nodes[0]", "nodes[1]"]
    assert "from 'approve' no path leads to an end" in found[0][1]
    assert "add an edge to an end node" in found[0][1]


def test_a_when_that_does_not_parse() -> None:
    path, message = one(
        {
            "nodes": [APPROVE, DONE],
            "edges": [
                {"from": "approve", "to": "done", "when": "amount = 10000"},
                {"from": "approve", "to": "done"},
            ],
        }
    )
    assert path == "edges[0].when"
    assert message.startswith(
        "does not parse: unexpected '=' (CEL compares with ==, not =) at column 8"
    )


def test_a_when_that_names_an_unknown_root() -> None:
    path, message = one(
        {
            "inputs": {"type": "object", "properties": {"amount": {"type": "number"}}},
            "nodes": [APPROVE, DONE],
            "edges": [
                {"from": "approve", "to": "done", "when": "amout > 10"},
                {"from": "approve", "to": "done"},
            ],
        }
    )
    assert path == "edges[0].when"
    assert message.startswith("unknown variable 'amout': did you mean 'amount'?")
    assert "declare it under inputs.properties" in message


def test_a_template_with_an_unknown_variable() -> None:
    path, message = one(
        {
            "inputs": {"type": "object", "properties": {"customer": {"type": "object"}}},
            "nodes": [{"id": "ask", "type": "human", "prompt": "Help {{custmer.name}}"}],
        }
    )
    assert path == "nodes[0].prompt"
    assert message.startswith("unknown variable 'custmer': did you mean 'customer'?")


def test_a_template_in_context_names_its_path() -> None:
    path, _ = one(
        {
            "inputs": {"type": "object", "properties": {}},
            "nodes": [
                {
                    "id": "ask",
                    "type": "human",
                    "prompt": "x",
                    "context": {"tx": {"amount": "{{amount}}"}},
                }
            ],
        }
    )
    assert path == "nodes[0].context.tx.amount"


def test_a_variable_set_on_some_paths_only() -> None:
    definition = {
        "nodes": [
            {
                "id": "route",
                "type": "human",
                "prompt": "Score first?",
                "options": ["approve", "skip"],
            },
            {
                "id": "score",
                "type": "llm",
                "output_schema": {"properties": {"score": {"type": "number"}}},
            },
            {"id": "show", "type": "human", "prompt": "Score: {{score}}"},
        ],
        "edges": [
            {"from": "route", "to": "score", "when": "response == 'approve'"},
            {"from": "route", "to": "show"},
            {"from": "score", "to": "show"},
        ],
    }
    path, message = one(definition)
    assert path == "nodes[2].prompt"
    assert "reads 'score', which is set by score but not on every path to here" in message


def test_a_template_that_does_not_compile() -> None:
    path, message = one({"nodes": [{"id": "a", "type": "human", "prompt": "Hi {{name"}]})
    assert path == "nodes[0].prompt" and "'{{' is not closed by '}}'" in message


def test_conditional_edges_without_a_default() -> None:
    """Seed 001's confidence edges alone: when confidence is missing, neither holds."""
    definition = {
        "nodes": [
            {
                "id": "generate_response",
                "type": "llm",
                "output_schema": {"properties": {"confidence": {"type": "number"}}},
            },
            {"id": "human_review", "type": "human", "prompt": "Check"},
            {"id": "send_response", "type": "end"},
        ],
        "edges": [
            {"from": "generate_response", "to": "send_response", "when": "confidence >= 0.8"},
            {"from": "generate_response", "to": "human_review", "when": "confidence < 0.8"},
        ],
    }
    path, message = one(definition)
    assert path == "edges[1]"
    assert message.startswith("'generate_response' has only conditional edges (edges[0], edges[1])")
    assert (
        'add a default edge after them, e.g. {"from": "generate_response", "to": "..."} with no when'
        in message
    )


def test_an_edge_after_the_default_is_never_tried() -> None:
    path, message = one(
        {
            "nodes": [APPROVE, DONE],
            "edges": [
                {"from": "approve", "to": "done"},
                {"from": "approve", "to": "done", "when": "amount > 1"},
            ],
        }
    )
    assert path == "edges[1]" and "comes after the default edge edges[0] of 'approve'" in message


def test_an_end_node_has_no_edges() -> None:
    path, message = one(
        {
            "nodes": [APPROVE, DONE],
            "edges": [{"from": "approve", "to": "done"}, {"from": "done", "to": "approve"}],
        }
    )
    assert path == "edges[1].from" and "is an end node" in message


def test_ids_are_unique_identifiers_and_not_reserved() -> None:
    found = problems(
        {
            "nodes": [
                APPROVE,
                {"id": "approve", "type": "end"},
                {"id": "send-it", "type": "end"},
                {"id": "response", "type": "end"},
            ]
        }
    )
    assert [p for p, _ in found] == ["nodes[1].id", "nodes[2].id", "nodes[3].id"]
    assert "taken by nodes[0]" in found[0][1]
    assert "is not a node id" in found[1][1]
    assert "a name the workflow sets itself" in found[2][1]


@pytest.mark.parametrize(
    ("field", "value", "where", "text"),
    [
        ("escalation", "auto_rejct", "nodes[0].escalation", "auto_reject"),
        ("timeout", "24 hours", "nodes[0].timeout", "is not a duration: use a number and a unit"),
        (
            "assignee",
            "manager",
            "nodes[0].assignee",
            "use user:<handle>, role:<name> or team:<name>",
        ),
        ("priority", "critical", "nodes[0].priority", "'low', 'medium', 'high' or 'urgent'"),
        (
            "response_schema",
            {"type": "objekt"},
            "nodes[0].response_schema",
            "not a valid JSON Schema",
        ),
        ("display", {"layout": "grid"}, "nodes[0].display.layout", "'stacked' or 'side-by-side'"),
    ],
)
def test_human_fields_go_through_the_request_rules(
    field: str, value: Any, where: str, text: str
) -> None:
    node = {"id": "a", "type": "human", "prompt": "x", "timeout": "1h", field: value}
    path, message = one({"nodes": [node]})
    assert path == where and text in message, message


def test_an_escalation_needs_a_timeout() -> None:
    path, message = one(
        {"nodes": [{"id": "a", "type": "human", "prompt": "x", "escalation": "auto_reject"}]}
    )
    assert path == "nodes[0].timeout" and 'add "timeout": "4h"' in message


def test_an_escalation_chain_with_a_bad_level() -> None:
    node = {
        "id": "a",
        "type": "human",
        "prompt": "x",
        "timeout": "1h",
        "escalation": {"action": "escalate", "to": "senior_manager", "timeout": "4h"},
    }
    path, message = one({"nodes": [node]})
    assert path.startswith("nodes[0].escalation") and "use user:<handle>, role:<name>" in message


def test_function_and_http_shapes() -> None:
    found = problems(
        {
            "nodes": [
                {"id": "f", "type": "function", "function": "not a target"},
                {"id": "h", "type": "http", "url": "https://x", "method": "FETCH"},
                {"id": "m", "type": "llm", "output_schema": {"type": 3}},
            ]
        }
    )
    paths = [p for p, _ in found]
    assert (
        "nodes[0].function" in paths
        and "nodes[1].method" in paths
        and "nodes[2].output_schema" in paths
    )
    assert (
        "is not module:function, e.g. myapp.checks:score_risk" in dict(found)["nodes[0].function"]
    )


def test_a_workflow_needs_a_name_and_nodes() -> None:
    assert (
        "name",
        'the workflow has no name: add "name": "refund_approval" (letters, digits, _, . and -)',
    ) in problems({"nodes": [APPROVE]}, name=None)
    assert problems({"nodes": []})[0][0] == "nodes"
    assert problems([1, 2])[0][1].startswith("a workflow is a JSON object, not list")


def test_seed_fragments_that_name_missing_nodes_say_what_to_add() -> None:
    """Seed 001's exception-based sample is edges only: each edge names its missing node."""
    edges = [
        {"from": "process_request", "to": "human_review", "when": "amount > 10000"},
        {"from": "process_request", "to": "human_review", "when": "customer.is_vip == true"},
    ]
    found = problems({"edges": edges})
    assert found[0] == (
        "nodes",
        'the workflow has no nodes: add "nodes": [{"id": ..., "type": ...}, ...]',
    )
    assert (
        "edges[0].from",
        'no node has the id \'process_request\' (or add a node with "id": "process_request")',
    ) in found


def test_every_problem_is_reported_at_once() -> None:
    definition = {
        "nodes": [{"id": "a", "type": "humna"}, {"id": "b", "type": "end", "outcom": 1}],
        "edges": [{"from": "a", "to": "zz", "when": "x ="}],
    }
    assert len(problems(definition)) >= 4


def test_duplicate_keys_are_refused_in_json_and_yaml() -> None:
    with pytest.raises(LoadError, match="the key 'prompt' is written twice"):
        load_text('{"id": "a", "type": "human", "prompt": "x", "prompt": "y"}')
    with pytest.raises(
        LoadError, match=r"the key 'prompt' is written twice in one mapping \(line 3\)"
    ):
        load_text("id: a\nprompt: x\nprompt: y\n", source="flow.yaml")


def test_malformed_text_says_where() -> None:
    with pytest.raises(LoadError, match="not valid JSON: Expecting ',' delimiter at line 1"):
        load_text('{"nodes": [1 2]}')
    with pytest.raises(LoadError, match="not valid YAML at line 2, column 9: found character"):
        load_text("nodes:\n  - id: @a\n", source="flow.yaml")


def test_yaml_is_read_with_the_safe_loader() -> None:
    with pytest.raises(LoadError, match="not valid YAML"):
        load_text("!!python/object/apply:os.system ['echo hi']\n", source="flow.yaml")
    data = load_text("nodes:\n  - id: a\n    type: end\n", source="flow.yml")
    assert compile_workflow(data, name="y").start == "a"


def test_a_valid_workflow_reports_its_inputs() -> None:
    workflow = compile_workflow(
        {
            "nodes": [APPROVE, DONE],
            "edges": [
                {"from": "approve", "to": "done", "when": "customer.is_vip == true"},
                {"from": "approve", "to": "done"},
            ],
        },
        name="flow",
    )
    assert workflow.input_names == {"amount", "customer"}
    assert workflow.required_inputs == {"amount"}  # a when's input may be absent: it reads null
    assert workflow.digest == compile_workflow(json.loads(json.dumps(workflow.definition))).digest


def test_a_node_id_that_is_also_a_variable() -> None:
    found = problems(
        {
            "inputs": {"type": "object", "properties": {"score": {"type": "number"}}},
            "nodes": [{"id": "score", "type": "end"}],
        }
    )
    assert found == [
        (
            "nodes[0].id",
            "'score' is also a variable (an input): a node's output is kept under its id, so choose another id",
        )
    ]
    found = problems(
        {
            "nodes": [
                {
                    "id": "judge",
                    "type": "llm",
                    "output_schema": {"properties": {"verdict": {"type": "string"}}},
                },
                {"id": "verdict", "type": "end"},
            ]
        }
    )
    assert found[0][0] == "nodes[1].id" and "set by judge" in found[0][1]


def test_error_is_known_only_where_every_way_in_is_a_failure() -> None:
    definition = {
        "name": "f",
        "nodes": [
            {"id": "charge", "type": "function", "function": "m:f", "on_error": "tell"},
            {"id": "tell", "type": "human", "prompt": "Failed: {{error.message}}"},
        ],
        "edges": [{"from": "charge", "to": "tell"}],
    }
    path, message = one(definition)
    assert (
        path == "nodes[1].prompt" and "reads 'error', which is set by charge (on_error)" in message
    )
