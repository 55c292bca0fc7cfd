"""One-time answer credentials for the channels without a login: signed email links and
SMS reply codes, each bound to one request, one user and the address it was sent to.

An email link is a JWT (HS256, with a key derived from the server key for this purpose
only) naming the code's row; the row makes it single-use. An SMS code is four characters
of an alphabet without look-alikes; it is valid only in a reply from the number it was
sent to (Twilio signs that), and used once.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any

import jwt
from sqlalchemy import Connection

from inloop.domain.errors import AuthenticationError, ConflictError
from inloop.domain.ids import new_id
from inloop.server.secrets import Keyring
from inloop.server.store import answer_codes as sql
from inloop.server.store.answer_codes import AnswerCode

ALPHABET = "ACDEFHJKMNPRTUVWXY34679"
CODE_LENGTH = 4
AUDIENCE = "inloop:answer"
PURPOSE = "answer-links"


class AnswerCodes:
    def __init__(self, keyring: Keyring, *, base_url: str) -> None:
        self.keyring = keyring
        self.base_url = base_url

    def new_row(
        self,
        conn: Connection,
        *,
        channel: str,
        request_id: str,
        handle: str,
        address: str,
        now: datetime,
        ttl: timedelta,
        with_code: bool,
    ) -> dict[str, Any]:
        """A code row to insert (by the caller, once its delivery is new)."""
        code = None
        if with_code:
            taken = {c.code for c in sql.open_for(conn, channel, address, now)}
            code = _fresh(taken)
        return {
            "id": new_id("ac", now),
            "channel": channel,
            "request_id": request_id,
            "user_handle": handle,
            "address": address,
            "code": code,
            "created_at": now,
            "expires_at": now + ttl,
            "used_at": None,
        }

    def link(self, code_id: str, request_id: str, handle: str, expires_at: datetime) -> str:
        claims = {
            "jti": code_id,
            "rid": request_id,
            "sub": handle,
            "aud": AUDIENCE,
            "exp": int(expires_at.timestamp()),
        }
        token = jwt.encode(claims, self.keyring.signing_keys(PURPOSE)[0], algorithm="HS256")
        return f"{self.base_url}/desk/answer/{token}"

    def read_link(self, token: str, now: datetime) -> dict[str, Any]:
        """The claims of a link's token; AuthenticationError if forged or expired."""
        for key in self.keyring.signing_keys(PURPOSE):
            try:
                claims: dict[str, Any] = jwt.decode(
                    token,
                    key,
                    algorithms=["HS256"],
                    audience=AUDIENCE,
                    options={"require": ["exp", "jti", "rid", "sub"], "verify_exp": False},
                )
            except jwt.InvalidTokenError:
                continue
            if claims["exp"] < now.timestamp():
                raise AuthenticationError(
                    "this answer link has expired: answer in the desk instead", field="token"
                )
            return claims
        raise AuthenticationError("this answer link is not valid", field="token")

    @staticmethod
    def use(conn: Connection, code: AnswerCode, now: datetime) -> None:
        """Use the code up, in the caller's transaction (with the answer it carries)."""
        if code.used_at is not None or not sql.use(conn, code.id, now):
            raise ConflictError(
                "this answer link (or code) was used already: each works once",
                field="token",
                code="code_used",
            )


def _fresh(taken: set[str | None]) -> str:
    while True:
        code = "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))
        if code not in taken:
            return code


def card_extras(codes: AnswerCodes, payload: dict[str, Any] | None, kind: str, *,
                request_id: str | None, handle: str | None) -> dict[str, Any]:  # fmt: skip
    """What a notice's card shows of its code: an email's link, an SMS's code (and link)."""
    if not payload or "code_id" not in payload or request_id is None or handle is None:
        return {}
    expires = datetime.fromisoformat(payload["expires"])
    link = codes.link(payload["code_id"], request_id, handle, expires)
    if kind == "sms":
        return {"code": payload.get("code"), "answer_url": link}
    return {"answer_url": link}
