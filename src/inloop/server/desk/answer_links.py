"""The page behind an email's answer link (``/desk/answer/{token}``): no sign-in, the
signed token is the credential. GET shows the question and the answer to confirm; only
the POST answers, so a mail scanner fetching the link changes nothing."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from inloop.domain.enums import Kind
from inloop.server.api.deps import ServicesDep
from inloop.server.channels.teams import read_form
from inloop.server.desk.auth import DeskRoute, render
from inloop.server.services.inbound import Answered

router = APIRouter(route_class=DeskRoute)


def _fields(schema: dict[str, Any] | None) -> list[dict[str, Any]]:
    properties = (schema or {}).get("properties") or {}
    required = set((schema or {}).get("required") or [])
    fields = []
    for name, spec in list(properties.items())[:30]:
        spec = spec if isinstance(spec, dict) else {}
        fields.append(
            {
                "name": f"field:{name}",
                "label": str(spec.get("title") or str(name).replace("_", " ").capitalize()),
                "type": spec.get("type", "string"),
                "enum": spec.get("enum") if isinstance(spec.get("enum"), list) else None,
                "required": name in required,
            }
        )
    return fields


@router.get("/answer/{token}")
async def answer_page(
    request: Request, token: str, services: ServicesDep, answer: str | None = None
) -> Response:
    link = await services.email_inbound.open(token)
    chosen = next((o for o in link.card.options if o[0] == answer), None)
    return render(
        request,
        "answer.html",
        {"card": link.card, "chosen": chosen, "fields": _fields(link.card.schema), "result": None},
    )


@router.post("/answer/{token}")
async def answer(request: Request, token: str, services: ServicesDep) -> Response:
    link = await services.email_inbound.open(token)
    form = {k: str(v) for k, v in (await request.form()).items()}
    value: Any = form.get("answer", "")
    if link.request.kind == Kind.FORM:
        value = read_form(link.request.response_schema, form)
    elif link.request.kind == Kind.CONFIRMATION:
        value = value == "true"
    result = await services.email_inbound.submit(token, value)
    if isinstance(result, Answered):
        card = await services.inbound.card(result.request)
        return render(request, "answer.html", {"card": card, "result": "answered", "fields": []})
    return render(
        request,
        "answer.html",
        {"card": link.card, "result": "refused", "error": result.message, "chosen": None,
         "fields": _fields(link.card.schema)},
        status_code=409 if result.code in ("request_closed", "code_used") else 422,
    )  # fmt: skip
