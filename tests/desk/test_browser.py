"""The desk in a real browser: Debian's Chromium driven by Playwright, against a real
``inloop serve`` process. Nothing here sleeps: each step waits on the page's DOM."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support import Databases, ServerProcess

pytestmark = pytest.mark.e2e
playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect
Page = playwright_api.Page

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip
PASSWORD = "correct horse battery"
IMAGES = Path(__file__).resolve().parents[2] / "docs" / "images"
XSS_CORPUS = [
    "<script>window.__xss = 1</script>",
    '<img src=x onerror="window.__xss = 1">',
    '"><svg onload="window.__xss = 1">',
    "javascript:window.__xss = 1",
    '<iframe srcdoc="<script>parent.__xss = 1</script>"></iframe>',
    '{{7*7}}<b onmouseover="window.__xss = 1">hover</b>',
    "</textarea><script>window.__xss = 1</script>",
    "'; window.__xss = 1; '",
]


@pytest.fixture(scope="module")
def server(databases: Databases, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One server for the module, with alice and bob (billing), mallory (sales), root (admin)."""
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is not installed (make browsers)")
    workdir = tmp_path_factory.mktemp("desk-browser")
    process = ServerProcess(databases.sqlite(workdir / "inloop.db"), workdir).start()
    with process.client() as api:
        for handle, teams, roles in [
            ("alice", ["billing"], []),
            ("bob", ["billing"], []),
            ("mallory", ["sales"], []),
            ("root", [], ["admin"]),
        ]:
            api.post(
                "/v1/users", json={"handle": handle, "name": handle.title(), "roles": roles}
            ).raise_for_status()
            for team in teams:
                if api.get(f"/v1/teams/{team}").status_code == 404:
                    api.post("/v1/teams", json={"name": team}).raise_for_status()
                api.put(f"/v1/teams/{team}/members/{handle}").raise_for_status()
            api.post(f"/v1/users/{handle}/password", json={"password": PASSWORD}).raise_for_status()
    yield process
    process.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with playwright_api.sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield launched
        launched.close()


@pytest.fixture
def api(server: ServerProcess) -> Iterator[httpx.Client]:
    with server.client() as client:
        yield client


def open_page(browser: Any, server: ServerProcess, **context: Any) -> Page:
    page: Page = browser.new_context(base_url=server.url, **context).new_page()
    page.set_default_timeout(5000)
    return page


def sign_in(page: Page, handle: str, password: str = PASSWORD) -> None:
    page.goto("/desk")
    expect(page).to_have_url("/desk/login?next=/desk")
    page.get_by_label("Handle").fill(handle)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url("/desk")
    expect(page.locator("html")).to_have_attribute("data-live", "on")


def create(api: httpx.Client, **body: Any) -> dict[str, Any]:
    response = api.post("/v1/requests", json=body)
    assert response.status_code == 201, response.text
    made: dict[str, Any] = response.json()
    return made


def test_sign_in_then_new_requests_appear_live(
    browser: Any, server: ServerProcess, api: httpx.Client
) -> None:
    """A wrong password is refused; once signed in, a request an agent creates shows up in
    the open queue within a second, without a reload."""
    page = open_page(browser, server)
    page.goto("/desk/login")
    page.get_by_label("Handle").fill("alice")
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_have_text("wrong handle or password")
    sign_in(page, "alice")
    page.evaluate("window.__loaded = true")
    made = create(
        api, prompt="Refund order 1001?", title="Live refund 1001", assignee="team:billing"
    )
    row = page.locator(f'#queue-rows tr[data-id="{made["id"]}"]')
    expect(row).to_be_visible(timeout=1000)
    expect(row).to_contain_text("Live refund 1001")
    assert page.evaluate("window.__loaded") is True  # the same page: no reload
    page.context.close()


def test_approve_by_keyboard(browser: Any, server: ServerProcess, api: httpx.Client) -> None:
    """j selects, a approves from the queue; Enter opens, a approves on the request page."""
    first = create(
        api,
        prompt="Ship it?",
        title="Keyboard one",
        options=["approve", "reject"],
        assignee="user:bob",
        priority="urgent",
    )
    second = create(
        api,
        prompt="Ship that?",
        title="Keyboard two",
        options=["approve", "reject"],
        assignee="user:bob",
        priority="urgent",
    )
    page = open_page(browser, server)
    sign_in(page, "bob")
    page.keyboard.press("j")
    expect(page.locator("#queue-rows tr.selected")).to_contain_text("Keyboard one")
    page.keyboard.press("a")
    expect(page.locator(f'#queue-rows tr[data-id="{first["id"]}"]')).to_have_count(0)
    assert api.get(f"/v1/requests/{first['id']}").json()["response"] == "approve"
    expect(page.locator("#queue-rows tr.selected")).to_contain_text("Keyboard two")
    page.keyboard.press("Enter")
    expect(page).to_have_url(f"/desk/requests/{second['id']}")
    page.keyboard.press("?")
    expect(page.locator("#shortcuts")).to_be_visible()
    page.keyboard.press("Escape")
    expect(page.locator("#shortcuts")).to_be_hidden()
    page.keyboard.press("a")
    expect(page).to_have_url("/desk")
    stored = api.get(f"/v1/requests/{second['id']}").json()
    assert stored["status"] == "resolved" and stored["resolved_by"] == "user:bob"
    page.keyboard.press("/")
    expect(page.locator("#search")).to_be_focused()
    page.context.close()


