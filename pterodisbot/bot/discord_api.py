"""Point discord.py at another Discord API base: a REST proxy or the local sandbox.

discord.py keeps its REST base in the class attribute `discord.http.Route.BASE` and, for a
non-sharded client, its gateway in `discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY` (2.7.1 never
asks `GET /gateway/bot` unless it is an `AutoShardedClient`). Both are class attributes, so the
setting here is **process-wide**: every client in the process talks to the same API. Tests that
switch it must restore it (`api_base()` does), and two bots in one process cannot use different
bases.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass

import discord.gateway
import discord.http
import yarl

# The REST base rule lives in the core, where `doctor` checks the token without discord.py.
from pterodisbot.discord_account import API_VERSION, DISCORD_API_BASE, rest_base_for

log = logging.getLogger(__name__)

__all__ = ["API_VERSION", "DISCORD_API_BASE", "DISCORD_GATEWAY", "ApiTarget", "rest_base_for"]

DISCORD_GATEWAY = "wss://gateway.discord.gg/"


@dataclass(frozen=True, slots=True)
class ApiTarget:
    """Where discord.py sends REST calls and opens its gateway socket."""

    rest_base: str
    gateway: str

    @property
    def is_discord(self) -> bool:
        """Return whether this is the real Discord REST API."""
        return self.rest_base == DISCORD_API_BASE


def current_target() -> ApiTarget:
    """Return the REST base and gateway discord.py uses right now."""
    return ApiTarget(
        rest_base=discord.http.Route.BASE,
        gateway=str(discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY),
    )


def use_api_base(base: str | None, *, gateway_url: str | None = None) -> ApiTarget:
    """Send discord.py's REST calls to `<base>/api/v10` (None: real Discord); process-wide.

    The gateway stays Discord's unless `gateway_url` is given: a REST proxy only proxies REST.
    A server that also hosts the gateway (the sandbox) says where through `GET /gateway/bot`;
    `adopt_gateway_from_api()` reads it once the client has logged in. Return the old target.
    """
    previous = current_target()
    rest = rest_base_for(base)
    gateway = gateway_url or DISCORD_GATEWAY
    _apply(ApiTarget(rest_base=rest, gateway=gateway))
    if base is not None:
        log.info("discord.py REST calls now go to %s", rest)
    return previous


def restore_target(target: ApiTarget) -> None:
    """Put back a target returned by `use_api_base()` or `current_target()`."""
    _apply(target)


@contextlib.contextmanager
def api_base(base: str | None, *, gateway_url: str | None = None) -> Iterator[ApiTarget]:
    """Use another API base inside a `with` block and restore the previous one after."""
    previous = use_api_base(base, gateway_url=gateway_url)
    try:
        yield current_target()
    finally:
        restore_target(previous)


async def adopt_gateway_from_api(http: discord.http.HTTPClient) -> str | None:
    """Ask the configured REST base for its gateway (`GET /gateway/bot`) and use it.

    Does nothing against real Discord (discord.py's default is already right). Needs a logged-in
    `HTTPClient` (call from `setup_hook`). Return the gateway URL now in use, or None if unchanged.
    """
    if current_target().is_discord:
        return None
    _shards, url, _limits = await http.get_bot_gateway()
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(url)
    log.info("discord.py gateway now %s", url)
    return url


def _apply(target: ApiTarget) -> None:
    discord.http.Route.BASE = target.rest_base
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(target.gateway)
