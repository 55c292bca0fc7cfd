"""Live handoff in a real browser: the customer on the chat page, humans on the desk, the
AI over the API. The server runs in this process (uvicorn on a thread) on a FakeClock, so
timers are fired by moving the clock and running the scheduler: nothing sleeps.

Set ``INLOOP_SCREENSHOTS=1`` to save the screenshots used in the docs (docs/images).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support import ADMIN_TOKEN, Databases, FakeClock

pytestmark = pytest.mark.e2e
playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip
PASSWORD = "correct horse battery"
IMAGES = Path(__file__).resolve().parents[2] / "docs" / "images"
XSS = '<img src=x onerror="window.__xss = 1"><script>window.__xss = 1</script>'


class Served:
    def __init__(self, url: str, services: Any, clock: FakeClock, stop: Any) -> None:
        self.url = url
        self.services = services
        self.clock = clock
        self.stop = stop

    def fire(self, **advance: float) -> int:
        """Move the clock and fire what is due, in the server's own event loop."""
        self.clock.advance(**advance)
        task = self.services.scheduler._task
        assert task is not None
        future = asyncio.run_coroutine_threadsafe(
            self.services.scheduler.run_due(), task.get_loop()
        )
        fired: int = future.result(10)
        return fired


@pytest.fixture(scope="module")
def server(databases: Databases, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is not installed (make browsers)")
    from inloop.embedded import ThreadedServer
    from inloop.server.app import create_app
    from inloop.server.config import Settings
    from inloop.server.services import build_services
    from tests.desk.desk_support import fast_hashing

    workdir = tmp_path_factory.mktemp("handoff-browser")
    clock = FakeClock()
    served = ThreadedServer(0)
    settings = Settings(database_url=databases.sqlite(workdir / "inloop.db"), port=served.port,
                        admin_token=ADMIN_TOKEN)  # fmt: skip
    services = build_services(settings, clock=clock)
    fast_hashing(services)
    served.start(create_app(settings, services=services))
    with httpx.Client(
        base_url=served.url, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
    ) as api:
        for handle, roles in [("alice", []), ("hanna", ["hila"]), ("root", ["admin"])]:
            api.post(
                "/v1/users", json={"handle": handle, "name": handle.title(), "roles": roles}
            ).raise_for_status()
            api.post(f"/v1/users/{handle}/password", json={"password": PASSWORD}).raise_for_status()
    yield Served(served.url, services, clock, served.stop)
    served.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with playwright_api.sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield launched
        launched.close()


@pytest.fixture
def api(server: Served) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=server.url, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
    ) as client:
        yield client


def page_of(browser: Any, server: Served, **context: Any) -> Any:
    page = browser.new_context(base_url=server.url, **context).new_page()
    page.set_default_timeout(5000)
    return page


def desk(browser: Any, server: Served, handle: str) -> Any:
    page = page_of(browser, server)
    page.goto("/desk/login")
    page.get_by_label("Handle").fill(handle)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url("/desk")
    return page


def customer(browser: Any, server: Served, conversation: dict[str, Any], **context: Any) -> Any:
    page = page_of(browser, server, **context)
    page.goto(conversation["chat_url"])
    expect(page).to_have_url(f"/chat/{conversation['id']}")  # the token left the address bar
    expect(page.locator("html")).to_have_attribute("data-live", "on")
    return page


def open_conversation(api: httpx.Client, **body: Any) -> dict[str, Any]:
    response = api.post(
        "/v1/conversations", json={"user_id": "cust-1", "user_name": "Dana", **body}
    )
    assert response.status_code == 201, response.text
    made: dict[str, Any] = response.json()
    return made


def start(api: httpx.Client, conversation_id: str, **overrides: Any) -> dict[str, Any]:
    response = api.post(
        f"/v1/conversations/{conversation_id}/handoff",
        json={
            "title": "Refund question",
            "user_id": "cust-1",
            "configuration_overrides": overrides,
        },
    )
    assert response.status_code == 201, response.text
    session: dict[str, Any] = response.json()
    return session


def kinds(api: httpx.Client, conversation_id: str) -> list[str]:
    items = api.get("/v1/conversation-events", params={"conversation_id": conversation_id}).json()[
        "items"
    ]
    return [e["type"] for e in items]


def chat_says(page: Any, role: str, text: str) -> None:
    expect(page.locator(f"#chat-log li.from-{role}").filter(has_text=text)).to_have_count(1)


