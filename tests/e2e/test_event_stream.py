"""GET /v1/events over a real server: server-sent events, resumable with Last-Event-ID."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator

import httpx
import pytest

from tests.support import ServerProcess

pytestmark = pytest.mark.e2e


def messages(lines: Iterator[str]) -> Iterator[dict[str, str]]:
    message: dict[str, str] = {}
    for line in lines:
        if not line:
            if "data" in message:
                yield message
            message = {}
        elif not line.startswith(":"):
            key, _, value = line.partition(":")
            message[key] = value.removeprefix(" ")


def test_stream_delivers_then_resumes_after_a_reconnect(server: ServerProcess) -> None:
    """Events stream live; reconnecting with Last-Event-ID delivers only what came after."""
    headers = {"Authorization": f"Bearer {server.token}"}
    with (
        server.client() as http,
        httpx.Client(base_url=server.url, headers=headers, timeout=30) as sse,
    ):
        with sse.stream("GET", "/v1/events") as stream:
            assert stream.headers["content-type"].startswith("text/event-stream")
            created = threading.Event()

            def act() -> None:
                request = http.post(
                    "/v1/requests", json={"prompt": "Ok?", "kind": "confirmation"}
                ).json()
                http.post(f"/v1/requests/{request['id']}/respond", json={"response": False})
                created.set()

            # The stream's response headers are already here, so the subscription exists.
            threading.Thread(target=act).start()
            got = []
            for message in messages(stream.iter_lines()):
                got.append(message)
                if len(got) == 2:
                    break
        assert created.wait(10)
        assert [m["event"] for m in got] == ["created", "responded"]
        data = json.loads(got[1]["data"])
        assert data["request"]["response"] is False and data["event"]["type"] == "responded"

        second = http.post("/v1/requests", json={"prompt": "Again?", "kind": "input"}).json()
        with sse.stream("GET", "/v1/events", headers={"Last-Event-ID": got[0]["id"]}) as stream:
            resumed = []
            for message in messages(stream.iter_lines()):
                resumed.append(message)
                if len(resumed) == 2:
                    break
        assert resumed[0]["id"] == got[1]["id"]
        assert json.loads(resumed[1]["data"])["request"]["id"] == second["id"]


def test_stream_refuses_bad_credentials_and_bad_ids(server: ServerProcess) -> None:
    """No key is a 401; a non-numeric Last-Event-ID is a 422; both before any streaming."""
    assert httpx.get(f"{server.url}/v1/events").status_code == 401
    with server.client() as http:
        response = http.get("/v1/events", headers={"Last-Event-ID": "abc"})
        assert response.status_code == 422 and response.json()["error"]["field"] == "Last-Event-ID"