def test_edit_the_proposed_action_by_keyboard(
    browser: Any, server: ServerProcess, api: httpx.Client
) -> None:
    """e opens the payload as JSON; invalid JSON is flagged; the edit goes with modify."""
    made = create(
        api,
        prompt="Refund this order?",
        title="Editable refund",
        options=["approve", "modify", "reject"],
        payload={"tool": "refund", "args": {"amount": 120}},
        assignee="user:alice",
    )
    page = open_page(browser, server)
    sign_in(page, "alice")
    page.goto(f"/desk/requests/{made['id']}")
    page.keyboard.press("e")
    editor = page.get_by_label("Proposed action (JSON)")
    expect(editor).to_be_focused()
    editor.fill('{"tool": "refund", "args": {"amount": 100}')
    page.get_by_role("button", name="Send edited").click()
    expect(page.locator("#edited-error")).to_contain_text("not valid JSON")
    editor.fill('{"tool": "refund", "args": {"amount": 100}}')
    page.get_by_role("button", name="Send edited").click()
    expect(page).to_have_url("/desk")
    stored = api.get(f"/v1/requests/{made['id']}").json()
    assert stored["response"] == "modify"
    assert stored["edited"] == {"tool": "refund", "args": {"amount": 100}}
    page.context.close()


SCHEMA = {
    "type": "object",
    "properties": {
        "amount": {"type": "integer", "minimum": 1, "maximum": 500, "title": "Refund amount"},
        "reason": {"type": "string", "enum": ["damaged", "late", "other"]},
        "code": {"type": "string", "pattern": "^[A-Z]{3}-[0-9]{3}$"},
        "notify": {"type": "boolean"},
        "channels": {"type": "array", "items": {"enum": ["email", "sms"]}},
        "address": {
            "type": "object",
            "properties": {"city": {"type": "string", "minLength": 2}},
            "required": ["city"],
        },
    },
    "required": ["amount", "reason", "address"],
}


def test_fill_a_schema_form_with_inline_validation(
    browser: Any, server: ServerProcess, api: httpx.Client
) -> None:
    """A value out of range is shown next to its field; corrected, the answer is sent."""
    made = create(
        api,
        prompt="How much do we refund?",
        title="Refund form",
        response_schema=SCHEMA,
        assignee="user:alice",
    )
    page = open_page(browser, server)
    sign_in(page, "alice")
    page.goto(f"/desk/requests/{made['id']}")
    page.get_by_label("Refund amount *").fill("900")
    page.get_by_label("Reason *").select_option(label="late")
    page.get_by_label("Code").fill("abc")
    page.get_by_label("City *").fill("Lyon")
    page.get_by_label("Notify").check()
    page.get_by_label("sms").check()
    page.get_by_role("button", name="Send").click()
    expect(page.get_by_text("Must be at most 500.")).to_be_visible()
    expect(page.get_by_text("Does not match the expected format")).to_be_visible()
    expect(page.get_by_label("Refund amount *")).to_have_attribute("aria-invalid", "true")
    assert api.get(f"/v1/requests/{made['id']}").json()["status"] != "resolved"
    page.get_by_label("Refund amount *").fill("120")
    page.get_by_label("Code").fill("ABC-123")
    page.get_by_label("Comment (optional)").fill("checked the order")
    page.get_by_role("button", name="Send").click()
    expect(page).to_have_url("/desk")
    stored = api.get(f"/v1/requests/{made['id']}").json()
    assert stored["response"] == {
        "amount": 120,
        "reason": "late",
        "code": "ABC-123",
        "notify": True,
        "channels": ["sms"],
        "address": {"city": "Lyon"},
    }
    assert stored["comment"] == "checked the order"
    page.context.close()


