"""The examples run with one command each, with zero set-up (embedded mode)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).parents[2]
EXAMPLES = {
    "single_approval.py": (
        [],
        ["asked: 'Please enter your feedback:'", "feedback received: ship it"],
    ),
    "multistep_approval.py": (
        [],
        ["First response: yes", "Second response: quite sure", "both answered"],
    ),
    "dynamic_hitl.py": (["I want a confirmation"], ["asked (confirmation)", "Confirmation: Yes"]),
}


def test_examples_run_with_auto_answer(tmp_path: Path) -> None:
    """Each example, started as documented with --auto-answer, pauses, is answered, ends."""
    env = {k: v for k, v in os.environ.items() if k not in ("INLOOP_URL", "INLOOP_TOKEN")}
    running = {}
    for name, (args, _) in EXAMPLES.items():
        home = tmp_path / name  # one embedded server (and database) each: they run at once
        running[name] = subprocess.Popen(
            [sys.executable, str(ROOT / "examples" / name), *args, "--auto-answer"],
            cwd=ROOT,
            env={**env, "INLOOP_HOME": str(home)},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
    for name, process in running.items():
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
        for expected in EXAMPLES[name][1]:
            assert expected in out, (name, out, err)
        assert "INLOOP_URL" in err  # embedded mode says how to answer from elsewhere
