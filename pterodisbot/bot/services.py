"""What the cogs share: panel client, monitor, rings, graphs, boards and history store."""

from __future__ import annotations

from dataclasses import dataclass, field

import discord

from pterodisbot.alerts import AlertControl, NoAlerts
from pterodisbot.bot.audit import AuditLog
from pterodisbot.bot.edit_pump import EditPump
from pterodisbot.bot.fleet_service import FleetBoards
from pterodisbot.bot.locations import EmbedLocations
from pterodisbot.bot.status_board import StatusBoard
from pterodisbot.clock import Clock
from pterodisbot.config import Settings
from pterodisbot.graphs import GraphRenderer
from pterodisbot.monitor import Monitor
from pterodisbot.panel.client import PterodactylAPI
from pterodisbot.permissions import Action
from pterodisbot.query import NoQueries, PlayerService
from pterodisbot.server_metrics_graphs import ServerMetricsManager
from pterodisbot.store import History, NoHistory


@dataclass(slots=True)
class BotServices:
    """The long-lived objects behind the bot; built by `pterodisbot.app`, owned by the bot."""

    settings: Settings
    api: PterodactylAPI
    metrics: ServerMetricsManager
    monitor: Monitor
    renderer: GraphRenderer
    locations: EmbedLocations
    pump: EditPump
    board: StatusBoard
    # The fleet boards (/fleet_board): one message per channel summarising every server.
    fleet: FleetBoards
    clock: Clock
    # The audit trail of server controls; None leaves clicks unaudited (some unit tests).
    audit: AuditLog | None = None
    # Always there: a `HistoryRecorder` when [history] url names a store, else `NoHistory`,
    # whose reads raise `HistoryOff`. Readers (/server_history, the HTTP endpoint) call
    # `history.series()`, `.uptime()`, `.state_changes()` and catch `HistoryOff` and `StoreError`.
    history: History = field(default_factory=NoHistory)
    # Always there: the alerts service when [alerts] channel_id is set, else `NoAlerts`
    # (nothing open, nothing muted; mute() raises `AlertsOff`).
    alerts: AlertControl = field(default_factory=NoAlerts)
    # Always there: the game queries (`PlayerQueries`) when [query] enabled, else `NoQueries`.
    # Readers take `players.players(id)` (also on every snapshot) and `players.stats()`.
    players: PlayerService = field(default_factory=NoQueries)

    def serves_guild(self, guild_id: int | None) -> bool:
        """Tell whether the bot answers in this guild (`[discord] guild_ids`; empty: every one)."""
        allowed = self.settings.discord.guild_ids
        return guild_id is not None and (not allowed or guild_id in allowed)

    def member_allows(
        self, member: discord.Member, action: Action, server_id: str | None = None
    ) -> bool:
        """Tell whether `member`, by their roles now, may do `action` (on one server, if given).

        Reads `settings` at each call, so a reloaded configuration applies to the next click.
        """
        return self.settings.permissions.allows(
            action,
            server_identifier=server_id,
            role_ids=[role.id for role in member.roles],
            role_names=[role.name for role in member.roles],
            is_administrator=member.guild_permissions.administrator,
        )
