"""The agent of the durability test, served by ``inloop worker`` subprocesses.

Each step execution (not only each completion) is appended to the file named by
``INLOOP_TEST_STEPS``, one line ``<step> <order number>``, so the test can count how often
each step really ran, across processes.
"""

import os

from inloop.runtime import Agent, HumanInTheLoopConfirmation, StartEvent, StopEvent, step


class Order(StartEvent):
    number: int


class ShipIt(HumanInTheLoopConfirmation):
    pass


def executed(step_name: str, number: int) -> None:
    path = os.environ.get("INLOOP_TEST_STEPS")
    if path:
        # One write of a short line with O_APPEND: lines from processes never interleave.
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, f"{step_name} {number}\n".encode())
        finally:
            os.close(fd)


class ShippingAgent(Agent):
    @step()
    async def ask(self, event: Order) -> ShipIt.request:
        executed("ask", event.number)
        return ShipIt.invoke(f"Ship order {event.number}?", context={"number": event.number})

    @step()
    async def finish(self, event: ShipIt.response) -> StopEvent:
        assert event.request_event is not None
        executed("finish", event.request_event.context["number"])
        return StopEvent(result={"order": event.request_event.context, "ship": event.response})