def test_full_handoff_ended_by_end_and_the_ai_muted(
    browser: Any, server: Served, api: httpx.Client
) -> None:
    """The customer chats, the AI hands off, the server refuses the AI meanwhile, Alice
    joins from the desk and sees the whole transcript, they talk live both ways, the
    customer's /end closes it, and the AI gets continue. Agents' text is shown as text."""
    conversation = open_conversation(api, customer={"plan": XSS})
    api.post(
        f"/v1/conversations/{conversation['id']}/messages", json={"text": "Hi! How can I help?"}
    )
    chat = customer(browser, server, conversation)
    chat_says(chat, "agent", "Hi! How can I help?")
    chat.get_by_label("Your message").fill("My order 7 never came " + XSS)
    chat.get_by_role("button", name="Send").click()
    chat_says(chat, "user", "My order 7 never came")
    session = start(api, conversation["id"])
    chat_says(chat, "system", "I have escalated this conversation to a human agent")
    muted = api.post(
        f"/v1/conversations/{conversation['id']}/messages", json={"text": "I can help!"}
    )
    assert muted.status_code == 409 and muted.json()["error"]["code"] == "ai_muted"
    alice = desk(browser, server, "alice")
    row = alice.locator(f'#queue-rows tr[data-id="{session["request_id"]}"]')
    expect(row).to_contain_text("Refund question")
    row.locator("a").click()
    expect(alice).to_have_url(f"/desk/conversations/{conversation['id']}")
    log = alice.locator("#conversation-log")
    expect(log).to_contain_text("Hi! How can I help?")  # the whole transcript, from the start
    expect(log).to_contain_text("My order 7 never came " + XSS)
    alice.keyboard.press("c")  # join
    expect(alice.get_by_label("Message to the customer")).to_be_enabled()
    chat_says(chat, "system", "Alice has joined the conversation.")
    alice.get_by_label("Message to the customer").fill("Hello Dana, Alice here.")
    alice.keyboard.press("Enter")
    chat_says(chat, "human", "Hello Dana, Alice here.")
    chat.get_by_label("Your message").fill("Thanks Alice")
    chat.keyboard.press("Enter")
    expect(log.locator("li.who-user").filter(has_text="Thanks Alice")).to_have_count(1)
    if os.environ.get("INLOOP_SCREENSHOTS"):
        alice.set_viewport_size({"width": 1200, "height": 900})
        alice.screenshot(path=str(IMAGES / "desk-conversation.png"), full_page=True)
        chat.screenshot(path=str(IMAGES / "chat-page.png"), full_page=True)
    chat.get_by_label("Your message").fill("/End")
    chat.keyboard.press("Enter")
    chat_says(chat, "system", "You have ended the conversation with the human agent.")
    expect(log.locator("li.internal")).to_contain_text("( The user has ended the session. )")
    expect(chat.locator("#chat-log")).not_to_contain_text("The user has ended the session")
    expect(alice.locator("#live-notice")).to_contain_text("ended · user_closed")
    assert kinds(api, conversation["id"])[-2:] == ["handoff_ended", "continue"]
    assert (
        api.post(
            f"/v1/conversations/{conversation['id']}/messages", json={"text": "Back"}
        ).status_code
        == 201
    )
    chat_says(chat, "agent", "Back")
    alice.goto(f"/desk/conversations/{conversation['id']}")
    expect(alice.locator(".customer")).to_contain_text(XSS)
    for page in (chat, alice):
        assert page.evaluate("window.__xss") is None
    alice.set_viewport_size({"width": 390, "height": 844})
    width = alice.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the live view scrolls sideways on a phone ({width}px)"
    chat.context.close()
    alice.context.close()


def test_assignment_timeout_message(browser: Any, server: Served, api: httpx.Client) -> None:
    conversation = open_conversation(api)
    chat = customer(browser, server, conversation)
    start(api, conversation["id"], agent_assigned_timeout_seconds=45)
    chat_says(chat, "system", "I have escalated this conversation")
    server.fire(seconds=46)
    chat_says(
        chat, "system", "No human agent is available right now. I will continue assisting you."
    )
    assert kinds(api, conversation["id"])[-2:] == ["handoff_ended", "continue"]
    chat.context.close()


def test_agent_closes_the_session_and_the_ai_continues(
    browser: Any, server: Served, api: httpx.Client
) -> None:
    conversation = open_conversation(api)
    chat = customer(browser, server, conversation)
    start(api, conversation["id"])
    alice = desk(browser, server, "alice")
    alice.goto(f"/desk/conversations/{conversation['id']}")
    alice.get_by_role("button", name="Join").click()
    chat_says(chat, "system", "Alice has joined the conversation.")
    alice.get_by_role("button", name="End session").click()
    chat_says(chat, "system", "Alice closed the conversation. I will continue assisting you.")
    assert kinds(api, conversation["id"])[-2:] == ["handoff_ended", "continue"]
    assert (
        api.post(
            f"/v1/conversations/{conversation['id']}/messages", json={"text": "I am back."}
        ).status_code
        == 201
    )
    chat_says(chat, "agent", "I am back.")
    chat.context.close()
    alice.context.close()


