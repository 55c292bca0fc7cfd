"""The Bot-in-the-Loop example runs as documented, with zero set-up (embedded mode)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).parents[2]


def test_the_example_runs_with_auto_answer(tmp_path: Path) -> None:
    """ "no" asks again, "yes" ends the run; the responder is reported."""
    env = {k: v for k, v in os.environ.items() if k not in ("INLOOP_URL", "INLOOP_TOKEN")}
    done = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "bot_in_the_loop.py"), "slack", "C0123456789",
         "--auto-answer"],
        cwd=ROOT, env={**env, "INLOOP_HOME": str(tmp_path)}, capture_output=True, text=True,
        timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "answering 'no'" in done.stdout and "What about now? Ready to proceed?" in done.stdout
    assert "'answer': 'yes'" in done.stdout
