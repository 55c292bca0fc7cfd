"""Server settings, read from the command line and the environment."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url


@dataclass(frozen=True)
class Settings:
    database_url: str
    host: str = "127.0.0.1"
    port: int = 8000
    admin_token: str | None = None
    # FULL survives power loss as well as a killed process; NORMAL survives a killed
    # process only, and commits faster. See docs/operations.md.
    sqlite_synchronous: str = "FULL"
    max_body_bytes: int = 1024 * 1024
    # Routing and escalation (docs/routing.md).
    escalate_to: str = "role:admin"
    routing_fallback: str = "queue"
    away_after: str = "15m"
    offline_grace: str = "5m"
    scheduler_batch: int = 500
    # Channels and deliveries (docs/channels.md).
    public_base_url: str | None = None  # INLOOP_PUBLIC_URL: links in messages, callbacks
    secret_key: str | None = None
    secret_key_file: str | None = None
    delivery_max_attempts: int = 12
    delivery_backoff: str = "15s"
    delivery_backoff_cap: str = "2h"
    delivery_batch: int = 100
    delivery_concurrency: int = 32
    delivery_lease: str = "2m"
    # The model behind LLM context summaries (docs/handoff.md): an OpenAI-compatible API
    # root; unset, summaries stay extractive.
    llm_url: str | None = None
    llm_api_key: str | None = None
    llm_model: str | None = None
    # Monitoring and alerts (docs/monitoring.md).
    alert_interval: str = "1m"
    metrics_cache: float = 15.0

    @classmethod
    def from_env(
        cls, *, database_url: str | None = None, host: str | None = None, port: int | None = None
    ) -> Settings:
        env = os.environ
        return cls(
            database_url=normalize_database_url(database_url or env.get("INLOOP_DATABASE_URL")),
            host=host or env.get("INLOOP_HOST", "127.0.0.1"),
            port=port or int(env.get("INLOOP_PORT", "8000")),
            admin_token=env.get("INLOOP_ADMIN_TOKEN") or None,
            sqlite_synchronous=env.get("INLOOP_SQLITE_SYNCHRONOUS", "FULL").upper(),
            max_body_bytes=int(env.get("INLOOP_MAX_BODY_BYTES", str(1024 * 1024))),
            escalate_to=env.get("INLOOP_ESCALATE_TO", "role:admin"),
            routing_fallback=env.get("INLOOP_ROUTING_FALLBACK", "queue"),
            away_after=env.get("INLOOP_AWAY_AFTER", "15m"),
            offline_grace=env.get("INLOOP_OFFLINE_GRACE", "5m"),
            scheduler_batch=int(env.get("INLOOP_SCHEDULER_BATCH", "500")),
            public_base_url=env.get("INLOOP_PUBLIC_URL") or None,
            secret_key=env.get("INLOOP_SECRET_KEY") or None,
            secret_key_file=env.get("INLOOP_SECRET_KEY_FILE") or None,
            delivery_max_attempts=int(env.get("INLOOP_DELIVERY_MAX_ATTEMPTS", "12")),
            delivery_backoff=env.get("INLOOP_DELIVERY_BACKOFF", "15s"),
            delivery_backoff_cap=env.get("INLOOP_DELIVERY_BACKOFF_CAP", "2h"),
            delivery_batch=int(env.get("INLOOP_DELIVERY_BATCH", "100")),
            delivery_concurrency=int(env.get("INLOOP_DELIVERY_CONCURRENCY", "32")),
            delivery_lease=env.get("INLOOP_DELIVERY_LEASE", "2m"),
            llm_url=env.get("INLOOP_LLM_URL") or None,
            llm_api_key=env.get("INLOOP_LLM_API_KEY") or None,
            llm_model=env.get("INLOOP_LLM_MODEL") or None,
            alert_interval=env.get("INLOOP_ALERT_INTERVAL", "1m"),
            metrics_cache=float(env.get("INLOOP_METRICS_CACHE", "15")),
        )

    def __post_init__(self) -> None:
        from inloop.domain.durations import parse_duration
        from inloop.domain.specs import REF

        for name in (
            "away_after",
            "offline_grace",
            "delivery_backoff",
            "delivery_backoff_cap",
            "delivery_lease",
            "alert_interval",
        ):
            try:
                parse_duration(getattr(self, name))
            except ValueError as exc:
                raise ValueError(f"INLOOP_{name.upper()}: {exc}") from None
        if not REF.fullmatch(self.escalate_to):
            raise ValueError(
                f"INLOOP_ESCALATE_TO: {self.escalate_to!r} is not user:, role: or team:<name>"
            )
        target = self.routing_fallback.removeprefix("transfer:")
        if self.routing_fallback not in ("queue", "escalate") and not (
            self.routing_fallback.startswith("transfer:") and REF.fullmatch(target)
        ):
            raise ValueError(
                f"INLOOP_ROUTING_FALLBACK: {self.routing_fallback!r} is not queue, escalate "
                "or transfer:<user:|role:|team:name>"
            )
        if self.llm_url is not None and not self.llm_url.startswith(("http://", "https://")):
            raise ValueError(f"INLOOP_LLM_URL: {self.llm_url!r} must start with http(s)://")
        if self.metrics_cache < 0:
            raise ValueError("INLOOP_METRICS_CACHE must be 0 (no cache) or more seconds")
        if self.scheduler_batch < 1:
            raise ValueError("INLOOP_SCHEDULER_BATCH must be at least 1")
        for name in ("delivery_max_attempts", "delivery_batch", "delivery_concurrency"):
            if getattr(self, name) < 1:
                raise ValueError(f"INLOOP_{name.upper()} must be at least 1")
        if self.public_base_url is not None and not self.public_base_url.startswith(
            ("http://", "https://")
        ):
            raise ValueError("INLOOP_PUBLIC_URL must start with http:// or https://")

    @property
    def public_url(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::") else self.host  # noqa: S104
        return f"http://{host}:{self.port}"

    @property
    def base_url(self) -> str:
        """Where people and platforms reach this server: INLOOP_PUBLIC_URL, else the
        address it listens on."""
        return (self.public_base_url or self.public_url).rstrip("/")

    @property
    def safe_database_url(self) -> str:
        return make_url(self.database_url).render_as_string(hide_password=True)


def normalize_database_url(url: str | None) -> str:
    """Map the URLs people write to SQLAlchemy's drivers; default to .inloop/inloop.db."""
    if not url:
        path = Path.cwd() / ".inloop" / "inloop.db"
        return f"sqlite+pysqlite:///{path}"
    if url.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    if url.startswith("sqlite://"):
        return "sqlite+pysqlite://" + url.split("://", 1)[1]
    if url.startswith(("postgresql+psycopg://", "sqlite+pysqlite://")):
        return url
    raise ValueError(f"unsupported database URL {url!r}: use sqlite:///<path> or postgresql://...")
