"""The SDK imports without the server's dependencies, and the layers keep their import rules."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).parents[2]


def test_sdk_imports_with_the_server_dependencies_missing() -> None:
    """`import inloop` and building a Client work when fastapi, sqlalchemy & co are absent."""
    script = textwrap.dedent("""
        import sys
        blocked = {"fastapi", "starlette", "sqlalchemy", "alembic", "uvicorn", "psycopg",
                   "jsonschema", "sse_starlette", "orjson"}
        class Block:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in blocked:
                    raise ImportError(f"{name} is a server dependency")
        sys.meta_path.insert(0, Block())
        import inloop
        client = inloop.Client("http://127.0.0.1:1", token="t")
        client.close()
        leaked = blocked & {m.split(".")[0] for m in sys.modules}
        assert not leaked, leaked
        print("ok")
    """)
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_import_linter_contracts_hold() -> None:
    """The domain stays pure and the SDK never imports the server (import-linter)."""
    result = subprocess.run(["lint-imports"], cwd=ROOT, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
