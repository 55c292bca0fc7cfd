"""``inloop sessions show`` and ``inloop tickets ls|show|rules`` against a fake server."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from tests.unit.test_cli import run

AT = "2026-12-02T09:00:00Z"
SESSION = {"id": "sess_1", "state": {"order": "A-17", "escalated": True}, "metadata": {},
           "version": 2, "escalated": True, "created_by": "key:bot", "created_at": AT,
           "updated_at": AT}  # fmt: skip
HISTORY = [
    {"id": 1, "session_id": "sess_1", "type": "turn", "actor": "key:bot", "reasoning": None,
     "data": {"input": "Refund me", "output": "ok"}, "created_at": AT},
    {"id": 2, "session_id": "sess_1", "type": "state_changed", "actor": "key:bot",
     "reasoning": "Escalated to human: payment", "data": {"changes": {"escalated": {}}},
     "created_at": AT},
]  # fmt: skip
TICKET = {"id": "tkt_1", "number": 7, "session_id": "sess_1", "request_id": "req_1",
          "reason": "payment dispute", "priority": "urgent", "rule": "payment_or_security",
          "status": "open", "history": [{"source": "turn", "role": "user", "text": "Refund me",
          "at": AT}], "state": {"order": "A-17"}, "created_by": "key:bot", "created_at": AT}  # fmt: skip
RULES = {"rules": [{"name": "vip", "keywords": ["gold"], "priority": "urgent",
                    "fields": ["metadata"]}], "default_priority": "low"}  # fmt: skip


def handler(request: httpx.Request) -> httpx.Response:
    path = request.url.path
    if path == "/v1/sessions/sess_1":
        return httpx.Response(200, json=SESSION)
    if path == "/v1/sessions/sess_1/history":
        return httpx.Response(200, json={"items": HISTORY})
    if path.startswith("/v1/sessions/"):
        error = {"code": "session_not_found", "message": "no session", "field": "session_id"}
        return httpx.Response(404, json={"error": error})
    if path == "/v1/tickets":
        return httpx.Response(200, json={"items": [TICKET]})
    if path.startswith("/v1/tickets/"):
        return httpx.Response(200, json=TICKET)
    if path == "/v1/ticket-rules" and request.method == "PUT":
        body = json.loads(request.content)
        if body.get("rules") and not body["rules"][0].get("keywords"):
            error = {"code": "validation_error", "message": "rules.0.keywords: too short",
                     "field": "rules.0.keywords"}  # fmt: skip
            return httpx.Response(422, json={"error": error})
        return httpx.Response(200, json=body)
    return httpx.Response(200, json=RULES)


def test_sessions_show(monkeypatch: pytest.MonkeyPatch) -> None:
    result, _ = run(monkeypatch, handler, "sessions", "show", "sess_1")
    assert result.exit_code == 0, result.output
    assert "A-17" in result.stdout and "escalated" in result.stdout
    assert "Escalated to" in result.stdout and "Refund me" in result.stdout  # 80 columns
    missing, _ = run(monkeypatch, handler, "sessions", "show", "sess_new")
    assert missing.exit_code == 0 and "no session sess_new yet" in missing.stdout


def test_tickets_ls_and_show(monkeypatch: pytest.MonkeyPatch) -> None:
    listed, server = run(
        monkeypatch, handler, "tickets", "ls", "--status", "open", "--priority", "urgent"
    )
    assert listed.exit_code == 0, listed.output
    assert "#7" in listed.stdout and "urgent" in listed.stdout
    assert server.calls[0].url.params.get_list("status") == ["open"]
    shown, _ = run(monkeypatch, handler, "tickets", "show", "#7", "--json")
    assert json.loads(shown.stdout)["label"] == "#7"
    plain, _ = run(monkeypatch, handler, "tickets", "show", "7")
    assert "payment_or_security" in plain.stdout and "Refund me" in plain.stdout


def test_tickets_rules_show_set_and_errors(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    shown, _ = run(monkeypatch, handler, "tickets", "rules")
    assert shown.exit_code == 0 and "vip" in shown.stdout and "(none matched)" in shown.stdout
    good = tmp_path / "rules.json"
    good.write_text(json.dumps(RULES))
    changed, server = run(monkeypatch, handler, "tickets", "rules", "--set", str(good))
    assert changed.exit_code == 0, changed.output
    assert json.loads(server.calls[0].content)["rules"][0]["name"] == "vip"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"rules": [{"name": "x", "keywords": [], "priority": "high"}]}))
    refused, _ = run(monkeypatch, handler, "tickets", "rules", "--set", str(bad))
    assert refused.exit_code == 2 and "rules.0.keywords" in refused.output
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    unreadable, server = run(monkeypatch, handler, "tickets", "rules", "--set", str(broken))
    assert unreadable.exit_code == 2 and "--set is not valid JSON" in unreadable.output
    assert server.calls == []
