"""``inloop serve`` with INLOOP_ADMIN_PASSWORD_FILE (what ``make run`` sets): the first
start makes the desk's admin and prints the password (that it is made only once is
checked in test_sessions.py)."""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

import httpx
import pytest

from tests.support import Databases, ServerProcess

pytestmark = pytest.mark.e2e


def test_make_run_prints_credentials_that_sign_in(
    databases: Databases, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The printed password is in a mode-600 file and signs in to the desk as an admin."""
    secret = tmp_path / "home" / "admin-password"
    monkeypatch.setenv("INLOOP_ADMIN_PASSWORD_FILE", str(secret))
    monkeypatch.setenv("COLUMNS", "200")
    server = ServerProcess(databases.sqlite(tmp_path / "inloop.db"), tmp_path).start()
    try:
        password = secret.read_text().strip()
        assert stat.S_IMODE(os.stat(secret).st_mode) == 0o600
        log = server.log.read_text()
        assert f"{server.url}/desk" in log and password in log
        with httpx.Client(base_url=server.url) as browser:
            page = browser.get("/desk/login")
            token = re.search(r'name="login_token" value="([^"]+)"', page.text)
            assert token is not None
            form = {"handle": "admin", "password": password, "login_token": token[1]}
            assert browser.post("/desk/login", data=form).status_code == 303
            assert "Admin" in browser.get("/desk").text  # the admin link of the nav
    finally:
        server.stop()
