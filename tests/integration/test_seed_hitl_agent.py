"""Seed 004's complete HITLAgent example (examples/hitl_agent.py), unchanged but for the
client, against a real server socket on SQLite and PostgreSQL: low risk runs, medium asks
for confirmation and runs on "Yes", critical escalates to a ticket in the desk's queue."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

import inloop
from inloop.server.services import Services
from tests.support import ADMIN_TOKEN

EXAMPLE = Path(__file__).parents[2] / "examples" / "hitl_agent.py"


@pytest.fixture
def served(services: Services) -> Iterator[str]:
    from inloop.embedded import ThreadedServer
    from inloop.server.app import create_app

    server = ThreadedServer().start(create_app(services.settings, services=services))
    yield server.url
    server.stop()


def load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("hitl_agent_example", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while defining
    spec.loader.exec_module(module)
    return module


def test_the_seeds_hitl_agent_runs_on_inloop(served: str) -> None:
    with inloop.Client(served, ADMIN_TOKEN) as admin:
        secret = admin.create_key("hitl-agent", ["agent"]).secret
    example = load_example()
    with inloop.Client(served, secret) as sb:
        example.sb = sb
        agent = example.HITLAgent(session_id="sess_123")
        assert agent.process("What's the weather?") == "done: get the weather"
        assert agent.process("Book a flight to NYC") == (
            "I can book a flight to NYC. Confirm? [Yes/No]"
        )
        assert example.executed == ["get the weather"]  # nothing booked before the yes
        assert sb.sessions.get("sess_123").state["requires_confirmation"] is True
        assert agent.process("Yes") == "done: book a flight to NYC"
        reply = agent.process("Delete all my data")
        assert example.executed == ["get the weather", "book a flight to NYC"]

        (ticket,) = sb.tickets.list(session_id="sess_123")
        assert reply == f"I've escalated this to a specialist (Ticket #{ticket.number})."
        assert ticket.reason == "critical risk: delete all user data"
        assert [h.text for h in ticket.history] == ["What's the weather?", "done: get the weather"]
        assert ticket.state["requires_confirmation"] is False
        session = sb.sessions.get("sess_123")
        assert session.escalated and session.state["escalation_ticket_id"] == ticket.id
        kinds = [h.type for h in sb.sessions.history("sess_123")]
        assert kinds == ["turn", "state_changed", "state_changed", "state_changed", "escalated"]
    with inloop.Client(served, ADMIN_TOKEN) as admin:
        request = admin.get(ticket.request_id)
        assert request.is_open and request.metadata["ticket"] == f"#{ticket.number}"


def test_a_new_session_reads_as_empty_with_the_sync_client(served: str) -> None:
    """The seed's first call, ``sb.sessions.get(id).state``, on an id never written."""
    with inloop.Client(served, ADMIN_TOKEN) as sb:
        session = sb.sessions.get("sess_never")
        assert session.state == {} and not session.exists
        assert sb.sessions.turns("sess_never") == []
        assert sb.sessions.get_context("sess_never")["recent_turns"] == []


def test_the_sync_client_confirms_and_opens_tickets(served: str) -> None:
    """The blocking twins of confirmations and tickets, over a real socket."""
    from datetime import timedelta

    with inloop.Client(served, ADMIN_TOKEN) as sb:
        asked = sb.confirmations.request("s-sync", {"order": 7}, ttl=timedelta(minutes=2))
        assert (asked.expires_at - asked.created_at) == timedelta(minutes=2)
        assert sb.confirmations.answer(asked.id, yes=False).status == "declined"
        with pytest.raises(inloop.ConflictError):
            sb.confirmations.answer(asked.id, yes=True)
        assert [c.id for c in sb.confirmations.list(session_id="s-sync")] == [asked.id]
        ticket = sb.tickets.open("s-sync", "security question")
        assert ticket.priority == "urgent" and sb.tickets.get(ticket.label).id == ticket.id
        assert sb.tickets.rules().rules[0].name == "payment_or_security"
