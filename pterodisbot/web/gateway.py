"""Follow the bot's gateway connection through discord.py's connect, ready, resume events."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

from discord.ext import commands

from pterodisbot.clock import Clock, SystemClock

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class GatewayState:
    """The gateway as last seen: up or down, since when, and how often it dropped."""

    connected: bool
    since: float
    disconnects: int
    resumes: int
    latency: float | None


class GatewayWatch:
    """Track whether the bot's gateway is usable: down on `on_disconnect`, up on ready/resumed.

    discord.py keeps `is_ready()` true across a dropped socket, so readiness alone cannot say
    whether events are flowing; the dispatch events can.
    """

    def __init__(self, bot: commands.Bot, *, clock: Clock | None = None) -> None:
        self._bot = bot
        self._clock = clock or SystemClock()
        self._connected = bot.is_ready() and not bot.is_closed()
        self._since = self._clock.time()
        self.disconnects = 0
        self.resumes = 0
        bot.add_listener(self._on_up, "on_ready")
        bot.add_listener(self._on_resumed, "on_resumed")
        bot.add_listener(self._on_down, "on_disconnect")

    def _set(self, connected: bool) -> None:
        if connected != self._connected:
            self._connected = connected
            self._since = self._clock.time()

    async def _on_up(self) -> None:
        self._set(True)

    async def _on_resumed(self) -> None:
        self.resumes += 1
        log.info("Discord gateway resumed after a drop")
        self._set(True)

    async def _on_down(self) -> None:
        if self._bot.is_closed():
            # Our own shutdown: not a drop worth counting or warning about.
            self._set(False)
            return
        if self._connected:
            self.disconnects += 1
            log.warning("Discord gateway disconnected; discord.py is reconnecting")
        self._set(False)

    def state(self) -> GatewayState:
        """Return the gateway's state now."""
        connected = self._connected and not self._bot.is_closed()
        latency = self._bot.latency
        return GatewayState(
            connected=connected,
            since=self._since,
            disconnects=self.disconnects,
            resumes=self.resumes,
            latency=latency if math.isfinite(latency) else None,
        )
