"""Message relay during live handoffs: customers' messages reaching the human's view.

``message_relay`` opens ``conversations`` conversations, hands each to a human (who joins),
then relays ``total`` customer messages from ``concurrency`` loops through the service
layer, as the chat page and agents' relays do (the throughput), and a tenth as many one at
a time (the latency when the server is not saturated). Each message is timed from the call
to the moment the watcher of its conversation (the desk's live view, parked on the hub)
wakes.
"""

from __future__ import annotations

import asyncio
import secrets
import time

from benchmarks._report import Metric, Target, latency_metrics
from inloop.domain.conversations import NewConversation, NewMessage, Role
from inloop.domain.handoffs import StartHitl
from inloop.domain.identity import SYSTEM, NewUser
from inloop.server.config import Settings
from inloop.server.services import build_services
from inloop.server.services.sessions import principal_of

RELAY_TARGET = Target(">=", 500)
WAKE_P99_TARGET = Target("<", 20)


async def message_relay(
    backend: str, database_url: str, *, conversations: int, total: int, concurrency: int
) -> list[Metric]:
    token = secrets.token_urlsafe(16)
    services = build_services(Settings(database_url=database_url, admin_token=token))
    try:
        admin = await services.identity.authenticate(token)
        user = await services.identity.create_user(SYSTEM, NewUser(handle="alice", name="Alice"))
        human = principal_of(user)
        ids = []
        for i in range(conversations):
            conversation, _ = await services.conversations.create(
                admin, NewConversation(user_id=f"cust-{i}", user_name=f"Customer {i}")
            )
            session = await services.handoffs.start(
                admin, conversation.id, StartHitl(title="Help", user_id=f"cust-{i}")
            )
            await services.handoffs.join(human, session.id)
            ids.append(conversation)

        async def relay(count: int, loops: int) -> tuple[list[float], list[float], float]:
            """``count`` messages from ``loops`` loops: the store's and the wake's times."""
            relays: list[float] = []
            wakes: list[float] = []
            counter = iter(range(count))

            async def loop() -> None:
                for i in counter:
                    conversation = ids[i % len(ids)]
                    started = time.perf_counter()
                    with services.conversation_hub.waiter(conversation.id) as woken:
                        await services.conversations.post_as_customer(
                            conversation, NewMessage(role=Role.USER, text=f"message {i}")
                        )
                        stored = time.perf_counter()
                        await asyncio.wait_for(woken, 10)
                    woke = time.perf_counter()
                    relays.append(stored - started)
                    wakes.append(woke - started)

            started = time.perf_counter()
            await asyncio.gather(*(loop() for _ in range(loops)))
            return relays, wakes, time.perf_counter() - started

        relays, wakes, elapsed = await relay(total, concurrency)
        # The latency target is a human's view when the server is not saturated: with
        # every loop waiting on the server, a message's time is mostly its queue.
        _, alone, _ = await relay(max(total // 10, 100), 1)
    finally:
        services.close()
    name = "message_relay"
    note = (
        f"{total} messages over {conversations} live sessions, {concurrency} loops, {elapsed:.2f} s"
    )
    return [
        Metric(name, backend, "messages relayed/s", total / elapsed, "/s", RELAY_TARGET, note),
        *latency_metrics(name, backend, "relay (stored)", relays),
        *latency_metrics(name, backend, f"to the human's view ({concurrency} loops)", wakes),
        *latency_metrics(
            name, backend, "to the human's view (one at a time)", alone, p99=WAKE_P99_TARGET
        ),
    ]
