"""``email``: SMTP through ``aiosmtplib``, a plain-text part and an HTML part.

A notice carries one signed, expiring, single-use link per answer (``/answer/{token}``):
opening it shows the answer to confirm, so a mail scanner that fetches links answers
nothing; the confirmation posts it. Agent text is escaped in the HTML part.
"""

from __future__ import annotations

import html
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from urllib.parse import quote

import aiosmtplib

from inloop.domain.channels import EmailConfig
from inloop.domain.enums import Kind
from inloop.server.channels.base import DeliveryError, Outgoing, Sent
from inloop.server.channels.render import Card


class EmailAdapter:
    def __init__(self, config: EmailConfig, secrets: dict[str, str]) -> None:
        self.config = config
        self.password = secrets.get("password")

    async def deliver(self, out: Outgoing) -> Sent:
        if not out.address:
            raise DeliveryError("no email address to send to", retryable=False)
        message = EmailMessage()
        message["From"] = self.config.from_address
        message["To"] = out.address
        message["Date"] = formatdate(out.now.timestamp(), usegmt=True)
        domain = self.config.from_address.rpartition("@")[2]
        message["Message-ID"] = make_msgid("inloop", domain=domain)
        body: str | None
        if out.card is not None:
            subject, text, body = compose(out.card)
        elif out.message is not None:
            subject = str(out.message.get("subject") or "Inloop")
            text = str(out.message["text"])
            body = str(out.message["html"]) if out.message.get("html") else None
        else:
            raise DeliveryError("nothing to send", retryable=False)
        message["Subject"] = subject
        message.set_content(text)
        if body:
            message.add_alternative(str(body), subtype="html")
        await self._send(message)
        return Sent(ref={"message_id": message["Message-ID"]})

    async def _send(self, message: EmailMessage) -> None:
        config = self.config
        try:
            await aiosmtplib.send(
                message,
                hostname=config.host,
                port=config.port,
                username=config.username,
                password=self.password,
                use_tls=config.security == "tls",
                start_tls=config.security == "starttls",
                timeout=config.timeout,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            raise DeliveryError(
                f"the SMTP server refused the address: {exc}", retryable=False
            ) from None
        except aiosmtplib.SMTPResponseException as exc:
            # 5xx is permanent for that message; 4xx (busy, greylisted) is worth a retry.
            raise DeliveryError(
                f"the SMTP server answered {exc.code}: {exc.message}",
                retryable=exc.code < 500,
                status_code=exc.code,
            ) from None
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise DeliveryError(f"could not send by SMTP: {type(exc).__name__}: {exc}") from None

    async def aclose(self) -> None:
        return None


ONCE = '<p style="color:#777">Each link works once, for you only, until it expires.</p>'


def compose(card: Card) -> tuple[str, str, str]:
    """Subject, text and HTML of a notice."""
    subject = (
        f"[Inloop] {card.title}"
        if card.reason == "New request"
        else f"[Inloop] {card.reason}: {card.title}"
    )
    links = answer_links(card)
    lines = [card.reason, "", card.title, ""]
    if card.prompt.strip() != card.title.strip():
        lines += [card.prompt, ""]
    lines += [f"{k}: {v}" for k, v in card.fields]
    if card.fields:
        lines.append("")
    for label, url in links:
        lines.append(f"{label}: {url}")
    lines += ["", f"Open in the desk: {card.desk_url}"]
    if card.answer_url:
        lines += ["", "Each link works once, for you only, until it expires."]
    esc = html.escape
    buttons = "".join(
        f'<a href="{esc(url)}" style="display:inline-block;margin:0 8px 8px 0;padding:8px 16px;'
        f'border:1px solid #335;border-radius:4px;text-decoration:none">{esc(label)}</a>'
        for label, url in links
    )
    facts = "".join(
        f"<tr><th align=left>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in card.fields
    )
    body = (
        f'<!doctype html><html><body style="font-family:sans-serif">'
        f'<p style="color:#555">{esc(card.reason)} · priority {esc(card.priority)}</p>'
        f'<h2>{esc(card.title)}</h2><p style="white-space:pre-wrap">{esc(card.prompt)}</p>'
        + (f"<table>{facts}</table>" if facts else "")
        + f'<p>{buttons}</p><p><a href="{esc(card.desk_url)}">Open in the desk</a></p>'
        + (ONCE if card.answer_url else "")
        + "</body></html>"
    )
    return subject, "\n".join(lines), body


def answer_links(card: Card) -> list[tuple[str, str]]:
    """(label, URL) per answer: one per option, or one link to a form."""
    if card.answer_url is None:
        return []
    if card.options and card.kind not in (Kind.INPUT, Kind.CHAT, Kind.FORM):
        return [
            (label, f"{card.answer_url}?answer={quote(value)}") for value, label in card.options
        ]
    return [("Answer", card.answer_url)]
