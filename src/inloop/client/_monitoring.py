"""The monitoring figures, ``/metrics`` and alert rules, sync and async (admin, except the
figures, which a responder acting for a user reads with only their own load)."""

from __future__ import annotations

from typing import Any, TypeVar

from inloop.client._calls import Call, items, json_body, nothing, one, segment
from inloop.domain.alerts import Alert, AlertEvent, Evaluation
from inloop.domain.monitoring import Stats

T = TypeVar("T")


def stats(since: str) -> Call[Stats]:
    return Call("GET", "/v1/stats", one(Stats), params={"since": since})


def metrics(window: str) -> Call[str]:
    return Call("GET", "/metrics", lambda r: r.text, params={"window": window})


def create_alert(fields: dict[str, Any]) -> Call[Alert]:
    return Call("POST", "/v1/alerts", one(Alert), body=json_body(fields))


def list_alerts() -> Call[list[Alert]]:
    return Call("GET", "/v1/alerts", items(Alert))


def alert(method: str, alert_id: str, body: Any = None) -> Call[Alert]:
    return Call(method, f"/v1/alerts/{segment(alert_id)}", one(Alert), body=body)


def delete_alert(alert_id: str) -> Call[None]:
    return Call("DELETE", f"/v1/alerts/{segment(alert_id)}", nothing)


def alert_events(alert_id: str) -> Call[list[AlertEvent]]:
    return Call("GET", f"/v1/alerts/{segment(alert_id)}/events", items(AlertEvent))


def evaluate_alerts() -> Call[list[Evaluation]]:
    return Call("POST", "/v1/alerts/evaluate", items(Evaluation))


def _alert_fields(
    name: str, rule: str, channel: str, to: str | None, notify_recovery: bool, enabled: bool
) -> dict[str, Any]:
    return {"name": name, "rule": rule, "channel": channel, "to": to,
            "notify_recovery": notify_recovery, "enabled": enabled}  # fmt: skip


def _changes(**given: Any) -> dict[str, Any]:
    return {k: v for k, v in given.items() if v is not None}


class SyncMonitoring:
    """Figures and alerts for ``Client``."""

    def _send(self, call: Call[T]) -> T:
        raise NotImplementedError

    def stats(self, since: str = "7d") -> Stats:
        """The monitoring figures over the last ``since`` (24h, 7d, 30d ...)."""
        return self._send(stats(since))

    def metrics(self, window: str = "1d") -> str:
        """``/metrics`` as Prometheus text (a metrics or admin key)."""
        return self._send(metrics(window))

    def create_alert(
        self,
        name: str,
        rule: str,
        channel: str,
        *,
        to: str | None = None,
        notify_recovery: bool = False,
        enabled: bool = True,
    ) -> Alert:
        """Store ``rule`` (such as ``escalation_rate > 0.15 over 7d``); its notice goes
        through ``channel`` (to ``to``, unless the channel is a webhook)."""
        return self._send(
            create_alert(_alert_fields(name, rule, channel, to, notify_recovery, enabled))
        )

    def list_alerts(self) -> list[Alert]:
        return self._send(list_alerts())

    def get_alert(self, alert_id: str) -> Alert:
        return self._send(alert("GET", alert_id))

    def update_alert(
        self,
        alert_id: str,
        *,
        rule: str | None = None,
        channel: str | None = None,
        to: str | None = None,
        notify_recovery: bool | None = None,
        enabled: bool | None = None,
    ) -> Alert:
        body = _changes(rule=rule, channel=channel, to=to, notify_recovery=notify_recovery,
                        enabled=enabled)  # fmt: skip
        return self._send(alert("PATCH", alert_id, body))

    def delete_alert(self, alert_id: str) -> None:
        self._send(delete_alert(alert_id))

    def alert_events(self, alert_id: str) -> list[AlertEvent]:
        return self._send(alert_events(alert_id))

    def evaluate_alerts(self) -> list[Evaluation]:
        """Judge every enabled rule now (a rule that starts firing notifies)."""
        return self._send(evaluate_alerts())


class AsyncMonitoring:
    """Figures and alerts for ``AsyncClient``."""

    async def _send(self, call: Call[T]) -> T:
        raise NotImplementedError

    async def stats(self, since: str = "7d") -> Stats:
        """The monitoring figures over the last ``since`` (24h, 7d, 30d ...)."""
        return await self._send(stats(since))

    async def metrics(self, window: str = "1d") -> str:
        return await self._send(metrics(window))

    async def create_alert(
        self,
        name: str,
        rule: str,
        channel: str,
        *,
        to: str | None = None,
        notify_recovery: bool = False,
        enabled: bool = True,
    ) -> Alert:
        return await self._send(
            create_alert(_alert_fields(name, rule, channel, to, notify_recovery, enabled))
        )

    async def list_alerts(self) -> list[Alert]:
        return await self._send(list_alerts())

    async def get_alert(self, alert_id: str) -> Alert:
        return await self._send(alert("GET", alert_id))

    async def update_alert(
        self,
        alert_id: str,
        *,
        rule: str | None = None,
        channel: str | None = None,
        to: str | None = None,
        notify_recovery: bool | None = None,
        enabled: bool | None = None,
    ) -> Alert:
        body = _changes(rule=rule, channel=channel, to=to, notify_recovery=notify_recovery,
                        enabled=enabled)  # fmt: skip
        return await self._send(alert("PATCH", alert_id, body))

    async def delete_alert(self, alert_id: str) -> None:
        await self._send(delete_alert(alert_id))

    async def alert_events(self, alert_id: str) -> list[AlertEvent]:
        return await self._send(alert_events(alert_id))

    async def evaluate_alerts(self) -> list[Evaluation]:
        return await self._send(evaluate_alerts())
