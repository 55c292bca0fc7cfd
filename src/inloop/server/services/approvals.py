"""Multi-level and quorum approvals: an answer is a vote, and votes decide.

Sequential levels (``approvals``): each stage's candidates vote in turn; an approval
moves the request on, the last stage's approval resolves it, a rejection anywhere ends
it. Quorum: distinct humans vote once each; ``quorum`` approvals resolve it; with
``veto`` one rejection ends it, without it the request is rejected as soon as the
approvals can no longer reach the quorum.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from inloop.domain.durations import parse_duration
from inloop.domain.enums import EventType
from inloop.domain.errors import ConflictError
from inloop.domain.requests import APPROVAL_WORDS, Request, Vote, stage_candidates, stage_timeout
from inloop.domain.transitions import Action
from inloop.server.services.lifecycle import Lifecycle, policy_answer
from inloop.server.store import routing as routing_sql
from inloop.server.store.database import Tx


def record_vote(
    lifecycle: Lifecycle,
    tx: Tx,
    request: Request,
    actor: str,
    value: Any,
    comment: str | None,
    now: datetime,
) -> Request:
    if any(v.actor == actor and v.stage == request.stage for v in request.votes):
        raise ConflictError(
            f"{actor} has already voted on request {request.id}"
            + (f" at stage {request.stage + 1}" if request.approvals else ""),
            code="already_voted",
        )
    votes = [
        *request.votes,
        Vote(actor=actor, stage=request.stage, response=value, comment=comment, at=now),
    ]
    stored = [v.model_dump() for v in votes]
    rejected = _is_no(value)

    def close(reason: str) -> Request:
        return lifecycle.change(
            tx,
            request,
            Action.RESPOND,
            {"response": value, "comment": comment, "resolved_by": actor, "votes": stored},
            EventType.RESPONDED,
            actor=actor,
            now=now,
            reason=reason,
            data={"response": value, "votes": len(votes)},
        )

    if request.approvals:
        last = len(request.approvals) - 1
        if rejected:
            return close(f"rejected at stage {request.stage + 1} of {last + 1}")
        if request.stage == last:
            return close(f"approved at the last stage ({last + 1})")
        return _advance(lifecycle, tx, request, actor, value, comment, stored, now)

    assert request.quorum is not None
    quorum = request.quorum
    approvals = sum(1 for v in votes if not _is_no(v.response))
    if rejected and quorum.veto:
        return close(f"vetoed by {actor}")
    if approvals >= quorum.quorum:
        return close(f"quorum reached: {approvals} of {quorum.quorum} approvals")
    if not quorum.veto:
        voters = len(routing_sql.pool_members(tx.conn, quorum.of))
        undecided = max(0, voters - len(votes))
        if approvals + undecided < quorum.quorum:
            # Closed with the rejecting option, whatever the last vote was.
            value = policy_answer(request, approve=False)
            return close(
                f"the quorum of {quorum.quorum} can no longer be reached: {approvals} approvals, "
                f"{undecided} not yet voted"
            )
    return lifecycle.change(
        tx,
        request,
        None,
        {"votes": stored},
        EventType.VOTED,
        actor=actor,
        now=now,
        reason=comment,
        data={"response": value, "approvals": approvals, "quorum": quorum.quorum},
    )


def _advance(
    lifecycle: Lifecycle,
    tx: Tx,
    request: Request,
    actor: str,
    value: Any,
    comment: str | None,
    stored: list[dict[str, Any]],
    now: datetime,
) -> Request:
    stage = request.stage + 1
    candidates = stage_candidates(request, stage)
    timeout = stage_timeout(request, stage)
    request = lifecycle.change(
        tx,
        request,
        Action.ESCALATE,
        {
            "votes": stored,
            "stage": stage,
            "level": 0,
            "reminders": 0,
            "candidates": candidates,
            "assigned_to": None,
            "assigned_at": None,
            "due_at": now + parse_duration(timeout) if timeout else None,
        },
        EventType.ADVANCED,
        actor=actor,
        now=now,
        reason=f"approved at stage {stage} by {actor}; stage {stage + 1}: {', '.join(candidates)}",
        data={"response": value, "stage": stage, "comment": comment},
    )
    lifecycle.schedule(tx, request, now)
    assert request.approvals is not None
    return lifecycle.route(tx, request, request.approvals[stage].assignee, now)


def _is_no(response: Any) -> bool:
    """Fails closed, like ``Request.is_rejection``: only an approving word is a yes."""
    return not (isinstance(response, str) and response.lower() in APPROVAL_WORDS)
