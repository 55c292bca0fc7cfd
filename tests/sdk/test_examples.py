"""The imperative SDK's examples run unattended with one command, in embedded mode."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e  # starts real processes

ROOT = Path(__file__).parents[2]


def run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("INLOOP_URL", "INLOOP_TOKEN")}
    env["INLOOP_HOME"] = str(tmp_path / "home")
    return subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_tool_approval_example(tmp_path: Path) -> None:
    """Approve, modify (the refund halved) and reject paths, as the agent sees them."""
    result = run(tmp_path, "examples/tool_approval.py", "--auto-answer")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[1:] == [
        "refund: refunded 60 on A-17 (late delivery)",
        "send_email: emailed ada@example.com: Your refund",
        "close_account: close_account was denied: never close on a refund",
    ]
    assert "runs inside this process" in result.stderr


def test_ask_script_example_and_its_keys(tmp_path: Path) -> None:
    """Answered once; run again with the same key, it gets the same answers at once."""
    first = run(tmp_path, "examples/ask_script.py", "--auto-answer", "--key", "launch-1")
    assert first.returncode == 0, first.stderr
    expected = ["run key: launch-1", "name: Smoky Dawn (from admin-token)", "discount: 15%"]
    assert first.stdout.splitlines() == [*expected, "published"]
    again = run(tmp_path, "examples/ask_script.py", "--key", "launch-1")  # nobody answers
    assert again.returncode == 0, again.stderr
    assert again.stdout.splitlines() == [*expected, "published"]
