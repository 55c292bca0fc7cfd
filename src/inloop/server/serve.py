"""``inloop serve``: migrate, bootstrap the first admin key, print where to go, run."""

from __future__ import annotations

import gc
import os
from pathlib import Path

import uvicorn
from rich.console import Console
from rich.panel import Panel
from starlette.types import ASGIApp

from inloop.server.app import create_app
from inloop.server.config import Settings
from inloop.server.services import Services, build_services
from inloop.server.store.migrations import upgrade


def run(settings: Settings) -> None:
    console = Console(stderr=True)
    upgrade(settings.database_url)
    services = build_services(settings)
    created = services.identity.bootstrap()
    lines = [
        f"Inloop is running at [bold]{settings.public_url}[/]",
        f"API docs: {settings.public_url}/docs",
        f"Database: {settings.safe_database_url}",
    ]
    if created is not None:
        lines += [
            "",
            "An admin API key was created for this new installation. It is shown only now:",
            f"  [bold yellow]{created.secret}[/]",
            f"  export INLOOP_URL={settings.public_url} INLOOP_TOKEN={created.secret}",
        ]
    elif settings.admin_token:
        lines.append("Admin credentials: the INLOOP_ADMIN_TOKEN value (Bearer token)")
    lines += _desk_lines(services, settings)
    console.print(Panel("\n".join(lines), title="Inloop", expand=False))
    run_app(create_app(settings, services=services), settings)


def _desk_lines(services: Services, settings: Settings) -> list[str]:
    """With INLOOP_ADMIN_PASSWORD_FILE and no users yet, create the desk's admin user."""
    lines = ["", f"Desk: [bold]{settings.public_url}/desk[/]"]
    name = os.environ.get("INLOOP_ADMIN_PASSWORD_FILE")
    if not name:
        return lines
    path = Path(name)
    created = services.sessions.bootstrap_admin(path)
    if created is not None or path.is_file():
        password = created or path.read_text().strip()
        lines.append(
            f"Desk sign-in: [bold]admin[/] / [bold yellow]{password}[/] "
            f"(the first password, kept in {path})"
        )
    return lines


def run_app(app: ASGIApp, settings: Settings) -> None:
    """Serve ``app`` with uvicorn, tuned for many small requests."""
    # What start-up allocated lives as long as the process: keep the collector off it,
    # and collect the young generation less often (most request garbage is freed by
    # reference counting anyway). This removes pauses of tens of milliseconds.
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_level="warning",
        access_log=False,
        proxy_headers=False,
        timeout_graceful_shutdown=5,
    )
