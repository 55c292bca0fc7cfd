"""What every client command shares: the connection, exit codes, errors and output."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from enum import IntEnum
from typing import Any, NoReturn

import typer
from pydantic import BaseModel
from rich.console import Console
from rich.markup import escape

from inloop.client import Client
from inloop.client._base import DEFAULT_URL
from inloop.errors import (
    AuthenticationError,
    BadRequestError,
    InloopError,
    InvalidError,
    NoAnswerError,
    PermissionDeniedError,
    ServerError,
    TransportError,
    UsageError,
    WaitTimeoutError,
)


class ExitCode(IntEnum):
    """What ``inloop`` exits with; documented in docs/cli.md."""

    OK = 0
    REJECTED = 1  # also: the command failed (not found, conflict)
    USAGE = 2
    NO_ANSWER = 3
    UNAVAILABLE = 4  # cannot reach the server, bad credentials, server error
    INTERRUPTED = 130


@dataclass(frozen=True)
class Settings:
    """The global options, kept on the Typer context."""

    server: str = DEFAULT_URL
    token: str | None = None


def make_client(server: str, token: str | None) -> Client:
    """The client every command uses; tests replace this to talk to a fake server."""
    return Client(server, token)


@contextmanager
def connect(ctx: typer.Context) -> Iterator[Client]:
    """A client for the command; SDK errors become a red line and an exit code."""
    settings = ctx.obj if isinstance(ctx.obj, Settings) else Settings()
    try:
        with make_client(settings.server, settings.token) as client:
            yield client
    except InloopError as exc:
        fail(str(exc), exit_code(exc))


def exit_code(exc: InloopError) -> ExitCode:
    """The exit code an SDK error stands for."""
    if isinstance(exc, UsageError | BadRequestError | InvalidError):
        return ExitCode.USAGE
    if isinstance(exc, NoAnswerError | WaitTimeoutError):
        return ExitCode.NO_ANSWER
    unavailable = TransportError | AuthenticationError | PermissionDeniedError | ServerError
    if isinstance(exc, unavailable):
        return ExitCode.UNAVAILABLE
    return ExitCode.REJECTED


def fail(message: str, code: ExitCode) -> NoReturn:
    """Print one red line to stderr and exit with ``code``."""
    stderr().print(f"Error: {message}", style="red", markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def parse_json(text: str, option: str) -> Any:
    """Parse an option's JSON text, or fail as a usage error saying which option."""
    try:
        return json.loads(text)
    except ValueError as exc:
        fail(f"{option} is not valid JSON: {exc}", ExitCode.USAGE)


def stdout() -> Console:
    return Console(soft_wrap=False)


def stderr() -> Console:
    return Console(stderr=True)


def echo_json(value: BaseModel | Sequence[BaseModel] | dict[str, Any]) -> None:
    """Print JSON to stdout, plain, for scripts to read."""
    typer.echo(json.dumps(jsonable(value), indent=2, ensure_ascii=False))


def jsonable(value: Any) -> Any:
    """Models, and the dicts and lists holding them, as plain JSON values."""
    if isinstance(value, BaseModel):
        # The SDK keeps fields a newer server sends that its models do not name yet.
        return value.model_dump(mode="json") | jsonable(value.model_extra or {})
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


def as_text(value: Any) -> str:
    """A value as a person reads it: strings bare, everything else as JSON."""
    if isinstance(value, str):
        return value
    return json.dumps(jsonable(value), ensure_ascii=False)


def done(message: str) -> None:
    """Report a change that succeeded."""
    stdout().print(f"[green]✓[/] {escape(message)}", highlight=False)
