"""An acknowledged answer survives the server being killed outright."""

from __future__ import annotations

import pytest

from tests.support import ServerProcess

pytestmark = pytest.mark.e2e


def test_answer_survives_sigkill_right_after_respond(server: ServerProcess) -> None:
    """Respond returns 200, the server is SIGKILLed at once; after a restart it is resolved."""
    with server.client() as http:
        ids = []
        for i in range(20):
            created = http.post(
                "/v1/requests", json={"prompt": f"Deploy {i}?", "kind": "confirmation"}
            )
            ids.append(created.json()["id"])
        for request_id in ids:
            assert (
                http.post(f"/v1/requests/{request_id}/respond", json={"response": True}).status_code
                == 200
            )
    server.kill()
    server.start()
    with server.client() as http:
        for request_id in ids:
            request = http.get(f"/v1/requests/{request_id}").json()
            assert (request["status"], request["response"]) == ("resolved", True)
            trail = http.get(f"/v1/requests/{request_id}/events").json()["items"]
            assert [e["type"] for e in trail] == ["created", "responded"]


def test_openapi_and_docs_are_served(server: ServerProcess) -> None:
    """/openapi.json describes the API and /docs renders it."""
    with server.client() as http:
        spec = http.get("/openapi.json").json()
        assert "/v1/requests/{request_id}/respond" in spec["paths"]
        assert http.get("/docs").status_code == 200
        assert http.get("/healthz").json()["status"] == "ok"
