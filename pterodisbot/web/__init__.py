"""Health, Prometheus metrics and a JSON snapshot over HTTP (`[http]` in config.ini)."""

from __future__ import annotations

from pterodisbot.web.discord_traffic import DiscordTraffic
from pterodisbot.web.gateway import GatewayState, GatewayWatch
from pterodisbot.web.health import HealthReport, assess
from pterodisbot.web.server import WebServer

__all__ = [
    "DiscordTraffic",
    "GatewayState",
    "GatewayWatch",
    "HealthReport",
    "WebServer",
    "assess",
]
