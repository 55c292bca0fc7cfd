"""``teams``: Adaptive Cards through the Bot Connector REST API, and its JWTs checked.

Sending: a client-credentials token for the bot (cached until shortly before it expires),
then ``POST /v3/conversations`` to start a thread in a channel (or a chat with a user) and
``PUT .../activities/{id}`` to update the card in place. Receiving: every activity comes
with a JWT that must be signed by a key of the Bot Connector's OpenID metadata (endorsed
for the activity's channel), issued by ``https://api.botframework.com``, for this bot's
app id, unexpired (5 minutes of skew), and naming the activity's ``serviceUrl``.
"""

from __future__ import annotations

import json
import time
from datetime import datetime
from typing import Any

import httpx
import jwt

from inloop.domain.channels import TeamsConfig
from inloop.domain.enums import Kind
from inloop.server.channels.base import DeliveryError, Outgoing, Sent, excerpt
from inloop.server.channels.render import Card

SCOPE = "https://api.botframework.com/.default"
ISSUER = "https://api.botframework.com"
SKEW_SECONDS = 300
KEYS_FOR = 24 * 3600.0  # the connector's keys change rarely; refetched on an unknown key id
REFETCH_AFTER = 300.0
CARD = "application/vnd.microsoft.card.adaptive"


class TeamsAdapter:
    def __init__(
        self,
        config: TeamsConfig,
        secrets: dict[str, str],
        http: httpx.AsyncClient,
        state: dict[str, Any],
    ) -> None:
        self.config = config
        self.password = secrets["app_password"]
        self.http = http
        self.state = state

    async def _token(self) -> str:
        key = f"teams-token:{self.config.app_id}:{self.config.token_url}"
        cached = self.state.get(key)
        if cached is not None and cached[1] > time.monotonic():
            return str(cached[0])
        response = await self._http(
            "POST",
            str(self.config.token_url),
            data={
                "grant_type": "client_credentials",
                "client_id": self.config.app_id,
                "client_secret": self.password,
                "scope": SCOPE,
            },
            what="the bot's token",
        )
        body = response.json()
        expires = float(body.get("expires_in", 3600))
        self.state[key] = (body["access_token"], time.monotonic() + max(60.0, expires - 300))
        return str(body["access_token"])

    async def _http(self, method: str, url: str, *, what: str, **kwargs: Any) -> httpx.Response:
        try:
            response = await self.http.request(method, url, timeout=self.config.timeout, **kwargs)
        except httpx.HTTPError as exc:
            raise DeliveryError(f"could not reach {what}: {type(exc).__name__}: {exc}") from None
        if response.is_success:
            return response
        status = response.status_code
        if status in (401, 403):
            self.state.pop(f"teams-token:{self.config.app_id}:{self.config.token_url}", None)
        retry_after = response.headers.get("retry-after")
        raise DeliveryError(
            f"{what} answered {status}",
            retryable=status in (401, 403, 408, 429) or status >= 500,
            status_code=status,
            retry_after=float(retry_after) if retry_after and retry_after.isdigit() else None,
            response=excerpt(response.text),
        )

    async def _connector(self, method: str, url: str, body: dict[str, Any]) -> dict[str, Any]:
        token = await self._token()
        response = await self._http(
            method, url, json=body, headers={"Authorization": f"Bearer {token}"},
            what="the Bot Connector",
        )  # fmt: skip
        found: dict[str, Any] = response.json() if response.content else {}
        return found

    async def deliver(self, out: Outgoing) -> Sent:
        target = out.target or {}
        service = str(target.get("service_url") or self.config.service_url).rstrip("/")
        tenant = target.get("tenant_id") or self.config.tenant_id
        if out.event is not None and out.card is None:
            return await self._reply(out.event)
        if out.card is not None:
            activity: dict[str, Any] = {
                "type": "message",
                "summary": f"{out.card.title}",
                "attachments": [{"contentType": CARD, "content": adaptive_card(out.card)}],
            }
        elif out.message is not None:
            activity = {"type": "message", "text": str(out.message["text"])}
        else:
            raise DeliveryError("nothing to send", retryable=False)
        if out.previous is not None:
            prev = out.previous
            url = (
                f"{prev['service_url']}/v3/conversations/{prev['conversation_id']}"
                f"/activities/{prev['activity_id']}"
            )
            await self._connector("PUT", url, {**activity, "id": prev["activity_id"]})
            return Sent(ref=prev, ref_key=ref_key(prev["activity_id"]))
        if not out.address:
            raise DeliveryError("no Teams channel or user to post to", retryable=False)
        bot = {"id": f"28:{target.get('bot_id') or self.config.app_id}"}
        if out.address.startswith("19:"):  # a channel: start a thread there
            made = await self._connector(
                "POST",
                f"{service}/v3/conversations",
                {
                    "isGroup": True,
                    "bot": bot,
                    "channelData": {"channel": {"id": out.address}, "tenant": {"id": tenant}},
                    "tenantId": tenant,
                    "activity": activity,
                },
            )
            conversation, activity_id = str(made["id"]), str(made.get("activityId", ""))
        else:  # a person: a one-to-one chat with the bot
            made = await self._connector(
                "POST",
                f"{service}/v3/conversations",
                {
                    "isGroup": False,
                    "bot": bot,
                    "members": [{"id": out.address}],
                    "channelData": {"tenant": {"id": tenant}},
                    "tenantId": tenant,
                },
            )
            conversation = str(made["id"])
            sent = await self._connector(
                "POST", f"{service}/v3/conversations/{conversation}/activities", activity
            )
            activity_id = str(sent["id"])
        ref = {"service_url": service, "conversation_id": conversation, "activity_id": activity_id}
        return Sent(ref=ref, ref_key=ref_key(activity_id))

    async def _reply(self, event: dict[str, Any]) -> Sent:
        """A note in reply to someone's activity (an answer refused, say)."""
        url = (
            f"{str(event['service_url']).rstrip('/')}/v3/conversations/{event['conversation_id']}"
            f"/activities/{event['reply_to']}"
        )
        body = {"type": "message", "text": event["text"], "replyToId": event["reply_to"]}
        await self._connector("POST", url, body)
        return Sent()

    async def aclose(self) -> None:
        return None


