"""``inloop serve`` and ``inloop db upgrade``: the commands that need the server extra."""

from __future__ import annotations

from typing import Annotated

import typer

DbOption = Annotated[
    str | None,
    typer.Option(
        "--db",
        envvar="INLOOP_DATABASE_URL",
        help="Database URL: sqlite:///path.db or postgresql://... "
        "[default: sqlite under .inloop/inloop.db]",
    ),
]


def register(app: typer.Typer) -> None:
    """Add the server's commands to the CLI."""
    app.command(help="Run the Inloop server (migrates the database first).")(serve)
    db = typer.Typer(help="Database maintenance.", no_args_is_help=True)
    db.command("upgrade", help="Apply the database migrations, then exit.")(upgrade)
    app.add_typer(db, name="db")


def serve(
    host: Annotated[str, typer.Option(envvar="INLOOP_HOST")] = "127.0.0.1",
    port: Annotated[int, typer.Option(envvar="INLOOP_PORT")] = 8000,
    db: DbOption = None,
) -> None:
    from inloop.server.config import Settings
    from inloop.server.serve import run

    run(Settings.from_env(database_url=db, host=host, port=port))


def upgrade(db: DbOption = None) -> None:
    from rich.console import Console

    from inloop.server.config import Settings
    from inloop.server.store.migrations import upgrade as migrate

    settings = Settings.from_env(database_url=db)
    migrate(settings.database_url)
    Console(stderr=True).print(f"[green]Database at {settings.safe_database_url} is up to date.")
