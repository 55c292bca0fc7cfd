"""``inloop serve``: migrate, bootstrap the first admin key, print where to go, run."""

from __future__ import annotations

import uvicorn
from rich.console import Console
from rich.panel import Panel

from inloop.server.app import create_app
from inloop.server.config import Settings
from inloop.server.services import build_services
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
    console.print(Panel("\n".join(lines), title="Inloop", expand=False))
    uvicorn.run(
        create_app(settings, services=services),
        host=settings.host,
        port=settings.port,
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=5,
    )