def ref_key(activity_id: str) -> str:
    return f"teams:{activity_id}"


def _text(value: str) -> str:
    """Agent text for a TextBlock: its markdown subset escaped, so no links are forged."""
    for char in "\\*_[]()#>`~":
        value = value.replace(char, "\\" + char)
    return value


def adaptive_card(card: Card) -> dict[str, Any]:
    body: list[dict[str, Any]] = [
        {
            "type": "TextBlock",
            "text": _text(card.title),
            "weight": "Bolder",
            "size": "Medium",
            "wrap": True,
        }
    ]
    if not card.closed:
        body.append(
            {"type": "TextBlock", "text": _text(f"{card.reason} · priority {card.priority}"),
             "isSubtle": True, "spacing": "None", "wrap": True}
        )  # fmt: skip
    body.append({"type": "TextBlock", "text": _text(card.prompt), "wrap": True})
    if card.fields:
        body.append(
            {
                "type": "FactSet",
                "facts": [{"title": _text(k), "value": _text(v)} for k, v in card.fields],
            }
        )
    actions: list[dict[str, Any]] = []
    if card.closed:
        body.append(
            {"type": "TextBlock", "text": _text(f"✔ {card.outcome}"), "color": "Good",
             "weight": "Bolder", "wrap": True}
        )  # fmt: skip
    else:
        answer: dict[str, Any] = {"request_id": card.request_id}
        if card.kind in (Kind.INPUT, Kind.CHAT):
            body.append({"type": "Input.Text", "id": "answer", "isMultiline": True,
                         "placeholder": "Your answer"})  # fmt: skip
            actions.append(_submit("Send", {**answer, "input": "answer"}))
        elif card.kind == Kind.FORM:
            body += _inputs(card.schema or {})
            actions.append(_submit("Send", {**answer, "form": True}))
        else:
            for value, label in card.options:
                chosen: Any = value
                if card.kind == Kind.CONFIRMATION:
                    chosen = value == "true"
                actions.append(_submit(label, {**answer, "answer": chosen}))
        actions.append({"type": "Action.OpenUrl", "title": "Open in Inloop", "url": card.desk_url})
    content: dict[str, Any] = {
        "type": "AdaptiveCard",
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "version": "1.4",
        "body": body,
    }
    if actions:
        content["actions"] = actions
    return content


def _submit(title: str, inloop: dict[str, Any]) -> dict[str, Any]:
    return {"type": "Action.Submit", "title": title[:100], "data": {"inloop": inloop}}


def _inputs(schema: dict[str, Any]) -> list[dict[str, Any]]:
    properties = schema.get("properties") or {}
    required = set(schema.get("required") or [])
    inputs = []
    for name, spec in list(properties.items())[:20]:
        spec = spec if isinstance(spec, dict) else {}
        label = str(spec.get("title") or str(name).replace("_", " ").capitalize())
        item: dict[str, Any] = {
            "id": f"field:{name}",
            "label": label,
            "isRequired": name in required,
        }
        if isinstance(spec.get("enum"), list):
            item.update(type="Input.ChoiceSet", choices=[
                {"title": str(v), "value": json.dumps(v)} for v in spec["enum"][:100]
            ])  # fmt: skip
        elif spec.get("type") == "boolean":
            item.update(type="Input.Toggle", title=label, valueOn="true", valueOff="false")
        elif spec.get("type") in ("integer", "number"):
            item.update(type="Input.Number")
        else:
            item.update(type="Input.Text")
        inputs.append(item)
    return inputs


