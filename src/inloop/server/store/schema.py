"""The tables. Alembic migrations in ``migrations/`` create them; a test checks they agree."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.types import DateTime, TypeDecorator

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UTCDateTime(TypeDecorator[datetime]):
    """Timestamps go in as UTC and come out timezone-aware, on SQLite as on PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored: pass an aware UTC time")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        stored: datetime = value
        return stored.replace(tzinfo=UTC) if stored.tzinfo is None else stored.astimezone(UTC)


Json = JSON().with_variant(JSONB(), "postgresql")
EventId = BigInteger().with_variant(Integer(), "sqlite")  # INTEGER PRIMARY KEY is the rowid

requests = Table(
    "requests",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("kind", String(20), nullable=False),
    Column("status", String(20), nullable=False),
    Column("resolution", String(20)),
    Column("title", String(300), nullable=False),
    Column("prompt", Text, nullable=False),
    Column("description", Text),
    Column("options", Json),
    Column("response_schema", Json),
    Column("context", Json),
    Column("display", Json),
    Column("priority", String(10), nullable=False),
    Column("priority_order", Integer, nullable=False),
    Column("assignee", Json),
    Column("timeout", String(40)),
    Column("escalation", Json),
    Column("conversation_id", String(200)),
    Column("user_id", String(200)),
    Column("metadata", Json, nullable=False),
    Column("callback_url", Text),
    Column("idempotency_key", String(255)),
    Column("idempotency_hash", String(64)),
    Column("created_by", String(200), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("due_at", UTCDateTime),
    Column("resolved_at", UTCDateTime),
    Column("resolved_by", String(200)),
    Column("response", Json),
    Column("comment", Text),
    Column("assignment", Json),
    Column("approvals", Json),
    Column("quorum", Json),
    # Refs of who may answer, also in request_candidates for the visibility queries.
    Column("candidates", Json, nullable=False, server_default=text("'[]'")),
    Column("assigned_to", String(100)),
    Column("assigned_at", UTCDateTime),
    Column("level", Integer, nullable=False, server_default=text("0")),
    Column("stage", Integer, nullable=False, server_default=text("0")),
    Column("reminders", Integer, nullable=False, server_default=text("0")),
    Column("votes", Json, nullable=False, server_default=text("'[]'")),
    UniqueConstraint("created_by", "idempotency_key"),
    Index(None, "status", "priority_order", "created_at", "id"),
    Index(None, "priority_order", "created_at", "id"),
    Index(None, "conversation_id"),
    Index(None, "assigned_to", "status"),
)

request_candidates = Table(
    "request_candidates",
    metadata,
    Column("request_id", String(40), ForeignKey("requests.id"), primary_key=True),
    Column("ref", String(210), primary_key=True),
    Index(None, "ref", "request_id"),
)

# Durable timers: what fires when. The scheduler claims due rows in batches.
timers = Table(
    "timers",
    metadata,
    Column("id", EventId, primary_key=True, autoincrement=True),
    Column("kind", String(30), nullable=False),
    Column("due_at", UTCDateTime, nullable=False),
    Column("request_id", String(40), ForeignKey("requests.id")),
    Column("user_handle", String(100)),
    Column("data", Json, nullable=False),
    Index(None, "due_at"),
    Index(None, "request_id"),
)

# Where round robin stopped, per pool: fair across restarts and replicas.
routing_cursors = Table(
    "routing_cursors",
    metadata,
    Column("pool", String(1000), primary_key=True),
    Column("last_handle", String(100), nullable=False),
)

events = Table(
    "events",
    metadata,
    Column("id", EventId, primary_key=True, autoincrement=True),
    Column("request_id", String(40), ForeignKey("requests.id"), nullable=False),
    Column("type", String(40), nullable=False),
    Column("actor", String(200), nullable=False),
    Column("reason", Text),
    Column("at", UTCDateTime, nullable=False),
    Column("data", Json, nullable=False),
    Index(None, "request_id", "id"),
)

users = Table(
    "users",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("handle", String(100), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("email", String(320)),
    Column("disabled", Boolean, nullable=False, default=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("presence", String(10), nullable=False, server_default=text("'online'")),
    Column("capacity", Integer),
    Column("last_active_at", UTCDateTime),
    Column("presence_changed_at", UTCDateTime),
)

user_roles = Table(
    "user_roles",
    metadata,
    Column("user_id", String(40), ForeignKey("users.id"), primary_key=True),
    Column("role", String(100), primary_key=True),
    Index(None, "role"),
)

teams = Table(
    "teams",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("name", String(100), nullable=False, unique=True),
    Column("description", Text),
    Column("created_at", UTCDateTime, nullable=False),
)

team_members = Table(
    "team_members",
    metadata,
    Column("team_id", String(40), ForeignKey("teams.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", String(40), ForeignKey("users.id"), primary_key=True),
    Index(None, "user_id"),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("secret_hash", String(64), nullable=False),
    Column("scopes", Json, nullable=False),
    Column("user_id", String(40), ForeignKey("users.id")),
    Column("created_by", String(200), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("last_used_at", UTCDateTime),
    Column("revoked_at", UTCDateTime),
)

# Small facts about the installation itself, such as "the bootstrap key was made".
meta = Table(
    "meta",
    metadata,
    Column("key", String(100), primary_key=True),
    Column("value", Text, nullable=False),
)

# --- The dashboard's figures (server/store/stats.py), migration 0006 ---
# Requests closed in a time window (response times, timeout rate), answered by one human
# in it, and created in it (escalation rate) are counted from these indexes alone.
Index(
    "ix_requests_resolved_at",
    requests.c.resolved_at,
    requests.c.resolution,
    requests.c.created_at,
    requests.c.due_at,  # migration 0011: late answers (SLA breaches) from the index alone
)
Index(
    "ix_requests_resolved_by",
    requests.c.resolved_by,
    requests.c.resolution,
    requests.c.resolved_at,
)
Index("ix_requests_created_at_level", requests.c.created_at, requests.c.level)

# --- Editable payloads (domain/requests.py), migration 0005 ---
# The action a request proposes, and the same action as the human edited it (an answer
# of modify or edit). Both are JSON objects or null.
requests.append_column(Column("payload", Json))
requests.append_column(Column("edited", Json))

# --- The desk's sign-in (server/store/sessions.py), migration 0004 ---
# A user's argon2 password hash (null: cannot sign in to the desk), and the desk's
# server-side sessions: signing out or disabling the user ends them on every replica.
users.append_column(Column("password_hash", String(255)))

desk_sessions = Table(
    "desk_sessions",
    metadata,
    # sha256 of the cookie's secret: a stolen database does not hold live cookies.
    Column("id", String(64), primary_key=True),
    Column("user_id", String(40), ForeignKey("users.id"), nullable=False),
    Column("csrf_token", String(64), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Index(None, "user_id"),
)
# The queue's order within a status: priority, then the nearest deadline.
Index("ix_requests_status_priority_order_due_at_id", requests.c.status,
      requests.c.priority_order, requests.c.due_at, requests.c.id)  # fmt: skip


# --- Durable agent runs (issue 5, migration 0003) ------------------------------------
# A run is one execution of an agent; run_events is its ordered inbox. An event is
# "pending" until a step consumes it ("done"), a HITL request event "waiting" until its
# request closes (then the response event is appended, in the same transaction).
runs = Table(
    "runs",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("agent", String(200), nullable=False),
    Column("status", String(20), nullable=False),
    Column("start_event", Json, nullable=False),
    Column("result", Json),
    Column("error", Text),
    Column("created_by", String(200), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("finished_at", UTCDateTime),
    Index(None, "agent", "status", "created_at", "id"),
    Index(None, "created_at", "id"),
)

run_events = Table(
    "run_events",
    metadata,
    Column("id", EventId, primary_key=True, autoincrement=True),
    Column("run_id", String(40), ForeignKey("runs.id"), nullable=False),
    Column("agent", String(200), nullable=False),
    Column("type", String(200), nullable=False),
    Column("payload", Json, nullable=False),
    Column("status", String(20), nullable=False),
    Column("step", String(200)),
    Column("emitted_by", BigInteger().with_variant(Integer(), "sqlite")),
    Column("request_id", String(40)),
    Column("reply_type", String(200)),
    Column("lease_owner", String(100)),
    Column("lease_until", UTCDateTime),
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    Column("created_at", UTCDateTime, nullable=False),
    Column("done_at", UTCDateTime),
    Index(None, "run_id", "id"),
    Index(None, "agent", "status", "id"),
    Index(None, "request_id"),
)

# ctx.once: a value recorded once per (run, key); a recorded key never runs its fn again.
run_once = Table(
    "run_once",
    metadata,
    Column("run_id", String(40), ForeignKey("runs.id"), primary_key=True),
    Column("key", String(200), primary_key=True),
    Column("value", Json),
    Column("recorded_at", UTCDateTime, nullable=False),
)


# --- Channels and deliveries (issue 8, migration 0007) --------------------------------
# Where people are told (the request's own choice) and where its answer came from.
requests.append_column(Column("channels", Json))
requests.append_column(Column("responded_via", Json))

# A configured channel: plain settings, and its secrets as one encrypted blob (Fernet,
# with the server key: see server/secrets.py).
channels = Table(
    "channels",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("name", String(100), nullable=False, unique=True),
    Column("kind", String(20), nullable=False),
    Column("enabled", Boolean, nullable=False),
    Column("config", Json, nullable=False),
    Column("secrets", Text),
    Column("secrets_set", Json, nullable=False),
    Column("created_by", String(200), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

# A user's address on a channel (Slack user id, email, phone...): who is told there, and
# who an answer from that address is. One user per address and channel.
user_channels = Table(
    "user_channels",
    metadata,
    Column("user_id", String(40), ForeignKey("users.id"), primary_key=True),
    Column(
        "channel_id", String(40), ForeignKey("channels.id", ondelete="CASCADE"), primary_key=True
    ),
    Column("address", String(320), nullable=False),
    Column("enabled", Boolean, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    UniqueConstraint("channel_id", "address"),
)

# The outbox. `key` names the intent (a retry writes nothing new); the dispatcher claims
# due rows (pending, or sending with a lapsed lease) along the partial index on due_at.
deliveries = Table(
    "deliveries",
    metadata,
    Column("id", EventId, primary_key=True, autoincrement=True),
    Column("key", String(400), nullable=False, unique=True),
    Column("channel", String(100), nullable=False),
    Column("kind", String(20), nullable=False),
    Column("address", String(500)),
    Column("topic", String(60), nullable=False),
    Column("payload", Json),
    Column("sealed", Text),  # a sensitive payload, encrypted; erased once sent
    Column("sensitive", Boolean, nullable=False, server_default=text("false")),
    Column("status", String(20), nullable=False),
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    Column("replays", Integer, nullable=False, server_default=text("0")),
    Column("due_at", UTCDateTime),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("delivered_at", UTCDateTime),
    Column("last_error", Text),
    Column("request_id", String(40)),
    Column("user_handle", String(100)),
    Column("parent_id", BigInteger().with_variant(Integer(), "sqlite")),
    Column("ref", Json),
    Column("ref_key", String(300)),
    Index(None, "request_id", "id"),
    Index(None, "status", "id"),
    Index(None, "ref_key"),
)
Index(
    "ix_deliveries_due",
    deliveries.c.due_at,
    sqlite_where=deliveries.c.status.in_(["pending", "sending"]),
    postgresql_where=deliveries.c.status.in_(["pending", "sending"]),
)

# The delivery log: one row per attempt.
delivery_attempts = Table(
    "delivery_attempts",
    metadata,
    Column("id", EventId, primary_key=True, autoincrement=True),
    Column("delivery_id", BigInteger().with_variant(Integer(), "sqlite"), nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("replay", Integer, nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("duration_ms", Integer, nullable=False),
    Column("outcome", String(20), nullable=False),
    Column("status_code", Integer),
    Column("error", Text),
    Column("response", Text),
    Index(None, "delivery_id", "id"),
)

# One-time answer credentials: an email link's id, an SMS reply code. Bound to the
# request, the user and the address they were sent to; used once.
answer_codes = Table(
    "answer_codes",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("channel", String(100), nullable=False),
    Column("request_id", String(40), ForeignKey("requests.id"), nullable=False),
    Column("user_handle", String(100), nullable=False),
    Column("address", String(320), nullable=False),
    Column("code", String(12)),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("used_at", UTCDateTime),
    Index(None, "channel", "address", "code"),
)

# Callbacks already handled, by the platform's message id (a webhook-id, a Slack event
# id, a Twilio MessageSid): a replay inside the signature's window is refused.
inbound_messages = Table(
    "inbound_messages",
    metadata,
    Column("channel", String(100), primary_key=True),
    Column("message_id", String(300), primary_key=True),
    Column("received_at", UTCDateTime, nullable=False),
    Index(None, "received_at"),
)

# --- Conversations and live handoff (issue 7, migration 0008) ---------------------------
# A conversation with a customer, its messages (ids in write order), the agents' event
# log of it, handoff sessions (at most one open per conversation: a partial unique
# index), and the project-wide handoff settings.
conversations = Table(
    "conversations",
    metadata,
    Column("id", String(120), primary_key=True),
    Column("user_id", String(200), nullable=False),
    Column("user_name", String(200)),
    Column("user_email", String(320)),
    Column("customer", Json, nullable=False),
    Column("metadata", Json, nullable=False),
    Column("accepts", Json, nullable=False),
    Column("approver_mode", Boolean),
    Column("approver_auto_accept_seconds", Integer),
    Column("run_id", String(40)),
    # sha256 of the customer's chat token: the chat page is opened with the token only.
    Column("token_hash", String(64)),
    Column("created_by", String(200), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Index(None, "created_by", "created_at"),
    Index(None, "user_id"),
)

messages = Table(
    "messages",
    metadata,
    Column("id", EventId, primary_key=True, autoincrement=True),
    Column("conversation_id", String(120), ForeignKey("conversations.id"), nullable=False),
    Column("role", String(10), nullable=False),
    Column("author", String(200)),
    Column("author_name", String(200)),
    Column("type", String(10), nullable=False),
    Column("content", Json, nullable=False),
    Column("audience", String(10), nullable=False),
    Column("status", String(20), nullable=False),
    Column("external_id", String(200)),
    Column("session_id", String(40)),
    Column("request_id", String(40)),
    Column("metadata", Json, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    # A relayed message is stored once, however often its sender retries it.
    UniqueConstraint("conversation_id", "external_id"),
    Index(None, "conversation_id", "id"),
    Index(None, "request_id"),
)

conversation_events = Table(
    "conversation_events",
    metadata,
    Column("id", EventId, primary_key=True, autoincrement=True),
    Column("conversation_id", String(120), ForeignKey("conversations.id"), nullable=False),
    Column("type", String(30), nullable=False),
    Column("data", Json, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Index(None, "conversation_id", "id"),
)

handoff_sessions = Table(
    "handoff_sessions",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("conversation_id", String(120), ForeignKey("conversations.id"), nullable=False),
    Column("status", String(10), nullable=False),
    Column("end_reason", String(30)),
    Column("title", String(300), nullable=False),
    Column("description", Text),
    Column("user_id", String(200), nullable=False),
    Column("user_email", String(320)),
    Column("provider", String(20), nullable=False),
    Column("external_id", String(200)),
    Column("request_id", String(40)),
    Column("human", String(200)),
    Column("human_name", String(200)),
    Column("config", Json, nullable=False),
    Column("created_by", String(200), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("assigned_at", UTCDateTime),
    Column("ended_at", UTCDateTime),
    # What the provider keeps about the session (Zendesk's requester id, ...).
    Column("provider_data", Json, nullable=False, server_default=text("'{}'")),
    Index(None, "conversation_id", "created_at"),
    Index(None, "provider", "external_id"),
    Index(None, "request_id"),
)
# The second start_hitl on a conversation with an open session loses here, even in a race.
Index(
    "uq_handoff_sessions_open_conversation",
    handoff_sessions.c.conversation_id,
    unique=True,
    sqlite_where=handoff_sessions.c.status != "ended",
    postgresql_where=handoff_sessions.c.status != "ended",
)

# The calls a provider makes to its helpdesk, in order per session: written in the
# transaction that causes them, sent after the commit, retried with backoff, dead-lettered.
provider_calls = Table(
    "provider_calls",
    metadata,
    Column("id", EventId, primary_key=True, autoincrement=True),
    Column("session_id", String(40), ForeignKey("handoff_sessions.id"), nullable=False),
    Column("provider", String(20), nullable=False),
    Column("op", String(30), nullable=False),
    Column("payload", Json, nullable=False),
    Column("status", String(10), nullable=False),
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    Column("due_at", UTCDateTime, nullable=False),
    Column("lease_until", UTCDateTime),
    Column("last_error", Text),
    Column("created_at", UTCDateTime, nullable=False),
    Column("done_at", UTCDateTime),
    Index(None, "status", "due_at"),
    Index(None, "session_id", "id"),
)

handoff_settings = Table(
    "handoff_settings",
    metadata,
    Column("key", String(100), primary_key=True),
    Column("value", Json),
)

# --- Agent sessions, handoff tickets, confirmations (issue 9, migration 0010) -----------
# An agent's session (seed 004's sb.sessions; not the desk's sign-in sessions): its state,
# written under a row lock; its history (state changes, turns, escalations, confirmation
# steps) in write order; the handoff tickets opened from it; its confirmations.
agent_sessions = Table(
    "agent_sessions",
    metadata,
    Column("id", String(200), primary_key=True),
    Column("state", Json, nullable=False),
    Column("metadata", Json, nullable=False),
    Column("version", Integer, nullable=False),
    Column("escalated", Boolean, nullable=False),
    Column("created_by", String(200), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Index(None, "created_at"),
    Index(None, "created_by", "created_at"),
)

agent_session_events = Table(
    "agent_session_events",
    metadata,
    Column("id", EventId, primary_key=True, autoincrement=True),
    Column("session_id", String(200), ForeignKey("agent_sessions.id"), nullable=False),
    Column("type", String(20), nullable=False),
    Column("actor", String(200), nullable=False),
    Column("reasoning", Text),
    Column("data", Json, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Index(None, "session_id", "type", "id"),
    Index(None, "type", "created_at"),
)

# The ticket's number ("#12") is its row id, so two tickets opened at once never share one.
tickets = Table(
    "tickets",
    metadata,
    Column("number", EventId, primary_key=True, autoincrement=True),
    Column("id", String(40), nullable=False, unique=True),
    Column("session_id", String(200), ForeignKey("agent_sessions.id"), nullable=False),
    Column("conversation_id", String(120)),
    Column("request_id", String(40), ForeignKey("requests.id")),  # set once it exists
    Column("reason", Text, nullable=False),
    Column("priority", String(10), nullable=False),
    Column("rule", String(100)),
    Column("history", Json, nullable=False),
    Column("state", Json, nullable=False),
    Column("metadata", Json, nullable=False),
    Column("action", Json),
    Column("created_by", String(200), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Index(None, "session_id", "number"),
    Index(None, "created_at"),
    Index(None, "request_id"),
)

ticket_settings = Table(
    "ticket_settings",
    metadata,
    Column("key", String(100), primary_key=True),
    Column("value", Json, nullable=False),
    Column("updated_by", String(200), nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

# The action waiting on the end user, byte-exact (canonical JSON) with its sha256; a code
# only as HMAC-SHA256 under a key derived from the server key, never in plain text.
confirmations = Table(
    "confirmations",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("session_id", String(200), ForeignKey("agent_sessions.id"), nullable=False),
    Column("kind", String(10), nullable=False),
    Column("status", String(10), nullable=False),
    Column("action_json", Text, nullable=False),
    Column("action_digest", String(64), nullable=False),
    Column("reason", Text),
    Column("code_hmac", String(64)),
    Column("to_email", String(320)),
    Column("to_phone", String(40)),
    Column("attempts", Integer, nullable=False),
    Column("max_attempts", Integer, nullable=False),
    Column("resends", Integer, nullable=False),
    Column("sent_at", UTCDateTime),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("created_by", String(200), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("decided_at", UTCDateTime),
    Column("decided_by", String(200)),
    Index(None, "session_id", "created_at"),
    Index(None, "status", "expires_at"),
)

# --- Monitoring and alerts (server/store/alerts.py, stats.py), migration 0011 ---
# The window's escalation and queueing events (top reasons, timeouts by action) are read
# from this index alone, however many other events the store holds.
Index("ix_events_type_at", events.c.type, events.c.at)

# An alert rule (``escalation_rate > 0.15 over 7d``), where it stands (ok or firing, with
# a conditional update on every change) and when it is next evaluated.
alert_rules = Table(
    "alert_rules",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("name", String(100), nullable=False, unique=True),
    Column("rule", String(200), nullable=False),
    Column("metric", String(40), nullable=False),
    Column("op", String(2), nullable=False),
    Column("threshold", Float, nullable=False),
    Column("window", String(40), nullable=False),
    Column("hold", String(40)),
    Column("channel", String(100), nullable=False),
    Column("address", String(500)),
    Column("notify_recovery", Boolean, nullable=False),
    Column("enabled", Boolean, nullable=False),
    Column("state", String(10), nullable=False),
    Column("breaches", Integer, nullable=False),
    Column("breached_since", UTCDateTime),
    Column("value", Float),
    Column("evaluated_at", UTCDateTime),
    Column("next_eval_at", UTCDateTime, nullable=False),
    Column("fired_at", UTCDateTime),
    Column("recovered_at", UTCDateTime),
    Column("created_by", String(200), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Index(None, "enabled", "next_eval_at"),
)

# The alert rules' audit trail: created, updated, deleted, fired, recovered. No foreign
# key: the trail of a deleted rule stays.
alert_events = Table(
    "alert_events",
    metadata,
    Column("id", EventId, primary_key=True, autoincrement=True),
    Column("alert_id", String(40), nullable=False),
    Column("type", String(30), nullable=False),
    Column("actor", String(200), nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("data", Json, nullable=False),
    Index(None, "alert_id", "id"),
)
