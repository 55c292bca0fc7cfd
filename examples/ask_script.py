"""A plain script that asks a human, with inloop.ask and inloop.confirm.

    uv run python examples/ask_script.py                 # answer it yourself (see below)
    uv run python examples/ask_script.py --auto-answer   # a scripted human answers

With no INLOOP_URL, an Inloop server runs inside this process (embedded mode) and prints
how to answer from another terminal (`inloop requests respond <id> <answer>`). Each
question has a key made from the run's key (printed first): run the script again with
`--key <that key>` after killing it, and what was already answered is not asked twice.
"""

from __future__ import annotations

import argparse
import threading
import uuid

from pydantic import BaseModel

import inloop
from inloop.embedded import default_client


class Discount(BaseModel):
    percent: int
    note: str | None = None


def main(run: str) -> None:
    name = inloop.ask(
        "What should the new product be called?",
        key=f"{run}:name",
        conversation_id=run,
        context={"category": "tea", "competitors": ["Lapsang", "Assam"]},
    )
    print(f"name: {name.value} (from {name.responded_by})", flush=True)
    discount = inloop.ask(
        f"Launch discount for {name.value}?",
        response_model=Discount,
        key=f"{run}:discount",
        conversation_id=run,
    )
    print(f"discount: {discount.value.percent}%", flush=True)
    if inloop.confirm(
        f"Publish {name.value} at {discount.value.percent}% off?",
        key=f"{run}:publish",
        conversation_id=run,
        timeout="1h",
        escalation="auto_reject",
    ):
        print("published", flush=True)
    else:
        print("not published", flush=True)


def scripted_human(run: str) -> None:
    """Answers the three questions as someone in the desk would."""
    answers = {"input": "Smoky Dawn", "form": {"percent": 15}, "confirmation": True}
    with default_client() as client:
        stream = client.stream_events(types=["created"], conversation_id=run, last_event_id="0")
        for answered, (_event, request) in enumerate(stream, start=1):
            client.respond(request.id, answers[request.kind.value])
            if answered == len(answers):
                return


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--auto-answer", action="store_true", help="a scripted human answers")
    parser.add_argument("--key", help="the run's key: give the same one to resume a run")
    args = parser.parse_args()
    run = args.key or f"ask-{uuid.uuid4().hex[:8]}"
    print(f"run key: {run}", flush=True)
    if args.auto_answer:
        threading.Thread(target=scripted_human, args=(run,), daemon=True).start()
    main(run)
