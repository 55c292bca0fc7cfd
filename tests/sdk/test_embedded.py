"""Embedded mode: no INLOOP_URL runs a server in the process; INLOOP_URL talks to a real one."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.support import ServerProcess

pytestmark = pytest.mark.e2e  # starts real processes

SCRIPT = textwrap.dedent("""
    import asyncio, threading
    import inloop.embedded as embedded

    with embedded.default_client() as client:
        request = client.create("Ship it?", kind="approval", options=["approve", "reject"])
        def answer():
            with embedded.default_client() as other:
                other.respond(request.id, "approve", comment="go")
        threading.Thread(target=answer).start()
        done = client.wait(request.id)
        print(done.id, done.response, done.comment, client.base_url)

    async def same_server_async():
        async with embedded.default_async_client() as aclient:
            return aclient.base_url, (await aclient.get(request.id)).response

    print(*asyncio.run(same_server_async()))
""")


def run(script: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", script],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def embedded_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("INLOOP_URL", "INLOOP_TOKEN")}
    return {**env, "INLOOP_HOME": str(home)}


def test_no_url_runs_a_server_in_the_process_and_says_how_to_answer(tmp_path: Path) -> None:
    """A script with no INLOOP_URL creates and answers a request in-process, on SQLite;
    the database and the admin token outlive the process, so the next run sees it."""
    home = tmp_path / "home"
    result = run(SCRIPT, embedded_env(home), tmp_path)
    assert result.returncode == 0, result.stderr
    first, second = result.stdout.splitlines()
    request_id, response, comment, url = first.split()
    assert (response, comment) == ("approve", "go")
    assert url.startswith("http://127.0.0.1:")
    assert second.split() == [url, "approve"]  # the async client: the same server
    assert (home / "embedded.db").exists()
    token = (home / "admin-token").read_text().strip()
    assert token.startswith("adm_")
    assert (home / "admin-token").stat().st_mode & 0o077 == 0
    # Printed once, on stderr, with what a human needs to answer from elsewhere.
    assert result.stderr.count("runs inside this process") == 1
    assert f"export INLOOP_URL={url}" in result.stderr
    assert "inloop requests respond" in result.stderr

    again = textwrap.dedent(f"""
        import inloop.embedded as embedded
        with embedded.default_client() as client:
            print(client.get({request_id!r}).response)
    """)
    second_run = run(again, embedded_env(home), tmp_path)
    assert second_run.returncode == 0, second_run.stderr
    assert second_run.stdout.strip() == "approve"


def test_with_inloop_url_the_same_script_talks_to_a_real_server(tmp_path: Path) -> None:
    """With INLOOP_URL (and INLOOP_TOKEN) nothing runs in-process: the request is on the server."""
    server = ServerProcess(f"sqlite:///{tmp_path / 'server.db'}", tmp_path).start()
    try:
        env = {**server.env(), "INLOOP_HOME": str(tmp_path / "home")}
        result = run(SCRIPT, env, tmp_path)
        assert result.returncode == 0, result.stderr
        request_id, response, _, url = result.stdout.splitlines()[0].split()
        assert response == "approve"
        assert url == server.url
        assert "runs inside this process" not in result.stderr
        assert not (tmp_path / "home").exists()
        with server.client() as http:
            body = http.get(f"/v1/requests/{request_id}").json()
        assert body["response"] == "approve"
    finally:
        server.stop()
