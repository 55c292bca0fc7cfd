"""Seed 004's HITLAgent (examples/hitl_agent.py) against a live server, on SQLite and
PostgreSQL: low risk runs, medium asks and runs on "Yes", high escalates with a ticket."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

import inloop

EXAMPLE = Path(__file__).parents[2] / "examples" / "hitl_agent.py"


@pytest.fixture(scope="module")
def example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("hitl_agent_example", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_low_risk_runs_automatically_and_logs_a_turn(
    example: ModuleType, client: inloop.Client
) -> None:
    """ "What's the weather?" runs at once; the turn is logged with the seed's reasoning."""
    agent = example.HITLAgent(session_id="sess_low", sb=client)
    assert agent.process("What's the weather?") == "It's sunny in NYC."
    [turn] = client.sessions.turns("sess_low")
    assert (turn.input, turn.output) == ("What's the weather?", "It's sunny in NYC.")
    assert turn.reasoning == "Executed automatically (low risk)"


def test_high_risk_escalates_with_a_ticket_number(
    example: ModuleType, client: inloop.Client
) -> None:
    """ "Delete all my data" opens a handoff ticket holding the action; nothing runs."""
    agent = example.HITLAgent(session_id="sess_high", sb=client)
    reply = agent.process("Delete all my data")
    [ticket] = client.tickets.list()
    assert reply == f"I've escalated this to a specialist (Ticket #{ticket.number})."
    assert ticket.session_id == "sess_high"
    assert ticket.reason.startswith('critical risk: delete_user_data(scope="all")')
    assert ticket.action == {
        "tool": "delete_user_data",
        "arguments": {"scope": "all"},
        "text": "Delete all my data",
    }
    state = client.sessions.get("sess_high").state
    assert state["escalated"] is True and state["escalation_ticket_id"] == ticket.id


def test_medium_risk_asks_then_yes_runs_the_confirmed_action(
    example: ModuleType, client: inloop.Client
) -> None:
    """ "Book a flight to NYC" asks; the pending action waits in the session's state;
    "Yes" in the next turn runs it and clears the flag."""
    agent = example.HITLAgent(session_id="sess_mid", sb=client)
    assert agent.process("Book a flight to NYC") == (
        'I can book_flight(destination="NYC"). Confirm? [Yes/No]'
    )
    state = client.sessions.get("sess_mid").state
    assert state["requires_confirmation"] is True
    assert state["pending_action"]["arguments"] == {"destination": "NYC"}
    assert agent.process("maybe") == "Please answer Yes or No."
    assert agent.process("Yes") == "Booked a flight to NYC."
    state = client.sessions.get("sess_mid").state
    assert state["requires_confirmation"] is False and state["pending_action"] is None
    assert state["last_action_result"] == "Booked a flight to NYC."
    assert agent.process("Book a flight to Paris").endswith("Confirm? [Yes/No]")
    assert agent.process("No") == "Okay, I've cancelled that action."
    assert client.sessions.get("sess_mid").state["requires_confirmation"] is False


@pytest.mark.e2e
def test_the_example_runs_the_seeds_usage_in_embedded_mode(tmp_path: Path) -> None:
    """`python examples/hitl_agent.py`: the seed's four calls, their four answers."""
    import os
    import subprocess

    env = {k: v for k, v in os.environ.items() if k not in ("INLOOP_URL", "INLOOP_TOKEN")}
    env["INLOOP_HOME"] = str(tmp_path / "home")
    result = subprocess.run(
        [sys.executable, str(EXAMPLE)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "It's sunny in NYC.",
        'I can book_flight(destination="NYC"). Confirm? [Yes/No]',
        "Booked a flight to NYC.",
        "I've escalated this to a specialist (Ticket #1).",
    ]
