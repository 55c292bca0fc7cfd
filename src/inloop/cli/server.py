"""``inloop serve`` and ``inloop db upgrade``: the commands that need the server extra."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated

import typer

from inloop.cli._context import ExitCode, fail

if TYPE_CHECKING:
    from inloop.server.config import Settings

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
    from inloop.server.serve import run

    with _database_errors():
        run(_settings(database_url=db, host=host, port=port))


def upgrade(db: DbOption = None) -> None:
    from rich.console import Console

    from inloop.server.store.migrations import upgrade as migrate

    settings = _settings(database_url=db)
    with _database_errors():
        migrate(settings.database_url)
    Console(stderr=True).print(f"[green]Database at {settings.safe_database_url} is up to date.")


def _settings(
    database_url: str | None, host: str | None = None, port: int | None = None
) -> Settings:
    from inloop.server.config import Settings

    try:
        return Settings.from_env(database_url=database_url, host=host, port=port)
    except ValueError as exc:
        fail(str(exc), ExitCode.USAGE)


@contextmanager
def _database_errors() -> Iterator[None]:
    from sqlalchemy.exc import OperationalError

    try:
        yield
    except OperationalError as exc:
        fail(f"cannot use the database: {exc.orig or exc}", ExitCode.UNAVAILABLE)
