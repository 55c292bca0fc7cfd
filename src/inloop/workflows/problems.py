"""What is wrong with a workflow definition: a JSON path and a message that says the fix."""

from __future__ import annotations

from pydantic import BaseModel

from inloop.errors import UsageError


class Problem(BaseModel):
    """One problem: ``path`` is where (``nodes[2].prompt``, ``edges[0].when``; empty for
    the whole document), ``message`` what is wrong and how to fix it."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class WorkflowError(UsageError):
    """A definition that cannot run; ``problems`` lists every problem found."""

    def __init__(self, problems: list[Problem], *, source: str | None = None) -> None:
        self.problems = problems
        self.source = source
        head = f"{source}: " if source else ""
        count = f"{len(problems)} problems" if len(problems) != 1 else "1 problem"
        lines = "\n".join(f"  {p}" for p in problems)
        super().__init__(f"{head}the workflow has {count}:\n{lines}")
