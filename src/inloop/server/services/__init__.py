"""The service layer: every change of state goes through here, from every entry point."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from inloop.domain.durations import parse_duration
from inloop.llm import DEFAULT_MODEL, ChatModel, OpenAIChat
from inloop.server.config import Settings
from inloop.server.secrets import Keyring, default_key_file
from inloop.server.services.agent_sessions import AgentSessionService
from inloop.server.services.alerts import AlertService
from inloop.server.services.answer_codes import AnswerCodes, card_extras
from inloop.server.services.assignment import AssignmentService
from inloop.server.services.channels import ChannelService
from inloop.server.services.chatlog import ChatLog, ConversationHub
from inloop.server.services.clock import Clock, SystemClock
from inloop.server.services.confirmations import EXPIRY_TIMER, ConfirmationService
from inloop.server.services.consults import CONSULT_TIMER, ConsultService
from inloop.server.services.conversations import ConversationService
from inloop.server.services.deliveries import DeliveryService
from inloop.server.services.desk import DeskService
from inloop.server.services.dispatcher import Dispatcher, DispatchSettings
from inloop.server.services.email_inbound import EmailInbound
from inloop.server.services.handoffs import ASSIGN_TIMER, HandoffService
from inloop.server.services.hub import Hub
from inloop.server.services.identity import IdentityService
from inloop.server.services.inbound import Inbound
from inloop.server.services.lifecycle import Lifecycle, Policy
from inloop.server.services.metrics import MetricsService
from inloop.server.services.notifications import Notifier
from inloop.server.services.provider_calls import ProviderDispatcher
from inloop.server.services.providers.desk import DeskProvider
from inloop.server.services.providers.webhook import WebhookProvider
from inloop.server.services.providers.zendesk import ZendeskProvider
from inloop.server.services.requests import RequestService
from inloop.server.services.runs import RunService
from inloop.server.services.scheduler import Scheduler
from inloop.server.services.sessions import SessionService
from inloop.server.services.slack_inbound import SlackInbound
from inloop.server.services.sms_inbound import SmsInbound
from inloop.server.services.stats import StatsService
from inloop.server.services.summaries import Summaries
from inloop.server.services.teams_inbound import TeamsInbound
from inloop.server.services.tickets import TicketService
from inloop.server.services.webhook_inbound import WebhookInbound
from inloop.server.services.workflows import WorkflowService
from inloop.server.store.database import Database
from inloop.server.store.engine import make_engine


@dataclass
class Services:
    settings: Settings
    db: Database
    clock: Clock
    hub: Hub
    requests: RequestService
    assignment: AssignmentService
    identity: IdentityService
    scheduler: Scheduler
    runs: RunService
    sessions: SessionService
    desk: DeskService
    stats: StatsService
    # channels and deliveries (issue 8)
    keyring: Keyring
    channels: ChannelService
    deliveries: DeliveryService
    dispatcher: Dispatcher
    notifier: Notifier
    codes: AnswerCodes
    inbound: Inbound
    slack_inbound: SlackInbound
    teams_inbound: TeamsInbound
    sms_inbound: SmsInbound
    email_inbound: EmailInbound
    webhook_inbound: WebhookInbound
    workflows: WorkflowService
    # Conversations and live handoff (issue 7)
    conversation_hub: ConversationHub
    conversations: ConversationService
    handoffs: HandoffService
    consults: ConsultService
    provider_dispatcher: ProviderDispatcher
    summaries: Summaries
    # Agent sessions, handoff tickets, confirmations (issue 9)
    agent_sessions: AgentSessionService
    tickets: TicketService
    confirmations: ConfirmationService
    # Monitoring and alerts (issue 9)
    alerts: AlertService
    metrics: MetricsService

    def close(self) -> None:
        self.db.dispose()


def build_services(settings: Settings, *, clock: Clock | None = None) -> Services:
    clock = clock or SystemClock()
    engine = make_engine(settings.database_url, sqlite_synchronous=settings.sqlite_synchronous)
    db = Database(engine, origin=secrets.token_hex(8))
    hub = Hub()
    db.on_commit = hub.publish
    policy = Policy(
        escalate_to=settings.escalate_to,
        fallback=settings.routing_fallback,
        away_after=parse_duration(settings.away_after),
        offline_grace=parse_duration(settings.offline_grace),
    )
    lifecycle = Lifecycle(policy)
    requests = RequestService(db, clock, hub, lifecycle)
    keyring = Keyring(
        settings.secret_key,
        key_file=Path(settings.secret_key_file or default_key_file(settings.database_url)),
    )
    channels = ChannelService(db, clock, keyring, base_url=settings.base_url)
    deliveries = DeliveryService(db, clock, channels, keyring)
    dispatcher = Dispatcher(
        db, clock, channels, base_url=settings.base_url, settings=_dispatch(settings)
    )
    deliveries.wake = dispatcher.wake
    codes = AnswerCodes(keyring, base_url=settings.base_url)
    dispatcher.answer_extras = lambda claimed: card_extras(
        codes,
        claimed.payload,
        claimed.delivery.kind,
        request_id=claimed.delivery.request_id,
        handle=claimed.delivery.user,
    )
    notifier = Notifier(channels, deliveries, codes)
    inbound = Inbound(db, clock, channels, requests, deliveries, codes)
    db.before_commit.append(notifier.before_commit)
    scheduler = Scheduler(db, clock, lifecycle, batch=settings.scheduler_batch)
    runs = RunService(db, clock, hub, lifecycle, requests)
    conversation_hub = ConversationHub()
    summaries = Summaries(db, clock, lifecycle, _summary_model(settings))
    handoffs, conversations, consults = build_conversations(
        db, clock, lifecycle, requests, scheduler, runs, policy, conversation_hub, summaries
    )
    provider_dispatcher = ProviderDispatcher(db, clock, handoffs)
    handoffs.providers["webhook"] = WebhookProvider(provider_dispatcher.wake)
    handoffs.providers["zendesk"] = ZendeskProvider(provider_dispatcher.wake)
    agent_sessions = AgentSessionService(db, clock)
    confirmations = ConfirmationService(db, clock, agent_sessions, deliveries, keyring)
    scheduler.handlers[EXPIRY_TIMER] = confirmations.expiry_timer
    stats = StatsService(db, clock, policy)
    alerts = AlertService(
        db, clock, stats, channels, deliveries, interval=parse_duration(settings.alert_interval)
    )
    return Services(
        settings=settings,
        db=db,
        clock=clock,
        hub=hub,
        requests=requests,
        assignment=AssignmentService(db, clock, lifecycle, requests),
        identity=IdentityService(db, clock, policy, admin_token=settings.admin_token),
        scheduler=scheduler,
        runs=runs,
        sessions=SessionService(db, clock, lifetime=timedelta(hours=12)),
        desk=DeskService(db),
        stats=stats,
        keyring=keyring,
        channels=channels,
        deliveries=deliveries,
        dispatcher=dispatcher,
        notifier=notifier,
        codes=codes,
        inbound=inbound,
        slack_inbound=SlackInbound(inbound),
        teams_inbound=TeamsInbound(inbound),
        sms_inbound=SmsInbound(inbound, settings.base_url),
        email_inbound=EmailInbound(inbound),
        webhook_inbound=WebhookInbound(inbound),
        workflows=WorkflowService(db, runs),
        conversation_hub=conversation_hub,
        conversations=conversations,
        handoffs=handoffs,
        consults=consults,
        provider_dispatcher=provider_dispatcher,
        summaries=summaries,
        agent_sessions=agent_sessions,
        tickets=TicketService(db, clock, agent_sessions, requests),
        confirmations=confirmations,
        alerts=alerts,
        metrics=MetricsService(db, stats, cache=settings.metrics_cache),
    )


def _summary_model(settings: Settings) -> ChatModel | None:
    if settings.llm_url is None:
        return None
    return OpenAIChat(settings.llm_url, settings.llm_api_key, settings.llm_model or DEFAULT_MODEL)


def _dispatch(settings: Settings) -> DispatchSettings:
    return DispatchSettings(
        batch=settings.delivery_batch,
        concurrency=settings.delivery_concurrency,
        lease=parse_duration(settings.delivery_lease),
        max_attempts=settings.delivery_max_attempts,
        backoff=parse_duration(settings.delivery_backoff),
        backoff_cap=parse_duration(settings.delivery_backoff_cap),
    )


def build_conversations(
    db: Database,
    clock: Clock,
    lifecycle: Lifecycle,
    requests: RequestService,
    scheduler: Scheduler,
    runs: RunService,
    policy: Policy,
    hub: ConversationHub,
    summaries: Summaries,
) -> tuple[HandoffService, ConversationService, ConsultService]:
    """Conversations, handoffs, consults and the providers behind the ``hitl`` interface."""
    log = ChatLog(db, hub)
    handoffs = HandoffService(db, clock, lifecycle, log)
    handoffs.runs_woken.append(runs._wake_claimers)
    handoffs.providers["desk"] = DeskProvider(
        requests, lifecycle, summaries, lambda tx: handoffs.settings_tx(tx.conn)
    )
    conversations = ConversationService(db, clock, hub, log, handoffs)
    consults = ConsultService(db, clock, lifecycle, requests, handoffs, log, summaries, policy)
    conversations.approver = consults
    scheduler.handlers[ASSIGN_TIMER] = handoffs.assignment_timer
    scheduler.handlers[CONSULT_TIMER] = consults.consult_timer
    return handoffs, conversations, consults
