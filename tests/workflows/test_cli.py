"""``inloop workflow validate|show|schema`` and ``--input`` parsing, without a server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from inloop.cli import app
from inloop.cli.workflows import parse_inputs
from inloop.workflows.validation import compile_workflow
from tests.workflows.conftest import EXAMPLES


def cli(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize("name", sorted(p.name for p in EXAMPLES.glob("*.json")))
def test_every_example_validates(name: str) -> None:
    code, out, _ = cli("workflow", "validate", str(EXAMPLES / name))
    assert code == 0 and "is valid" in out


def test_validate_lists_every_problem_and_exits_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("nodes:\n  - {id: a, type: humna}\nedges:\n  - {from: b, to: c, when: 'x ='}\n")
    code, _, err = cli("workflow", "validate", str(bad))
    assert code == 2 and "4 problems" in err
    for text in ("nodes[0].type", "did you mean 'human'", "edges[0].when", "CEL compares with =="):
        assert text in err
    code, out, _ = cli("workflow", "validate", str(bad), "--json")
    assert code == 2 and json.loads(out)["valid"] is False


def test_validate_json_output_names_the_inputs() -> None:
    code, out, _ = cli("workflow", "validate", str(EXAMPLES / "exception_based.json"), "--json")
    body = json.loads(out)
    assert code == 0 and body["inputs"] == ["amount", "customer"] and body["nodes"] == 3


def test_show_prints_mermaid_and_writes_svg(tmp_path: Path) -> None:
    code, out, _ = cli("workflow", "show", str(EXAMPLES / "confidence_based.json"))
    assert code == 0 and out.startswith("flowchart TD\n")
    assert 'generate_response -->|"confidence #gt;= 0.8"| send_response' in out
    target = tmp_path / "g.svg"
    code, _, err = cli(
        "workflow", "show", str(EXAMPLES / "confidence_based.json"), "--svg", str(target)
    )
    assert code == 0 and target.read_text().startswith('<svg xmlns="http://www.w3.org/2000/svg"')
    code, _, err = cli("workflow", "show")
    assert code == 2 and "give a workflow file or --run" in err


def test_schema_is_a_json_schema_of_a_definition() -> None:
    code, out, _ = cli("workflow", "schema")
    schema = json.loads(out)
    assert code == 0 and "nodes" in schema["properties"]


def test_inputs_are_typed_nested_and_follow_the_inputs_schema() -> None:
    workflow = compile_workflow(
        {
            "name": "typed",
            "inputs": {
                "type": "object",
                "properties": {"zip": {"type": "string"}, "customer": {"type": "object"}},
            },
            "nodes": [{"id": "a", "type": "end"}],
        }
    )
    given = parse_inputs(
        ["zip=01234", "customer.is_vip=true", "customer.score=0.5", "customer.name=Ada"],
        None,
        workflow,
    )
    assert given == {"zip": "01234", "customer": {"is_vip": True, "score": 0.5, "name": "Ada"}}
    assert parse_inputs(["zip=12345"], None, workflow)["zip"] == "12345"  # a string, as declared
    assert parse_inputs([], '{"zip": "9"}', workflow) == {"zip": "9"}
    with pytest.raises(typer.Exit):
        parse_inputs(["customer=1", "customer.x=2"], None, workflow)
    with pytest.raises(typer.Exit):
        parse_inputs(["no-equals"], None, workflow)
