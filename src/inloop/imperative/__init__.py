"""The imperative SDK, for code that is not a workflow: ask, confirm, approve a tool call.

Each has a blocking and an asyncio form (``ask``/``aask``, ``confirm``/``aconfirm``,
``human_as_tool``/``ahuman_as_tool``; ``require_approval`` serves both kinds of function).
They use ``client=`` when given, else ``inloop.embedded.default_client()``: the server at
``$INLOOP_URL``, or one started inside the process.
"""

from inloop.imperative._approval import ApprovalDenied, EditError, require_approval
from inloop.imperative._asking import aask, aconfirm, ask, confirm
from inloop.imperative._tool import ahuman_as_tool, human_as_tool

__all__ = [
    "ApprovalDenied",
    "EditError",
    "aask",
    "aconfirm",
    "ahuman_as_tool",
    "ask",
    "confirm",
    "human_as_tool",
    "require_approval",
]