def test_consult_answered_returns_control(browser: Any, server: Served, api: httpx.Client) -> None:
    """The HILA sees the prompt, summary, transcript and customer, picks an option; the
    customer never sees the ticket; the AI hears consult_answered and speaks."""
    conversation = open_conversation(api, customer={"company": "Acme"})
    chat = customer(browser, server, conversation)
    chat.get_by_label("Your message").fill("Can I get a refund for order 7?")
    chat.keyboard.press("Enter")
    chat_says(chat, "user", "Can I get a refund for order 7?")
    ticket = api.post(
        f"/v1/conversations/{conversation['id']}/consults",
        json={"prompt": "Refund order 7 (EUR 80)?", "options": ["approve refund", "offer voucher"]},
    ).json()
    hanna = desk(browser, server, "hanna")
    hanna.goto(f"/desk/requests/{ticket['id']}")
    expect(hanna.locator(".consult-timer")).to_contain_text("Waiting for a HILA")
    expect(hanna.locator(".transcript")).to_contain_text("Can I get a refund for order 7?")
    expect(hanna.locator(".customer")).to_contain_text("Acme")
    expect(hanna.get_by_role("region", name="Summary")).to_contain_text("Customer's request")
    if os.environ.get("INLOOP_SCREENSHOTS"):
        hanna.set_viewport_size({"width": 1200, "height": 900})
        hanna.screenshot(path=str(IMAGES / "desk-consult.png"), full_page=True)
    hanna.get_by_role("button", name="offer voucher").click()
    expect(hanna).to_have_url("/desk")
    answered = api.get(f"/v1/requests/{ticket['id']}/wait", params={"timeout": 0}).json()
    assert answered["response"] == "offer voucher"
    assert kinds(api, conversation["id"])[-2:] == ["consult_opened", "consult_answered"]
    api.post(
        f"/v1/conversations/{conversation['id']}/messages", json={"text": "I can offer a voucher."}
    )
    chat_says(chat, "agent", "I can offer a voucher.")
    expect(chat.locator("#chat-log")).not_to_contain_text("EUR 80")
    chat.context.close()
    hanna.context.close()


def test_automatic_transfer_with_no_hila_online(
    browser: Any, server: Served, api: httpx.Client
) -> None:
    """Nobody online in the consult's pool: after 60 s it goes to a live agent, whom the
    customer is then told about."""
    conversation = open_conversation(api)
    chat = customer(browser, server, conversation)
    ticket = api.post(
        f"/v1/conversations/{conversation['id']}/consults",
        json={"prompt": "Policy question", "assignee": "role:night-shift"},
    ).json()
    server.fire(seconds=61)
    assert api.get(f"/v1/requests/{ticket['id']}").json()["status"] == "transferred"
    chat_says(chat, "system", "I have escalated this conversation to a human agent")
    alice = desk(browser, server, "alice")
    expect(alice.locator("#queue-rows")).to_contain_text("Transferred from a consult")
    chat.context.close()
    alice.context.close()


def test_approver_mode_auto_accept_and_edit(
    browser: Any, server: Served, api: httpx.Client
) -> None:
    """The AI's reply waits for Alice; she edits it with e; the next one is accepted by
    itself after 30 s; the customer sees only what was approved."""
    conversation = open_conversation(api, approver_mode=True)
    chat = customer(browser, server, conversation)
    held = api.post(
        f"/v1/conversations/{conversation['id']}/messages", json={"text": "Refund in 10 days"}
    )
    assert held.status_code == 202
    alice = desk(browser, server, "alice")
    alice.goto(f"/desk/requests/{held.json()['request_id']}")
    alice.keyboard.press("e")
    editor = alice.get_by_label("Proposed action (JSON)")
    editor.fill('{"message": {"type": "text", "text": "Refund in 3 to 5 days"}}')
    alice.get_by_role("button", name="Send edited").click()
    expect(alice).to_have_url("/desk")
    chat_says(chat, "agent", "Refund in 3 to 5 days")
    expect(chat.locator("#chat-log")).not_to_contain_text("10 days")
    second = api.post(
        f"/v1/conversations/{conversation['id']}/messages", json={"text": "Anything else?"}
    )
    assert second.status_code == 202
    server.fire(seconds=31)
    chat_says(chat, "agent", "Anything else?")
    chat.context.close()
    alice.context.close()


def test_chat_page_refuses_the_bare_id_and_fits_a_phone(
    browser: Any, server: Served, api: httpx.Client
) -> None:
    """Without the token (or with a wrong one) the page says so and shows nothing."""
    conversation = open_conversation(api)
    api.post(f"/v1/conversations/{conversation['id']}/messages", json={"text": "secret offer"})
    stranger = page_of(browser, server)
    stranger.goto(f"/chat/{conversation['id']}")
    expect(stranger.get_by_role("alert")).to_contain_text("not valid")
    stranger.goto(f"/chat/{conversation['id']}?token=guess")
    expect(stranger.get_by_role("alert")).to_contain_text("not valid")
    expect(stranger.locator("body")).not_to_contain_text("secret offer")
    phone = customer(browser, server, conversation, viewport={"width": 390, "height": 844})
    chat_says(phone, "agent", "secret offer")
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the chat page scrolls sideways on a phone ({width}px)"
    stranger.context.close()
    phone.context.close()
