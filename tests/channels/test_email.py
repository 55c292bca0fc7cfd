"""Email through a real SMTP server (aiosmtpd, on 127.0.0.1): the notice, its signed
single-use links, the page that confirms before it answers, expired and forged links
refused, and a server that is down retried; SQLite and PostgreSQL."""

from __future__ import annotations

import email
import re
from collections.abc import Iterator
from email.message import Message

import httpx
import pytest
from aiosmtpd.controller import Controller

from inloop.server.services import Services
from tests.support import FakeClock


class Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], Message]] = []

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
        parsed = email.message_from_bytes(envelope.content)
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), parsed))
        return "250 Message accepted for delivery"


@pytest.fixture(scope="module")
def smtp() -> Iterator[tuple[Inbox, int]]:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield inbox, port
    controller.stop()


@pytest.fixture
async def inbox(api: httpx.AsyncClient, smtp: tuple[Inbox, int]) -> Inbox:
    box, port = smtp
    box.messages.clear()
    created = await api.post("/v1/channels", json={"name": "mail", "kind": "email", "config": {
        "host": "127.0.0.1", "port": port, "security": "none",
        "from_address": "inloop@example.com", "link_ttl": "1h"}})  # fmt: skip
    assert created.status_code == 201, created.text
    await api.post("/v1/users", json={"handle": "alice", "name": "Alice Smith"})
    await api.put("/v1/users/alice/channels/mail", json={"address": "alice@example.com"})
    return box


def parts(message: Message) -> tuple[str, str]:
    text = html = ""
    for part in message.walk():
        if part.get_content_type() == "text/plain":
            text = part.get_payload(decode=True).decode()
        elif part.get_content_type() == "text/html":
            html = part.get_payload(decode=True).decode()
    return text.replace("\r\n", "\n"), html


async def test_an_email_link_answers_once_after_confirming(
    api: httpx.AsyncClient, services: Services, inbox: Inbox
) -> None:
    request = (await api.post("/v1/requests", json={
        "prompt": "Refund <b>$120</b>?", "options": ["approve", "reject"], "assignee": "user:alice"})).json()  # fmt: skip
    assert await services.dispatcher.run_due() == 1
    ((sender, to, message),) = inbox.messages
    assert (sender, to) == ("inloop@example.com", ["alice@example.com"])
    assert message["Subject"] == "[Inloop] Refund <b>$120</b>?"
    text, html = parts(message)
    assert "Refund &lt;b&gt;$120&lt;/b&gt;?" in html and "<b>$120</b>" not in html
    links = dict(re.findall(r"^(approve|reject): (\S+)$", text, re.M))
    assert links, text
    approve = links["approve"]
    assert approve.startswith("https://inloop.example/desk/answer/") and approve.endswith(
        "?answer=approve"
    )
    path = approve.removeprefix("https://inloop.example")

    page = await api.get(path)  # what a mail scanner fetching the link does: nothing
    assert page.status_code == 200 and "Confirm: approve" in page.text
    assert (await api.get(f"/v1/requests/{request['id']}")).json()["status"] == "assigned"
    done = await api.post(path.split("?")[0], data={"answer": "approve"})
    assert done.status_code == 200 and "Approved by email by Alice Smith" in done.text
    closed = (await api.get(f"/v1/requests/{request['id']}")).json()
    assert (closed["response"], closed["resolved_by"]) == ("approve", "user:alice")
    assert closed["responded_via"]["channel"] == "email"
    again = await api.post(path.split("?")[0], data={"answer": "reject"})
    assert again.status_code == 409 and "used already" in again.text
    forged = await api.get(path.split("?")[0][:-4] + "abcd")
    assert forged.status_code == 401


async def test_links_expire_and_a_closed_request_says_how_it_ended(
    api: httpx.AsyncClient, services: Services, clock: FakeClock, inbox: Inbox
) -> None:
    first = (
        await api.post(
            "/v1/requests", json={"prompt": "Why?", "kind": "input", "assignee": "user:alice"}
        )
    ).json()
    second = (
        await api.post(
            "/v1/requests",
            json={"prompt": "Ship?", "options": ["approve", "reject"], "assignee": "user:alice"},
        )
    ).json()
    await services.dispatcher.run_due()
    by_subject = {m["Subject"]: parts(m)[0] for _, _, m in inbox.messages}
    why = re.search(r"^Answer: https://inloop.example(\S+)$", by_subject["[Inloop] Why?"], re.M)
    assert why is not None
    await api.post(f"/v1/requests/{second['id']}/respond", json={"response": "reject"})
    ship = re.search(r"^reject: https://inloop.example(\S+)\?", by_subject["[Inloop] Ship?"], re.M)
    assert ship is not None
    shown = await api.get(ship.group(1))
    assert (
        "Rejected through the API by admin-token" in shown.text
        and 'class="answer-form"' not in shown.text
    )
    refused = await api.post(ship.group(1), data={"answer": "approve"})
    assert refused.status_code == 409 and "Already closed" in refused.text
    clock.advance(hours=1, seconds=1)
    expired = await api.get(why.group(1))
    assert expired.status_code == 401 and "expired" in expired.text
    assert (await api.get(f"/v1/requests/{first['id']}")).json()["status"] == "assigned"


async def test_a_server_that_is_down_is_retried(
    api: httpx.AsyncClient, services: Services, clock: FakeClock
) -> None:
    await api.post("/v1/channels", json={"name": "mail", "kind": "email", "config": {
        "host": "127.0.0.1", "port": 9, "security": "none", "from_address": "inloop@example.com"}})  # fmt: skip
    new = {"key": "hello-1", "channel": "mail", "to": "bob@example.com",
           "message": {"subject": "Hi", "text": "Hello"}}  # fmt: skip
    assert (await api.post("/v1/deliveries", json=new)).status_code == 201
    await services.dispatcher.run_due()
    (pending,) = (await api.get("/v1/deliveries")).json()["items"]
    assert pending["status"] == "pending" and "could not send by SMTP" in pending["last_error"]