def read_form(schema: dict[str, Any] | None, value: dict[str, Any]) -> dict[str, Any]:
    """The answer of a submitted form card, typed as the schema says."""
    properties = (schema or {}).get("properties") or {}
    answer: dict[str, Any] = {}
    for key, raw in value.items():
        if not key.startswith("field:") or raw in (None, ""):
            continue
        name = key.removeprefix("field:")
        spec = properties.get(name, {}) if isinstance(properties, dict) else {}
        if isinstance(spec.get("enum"), list):
            answer[name] = json.loads(str(raw))
        elif spec.get("type") == "boolean":
            answer[name] = str(raw) == "true"
        elif spec.get("type") == "integer":
            answer[name] = int(float(raw))
        elif spec.get("type") == "number":
            answer[name] = float(raw)
        else:
            answer[name] = str(raw)
    return answer


class AuthError(Exception):
    """The activity's token is not the Bot Connector's for this bot."""


class ConnectorAuth:
    """Checks the JWT of incoming activities against the Bot Connector's published keys."""

    def __init__(self, state: dict[str, Any]) -> None:
        self.state = state  # the keys, by metadata URL: fetched once a day at most

    async def verify(
        self, header: str | None, activity: dict[str, Any], config: TeamsConfig, now: datetime
    ) -> dict[str, Any]:
        scheme, _, token = (header or "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise AuthError("no Bearer token from the Bot Connector")
        try:
            kid = jwt.get_unverified_header(token).get("kid")
        except jwt.InvalidTokenError:
            raise AuthError("the token is not a JWT") from None
        key = await self._key(str(config.openid_metadata), kid)
        endorsements = key.get("endorsements")
        channel = str(activity.get("channelId", ""))
        if endorsements is not None and channel not in endorsements:
            raise AuthError(f"the signing key is not endorsed for channel {channel!r}")
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                jwt.PyJWK(key, algorithm="RS256").key,
                algorithms=["RS256"],
                audience=config.app_id,
                issuer=ISSUER,
                # Time is checked below against the server's clock, not the wall's.
                options={"verify_exp": False, "verify_nbf": False, "verify_iat": False,
                         "require": ["exp", "iss", "aud"]},
            )  # fmt: skip
        except jwt.InvalidTokenError as exc:
            raise AuthError(f"the token does not verify: {exc}") from None
        moment = now.timestamp()
        if float(claims["exp"]) + SKEW_SECONDS < moment:
            raise AuthError("the token has expired")
        if "nbf" in claims and float(claims["nbf"]) - SKEW_SECONDS > moment:
            raise AuthError("the token is not valid yet")
        named = str(claims.get("serviceurl") or claims.get("serviceUrl") or "").rstrip("/")
        if named != str(activity.get("serviceUrl", "")).rstrip("/"):
            raise AuthError("the token's serviceUrl is not the activity's")
        return claims

    async def _key(self, metadata: str, kid: Any) -> dict[str, Any]:
        keys = await self._keys(metadata, refresh=False)
        found = next((k for k in keys if k.get("kid") == kid), None)
        if found is None:
            keys = await self._keys(metadata, refresh=True)
            found = next((k for k in keys if k.get("kid") == kid), None)
        if found is None:
            raise AuthError("the token is signed by a key the Bot Connector does not publish")
        return found

    async def _keys(self, metadata: str, *, refresh: bool) -> list[dict[str, Any]]:
        cached = self.state.get(f"jwks:{metadata}")
        if cached and time.monotonic() - cached[1] < (REFETCH_AFTER if refresh else KEYS_FOR):
            return list(cached[0])
        try:
            async with httpx.AsyncClient(follow_redirects=False, timeout=10) as http:
                meta = (await http.get(metadata)).raise_for_status().json()
                jwks = (await http.get(meta["jwks_uri"])).raise_for_status().json()
        except (httpx.HTTPError, ValueError, KeyError) as exc:
            if cached:
                return list(cached[0])
            raise AuthError(f"the Bot Connector's keys could not be read: {exc}") from None
        keys = [k for k in jwks.get("keys", []) if isinstance(k, dict)]
        self.state[f"jwks:{metadata}"] = (keys, time.monotonic())
        return keys