def test_xss_payloads_are_shown_as_text_and_never_run(
    browser: Any, server: ServerProcess, api: httpx.Client
) -> None:
    """Payloads in prompt, title, context, transcript, customer and options stay text."""
    made = create(
        api,
        prompt="\n".join(XSS_CORPUS),
        title=XSS_CORPUS[1],
        description=XSS_CORPUS[2],
        options=[
            {"value": "approve", "label": XSS_CORPUS[0], "description": XSS_CORPUS[3]},
            {"value": "reject", "label": XSS_CORPUS[4]},
        ],
        context={
            XSS_CORPUS[5]: XSS_CORPUS[6],
            "transcript": [{"role": XSS_CORPUS[0], "text": p} for p in XSS_CORPUS],
            "customer": {"name": XSS_CORPUS[7], "notes": XSS_CORPUS},
        },
        display={"layout": "side-by-side", "highlight": [XSS_CORPUS[5]]},
        payload={"tool": XSS_CORPUS[0]},
        assignee="user:alice",
    )
    page = open_page(browser, server)
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.add_init_script("window.__xss = 0")
    sign_in(page, "alice")
    expect(page.locator(f'#queue-rows tr[data-id="{made["id"]}"] a')).to_have_text(XSS_CORPUS[1])
    page.goto(f"/desk/requests/{made['id']}")
    expect(page.locator("h1")).to_have_text(XSS_CORPUS[1])
    expect(page.locator(".prompt .prose").first).to_have_text("\n".join(XSS_CORPUS))
    expect(page.locator(".transcript .msg")).to_have_count(len(XSS_CORPUS))
    expect(page.get_by_role("button", name=XSS_CORPUS[0])).to_be_visible()
    for payload in XSS_CORPUS:
        assert page.get_by_text(payload, exact=True).count() >= 1, payload
    page.locator(".transcript").hover()
    assert page.evaluate("window.__xss") == 0
    assert page.locator("iframe, img, svg, script:not([src])").count() == 0  # no injected elements
    assert dialogs == []
    page.context.close()


def test_a_human_of_another_team_gets_403(
    browser: Any, server: ServerProcess, api: httpx.Client
) -> None:
    """Mallory (sales) cannot open billing's request, and it is not in her queue."""
    made = create(api, prompt="Billing only", title="Billing secret", assignee="team:billing")
    page = open_page(browser, server)
    sign_in(page, "mallory")
    expect(page.locator("#queue-rows")).not_to_contain_text("Billing secret")
    response = page.goto(f"/desk/requests/{made['id']}")
    assert response is not None and response.status == 403
    expect(page.get_by_role("heading", name="Not allowed")).to_be_visible()
    expect(page.locator("body")).not_to_contain_text("Billing only")
    page.context.close()


def test_screenshots_of_the_main_pages(
    browser: Any, server: ServerProcess, api: httpx.Client, tmp_path: Path
) -> None:
    """Sign-in, queue, a request with context, one with a form, and the queue on a 390 px
    phone; copied to
    docs/images when INLOOP_SCREENSHOTS=1."""
    refund = create(
        api,
        prompt="Customer asks for a refund of $240 on order 5512 (damaged in transit).\nApprove the refund?",
        title="Refund $240 for order 5512",
        options=["approve", "modify", "reject"],
        payload={"tool": "refund", "args": {"order": 5512, "amount": 240}},
        context={
            "order": {"id": 5512, "total": 240, "carrier": "UPS"},
            "risk_score": 0.12,
            "transcript": [
                {"role": "customer", "text": "My lamp arrived broken."},
                {"role": "agent", "text": "Sorry! Let me check with a colleague."},
            ],
            "customer": {"name": "Dana Li", "plan": "Pro", "since": "2021"},
        },
        display={"layout": "side-by-side", "highlight": ["order"]},
        priority="high",
        timeout="2h",
        assignee="team:billing",
    )
    create(
        api,
        prompt="Which plan fits a 40-seat team?",
        title="Plan for a 40-seat team",
        assignee="team:billing",
        priority="urgent",
    )
    form = create(
        api,
        prompt="Fill in the return label details.",
        title="Return label",
        response_schema=SCHEMA,
        assignee="team:billing",
        timeout="30m",
    )
    shots = tmp_path / "images"
    shots.mkdir()
    page = open_page(browser, server, viewport={"width": 1280, "height": 800})
    page.goto("/desk/login")
    page.screenshot(path=str(shots / "desk-sign-in.png"))
    sign_in(page, "alice")
    page.screenshot(path=str(shots / "desk-queue.png"), full_page=True)
    page.goto(f"/desk/requests/{refund['id']}")
    expect(page.get_by_role("heading", name="Transcript")).to_be_visible()
    page.screenshot(path=str(shots / "desk-request.png"), full_page=True)
    page.goto(f"/desk/requests/{form['id']}")
    expect(page.get_by_label("Refund amount *")).to_be_visible()
    page.screenshot(path=str(shots / "desk-request-form.png"), full_page=True)
    page.context.close()
    phone = open_page(
        browser,
        server,
        viewport={"width": 390, "height": 844},
        device_scale_factor=2,
        is_mobile=True,
    )
    sign_in(phone, "alice")
    phone.screenshot(path=str(shots / "desk-queue-390.png"), full_page=True)
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the queue scrolls sideways on a phone ({width}px)"
    for made in (refund, form):
        phone.goto(f"/desk/requests/{made['id']}")
        width = phone.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"a request page scrolls sideways on a phone ({width}px)"
    phone.context.close()
    for png in shots.iterdir():
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    if os.environ.get("INLOOP_SCREENSHOTS") == "1":
        IMAGES.mkdir(parents=True, exist_ok=True)
        for png in shots.iterdir():
            shutil.copy(png, IMAGES / png.name)
