"""The agent of the durability test, served by ``inloop worker`` subprocesses."""

from inloop.runtime import Agent, HumanInTheLoopConfirmation, StartEvent, StopEvent, step


class Order(StartEvent):
    number: int


class ShipIt(HumanInTheLoopConfirmation):
    pass


class ShippingAgent(Agent):
    @step()
    async def ask(self, event: Order) -> ShipIt.request:
        return ShipIt.invoke(f"Ship order {event.number}?", context={"number": event.number})

    @step()
    async def finish(self, event: ShipIt.response) -> StopEvent:
        assert event.request_event is not None
        return StopEvent(result={"order": event.request_event.context, "ship": event.response})
