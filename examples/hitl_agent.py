"""Seed 004's complete ``HITLAgent`` example, line for line on Inloop.

    uv run python examples/hitl_agent.py        # the seed's usage, against an embedded server

The seed's names and structure are kept; each StateBase call becomes the Inloop call
of the same name (``sb.sessions.get(...).state``, ``sb.sessions.update_state``,
``sb.sessions.add_turn``), ``assess_risk`` becomes a declarative policy that says why,
and the confirmation and the escalation are carried out by ``inloop.guard``:

    seed                                    Inloop
    sb = StateBase(api_key=...)             sb = inloop.Client()  ($INLOOP_URL, $INLOOP_TOKEN)
    assess_risk: "delete" / "book" in str   RISK: keyword rules, whole words, explained
    request_confirmation: update_state      inloop.guard -> a confirmation held by the server,
                                              the pending action in the session's state
    handle_confirmation: execute the state  inloop.resume -> runs the action the server holds,
                                              refused if the state's copy was changed
    escalate_to_human -> ticket id          inloop.guard -> a handoff ticket (#number)

The "LLM" is a stand-in that turns a message into an Action, so the example runs without
a model or an API key.
"""

from __future__ import annotations

import re
import sys
import uuid
from dataclasses import dataclass

import inloop
from inloop.policies import Action, Escalated, Ran, loads_policy

# The seed's assess_risk tiers: "delete" is critical (escalated), "book" medium
# (confirmed), anything else low (automatic). Whole words: "undelete" is not "delete".
RISK = loads_policy(
    """
rules:
  - name: delete
    description: the seed's critical tier
    risk: critical
    strategy: escalate
    keywords: [delete]
  - name: book
    description: the seed's medium tier
    risk: medium
    strategy: confirm
    keywords: [book]
""",
    "hitl_agent.RISK",
)


@dataclass(frozen=True)
class Response:
    """What the seed's ``llm.generate`` returns: the input and the action it proposes."""

    input: str
    action: Action


class llm:  # the seed's name for its model
    """A stand-in for the model: one tool per kind of message."""

    @staticmethod
    def generate(message: str) -> Response:
        text = message.strip()
        if re.search(r"\bweather\b", text, re.IGNORECASE):
            action = Action(tool="get_weather", arguments={"city": "NYC"}, text=text)
        elif re.search(r"\bbook\b", text, re.IGNORECASE):
            to = text.rsplit(" to ", 1)[-1] if " to " in text else "NYC"
            action = Action(tool="book_flight", arguments={"destination": to}, text=text)
        elif re.search(r"\bdelete\b", text, re.IGNORECASE):
            action = Action(tool="delete_user_data", arguments={"scope": "all"}, text=text)
        else:
            action = Action(tool="answer", arguments={"question": text}, text=text)
        return Response(input=text, action=action)


def execute_action(action: Action) -> str:
    """The seed's execute_action: here, a description of what was done."""
    if action.tool == "get_weather":
        return f"It's sunny in {action.arguments['city']}."
    if action.tool == "book_flight":
        return f"Booked a flight to {action.arguments['destination']}."
    return f"Done: {action.describe()}"


class HITLAgent:
    def __init__(self, session_id: str, sb: inloop.Client) -> None:
        self.session_id = session_id
        self.sb = sb

    def process(self, user_message: str) -> str:
        # Check if waiting for confirmation
        state = self.sb.sessions.get(self.session_id).state
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
        # The policy decides, and its decision says which rule matched and why.
        return RISK.decide(response.action).risk.value

    def execute_automatically(self, response: Response) -> str:
        result = execute_action(response.action)
        self.sb.sessions.add_turn(
            session_id=self.session_id,
            input=response.input,
            output=result,
            reasoning="Executed automatically (low risk)",
        )
        return result

    def request_confirmation(self, response: Response) -> str:
        # guard asks the server for a confirmation holding the action and sets
        # {"requires_confirmation": True, "pending_action": ...} in the session's state.
        pending = inloop.guard(
            response.action, policy=RISK, session_id=self.session_id, client=self.sb
        )
        return pending.message  # "I can book_flight(...). Confirm? [Yes/No]"

    def handle_confirmation(self, user_response: str) -> str:
        # Yes runs the action the server holds (the one the user was shown); no, or
        # anything that is not a yes or a no (it asks again), runs nothing.
        outcome = inloop.resume(self.session_id, user_response, run=execute_action, client=self.sb)
        if isinstance(outcome, Ran):
            return str(outcome.result)
        return outcome.message if outcome is not None else "No pending action to confirm."

    def escalate(self, response: Response, risk: str) -> str:
        # A handoff ticket with the conversation, the state and the reason
        # ("critical risk: delete_user_data(...)"); the session is marked escalated.
        outcome = inloop.guard(
            response.action, policy=RISK, session_id=self.session_id, client=self.sb
        )
        assert isinstance(outcome, Escalated)
        return outcome.message  # "I've escalated this to a specialist (Ticket #N)."


def main() -> None:
    from inloop.embedded import default_client

    with default_client() as sb:
        agent = HITLAgent(session_id=f"sess_{uuid.uuid4().hex[:8]}", sb=sb)

        # Low risk - executes automatically
        print(agent.process("What's the weather?"))

        # Medium risk - requests confirmation
        print(agent.process("Book a flight to NYC"))
        print(agent.process("Yes"))  # Confirms

        # High risk - escalates
        print(agent.process("Delete all my data"))


if __name__ == "__main__":
    sys.exit(main())
