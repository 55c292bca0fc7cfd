"""Answers from an email's link: a signed, expiring, single-use token.

Opening the link shows the question and the answer to confirm (a scanner that fetches
the link answers nothing); confirming posts it, and the code behind the token is used up
with the answer, in one transaction. The token names the request and the user it was
sent to: it answers as that user, under the same rules as the desk.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from inloop.domain.channels import ChannelKind
from inloop.domain.errors import AuthenticationError, ConflictError, NotFoundError
from inloop.domain.requests import Request
from inloop.server.channels.render import Card
from inloop.server.services.inbound import Inbound, Result, Sender
from inloop.server.store import answer_codes as code_sql
from inloop.server.store.answer_codes import AnswerCode


@dataclass(frozen=True)
class Link:
    request: Request
    code: AnswerCode
    card: Card


class EmailInbound:
    def __init__(self, inbound: Inbound) -> None:
        self.inbound = inbound

    async def open(self, token: str) -> Link:
        """The request a link answers; AuthenticationError if forged or expired,
        ConflictError if used already."""
        claims = self.inbound.codes.read_link(token, self.inbound.clock.now())
        code = await self.inbound.db.read(code_sql.get, str(claims["jti"]))
        if code is None or code.request_id != claims["rid"] or code.user_handle != claims["sub"]:
            raise AuthenticationError("this answer link is not valid", field="token")
        if code.used_at is not None:
            raise ConflictError(
                "this answer link was used already: each works once", code="code_used"
            )
        request = await self.inbound.request(code.request_id)
        return Link(request, code, await self.inbound.card(request))

    async def submit(self, token: str, answer: Any) -> Result:
        link = await self.open(token)
        record, _ = await self.inbound.channel(link.code.channel, ChannelKind.EMAIL)
        sender = Sender(
            address=link.code.address,
            via={"channel": "email", "channel_name": record.name,
                 "user_id": link.code.address, "user_name": link.code.user_handle},
        )  # fmt: skip
        if record.name != link.code.channel:
            raise NotFoundError("the link's channel is gone", field="token")
        return await self.inbound.answer(
            record, sender, link.request.id, answer, code=link.code, handle=link.code.user_handle
        )
