"""Seed 004's complete ``HITLAgent`` example, line for line on Inloop's SDK.

``sb = StateBase(api_key=...)`` becomes ``sb = inloop.Client()``; ``sb.sessions`` is
Inloop's; the seed's ``escalate_to_human(session_id, reason)`` is ``sb.tickets.open``,
which captures the turns, the state and the reason, picks the priority and puts the
ticket in the desk's queue. The model and the actions are small stand-ins, so the
example runs unattended:

    python examples/hitl_agent.py          # in embedded mode, or against $INLOOP_URL
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

sb: Any = None  # the client, set by main() (or a test)


@dataclass
class Response:
    input: str
    action: str


class FakeLLM:
    """What the seed's ``llm.generate`` returns, for the three messages of its usage."""

    def generate(self, user_message: str) -> Response:
        actions = {
            "what's the weather?": "get the weather",
            "book a flight to nyc": "book a flight to NYC",
            "delete all my data": "delete all user data",
        }
        return Response(user_message, actions.get(user_message.lower(), "answer the question"))


llm = FakeLLM()
executed: list[str] = []


def execute_action(action: str) -> str:
    executed.append(action)
    return f"done: {action}"


class HITLAgent:
    def __init__(self, session_id: str) -> None:
        self.session_id = session_id

    def process(self, user_message: str) -> str:
        # Check if waiting for confirmation
        state = sb.sessions.get(self.session_id).state
        if state.get("requires_confirmation"):
            return self.handle_confirmation(user_message)
        # Generate response
        response = llm.generate(user_message)
        # Assess risk
        risk = self.assess_risk(response)
        if risk == "low":
            return self.execute_automatically(response)
        elif risk == "medium":
            return self.request_confirmation(response)
        else:
            return self.escalate(response, risk)

    def assess_risk(self, response: Response) -> str:
        # Implement risk assessment logic
        if "delete" in str(response).lower():
            return "critical"
        elif "book" in str(response).lower():
            return "medium"
        return "low"

    def execute_automatically(self, response: Response) -> str:
        result = execute_action(response.action)
        sb.sessions.add_turn(
            session_id=self.session_id,
            input=response.input,
            output=result,
            reasoning="Executed automatically (low risk)",
        )
        return result

    def request_confirmation(self, response: Response) -> str:
        sb.sessions.update_state(
            session_id=self.session_id,
            state={"requires_confirmation": True, "pending_action": response.action},
            reasoning="Requesting user confirmation",
        )
        return f"I can {response.action}. Confirm? [Yes/No]"

    def handle_confirmation(self, user_response: str) -> str:
        state = sb.sessions.get(self.session_id).state
        if user_response.lower() == "yes":
            result = execute_action(state["pending_action"])
            sb.sessions.update_state(
                session_id=self.session_id,
                state={"requires_confirmation": False},
                reasoning="User confirmed",
            )
            return result
        else:
            sb.sessions.update_state(
                session_id=self.session_id,
                state={"requires_confirmation": False},
                reasoning="User declined",
            )
            return "Cancelled."

    def escalate(self, response: Response, risk: str) -> str:
        ticket = sb.tickets.open(
            session_id=self.session_id, reason=f"{risk} risk: {response.action}"
        )
        return f"I've escalated this to a specialist (Ticket #{ticket.number})."


def main() -> None:
    global sb
    from inloop.embedded import default_client

    sb = default_client()
    # Usage
    agent = HITLAgent(session_id="sess_123")
    # Low risk - executes automatically
    print(agent.process("What's the weather?"))
    # Medium risk - requests confirmation
    print(agent.process("Book a flight to NYC"))
    print(agent.process("Yes"))  # Confirms
    # High risk - escalates
    print(agent.process("Delete all my data"))


if __name__ == "__main__":
    main()
