"""A new installation without INLOOP_ADMIN_TOKEN prints one admin key, once."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

import inloop
from tests.support import ServerProcess

pytestmark = pytest.mark.e2e


def test_first_start_prints_an_admin_key_once(tmp_path: Path) -> None:
    """The printed key works with the SDK and CLI; a restart prints no other key."""
    server = ServerProcess(f"sqlite:///{tmp_path}/fresh.db", tmp_path, token="")
    server.start(admin_token=False)
    try:
        keys = sorted(
            set(re.findall(r"(ak_[0-9a-z]{26}\.[A-Za-z0-9_-]{43})", server.log.read_text()))
        )
        assert len(keys) == 1
        with inloop.Client(server.url, keys[0]) as client:
            assert client.me().scopes == ["admin"]
            created = client.create_key("agent", ["agent"])
        assert (
            httpx.get(
                f"{server.url}/v1/me", headers={"Authorization": f"Bearer {created.secret}"}
            ).status_code
            == 200
        )
        server.stop()
        server.start(admin_token=False)
        assert set(re.findall(r"ak_[0-9a-z]{26}\.", server.log.read_text())) == {keys[0][:30]}
        assert httpx.get(f"{server.url}/v1/me").status_code == 401
    finally:
        server.stop()
