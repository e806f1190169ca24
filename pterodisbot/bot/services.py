"""What the cogs share: the panel client, the monitor, histories, graphs and the status board."""

from __future__ import annotations

from dataclasses import dataclass

from pterodisbot.bot.audit import AuditLog
from pterodisbot.bot.edit_pump import EditPump
from pterodisbot.bot.locations import EmbedLocations
from pterodisbot.bot.status_board import StatusBoard
from pterodisbot.clock import Clock
from pterodisbot.config import Settings
from pterodisbot.graphs import GraphRenderer
from pterodisbot.monitor import Monitor
from pterodisbot.panel.client import PterodactylAPI
from pterodisbot.server_metrics_graphs import ServerMetricsManager


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
    clock: Clock
    # The audit trail of server controls; None leaves clicks unaudited (some unit tests).
    audit: AuditLog | None = None
