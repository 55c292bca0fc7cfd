from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import ServerProcess


@pytest.fixture
def server(database_url: str, tmp_path: Path) -> Iterator[ServerProcess]:
    """A real ``inloop serve`` process on a fresh database (SQLite, then PostgreSQL)."""
    process = ServerProcess(database_url, tmp_path).start()
    yield process
    process.stop()
