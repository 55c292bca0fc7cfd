"""A tool-calling agent whose risky tools wait for a human: @inloop.require_approval.

    uv run python examples/tool_approval.py                 # answer it yourself (see below)
    uv run python examples/tool_approval.py --auto-answer   # a scripted human answers

The "model" here is a fixed plan of tool calls, so the example runs without an LLM or an
API key; swap `plan` for your model's tool calls and nothing else changes. Each guarded
call shows the approver the tool's name and exact arguments; they approve, modify the
arguments, or reject (the agent gets the reason back and carries on).

With no INLOOP_URL, an Inloop server runs inside this process (embedded mode) and prints
how to answer from another terminal, for example:
    inloop requests respond <id> approve
    inloop requests respond <id> modify --edited '{"function": "refund", "arguments": {...}}'
"""

from __future__ import annotations

import sys
import threading
import uuid
from typing import Any

import inloop
from inloop.embedded import default_client

RUN = f"tool-approval-{uuid.uuid4().hex[:8]}"  # groups this run's requests


def lookup_order(order_id: str) -> dict[str, Any]:
    """Read an order (safe: no approval needed)."""
    return {"order_id": order_id, "customer": "ada@example.com", "total": 120}


@inloop.require_approval(conversation_id=RUN, priority="high", timeout="1h")
def refund(order_id: str, amount: int, reason: str) -> str:
    """Refund part or all of an order to the customer's card."""
    return f"refunded {amount} on {order_id} ({reason})"


@inloop.require_approval(conversation_id=RUN)
def send_email(to: str, subject: str, body: str) -> str:
    """Email a customer."""
    return f"emailed {to}: {subject}"


@inloop.require_approval(conversation_id=RUN)
def close_account(customer: str) -> str:
    """Close a customer's account for good."""
    return f"closed {customer}"


TOOLS = {f.__name__: f for f in (lookup_order, refund, send_email, close_account)}


def plan() -> list[tuple[str, dict[str, Any]]]:
    """The tool calls a model would make for "the customer of order A-17 wants a refund"."""
    return [
        ("lookup_order", {"order_id": "A-17"}),
        ("refund", {"order_id": "A-17", "amount": 120, "reason": "late delivery"}),
        ("send_email", {"to": "ada@example.com", "subject": "Your refund", "body": "Done."}),
        ("close_account", {"customer": "ada@example.com"}),
    ]


def run_agent() -> list[str]:
    """Call each tool; a denial goes back to the model as the tool's result."""
    transcript = []
    for name, arguments in plan():
        try:
            result = str(TOOLS[name](**arguments))
        except inloop.ApprovalDenied as denied:
            result = f"{name} was denied: {denied.reason}"
        except inloop.EditError as bad:
            result = f"{name} was edited into a call that cannot run: {bad.problem}"
        print(f"{name}: {result}", flush=True)
        transcript.append(result)
    return transcript


def scripted_human() -> None:
    """What a human would do in the desk: approve the email, lower the refund to 60,
    reject closing the account."""
    with default_client() as client:
        stream = client.stream_events(types=["created"], conversation_id=RUN, last_event_id="0")
        for answered, (_event, request) in enumerate(stream, start=1):
            assert request.payload is not None
            function = request.payload["function"]
            if function == "refund":
                edited = {**request.payload}
                edited["arguments"] = {**edited["arguments"], "amount": 60}
                client.respond(request.id, "modify", edited=edited, comment="half: it was late")
            elif function == "close_account":
                client.respond(request.id, "reject", comment="never close on a refund")
            else:
                client.respond(request.id, "approve")
            if answered == 3:
                return


def main(auto_answer: bool) -> None:
    if auto_answer:
        threading.Thread(target=scripted_human, daemon=True).start()
    run_agent()


if __name__ == "__main__":
    main("--auto-answer" in sys.argv[1:])
