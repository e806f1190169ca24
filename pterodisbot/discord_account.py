"""Ask Discord's REST API (or a compatible one) who a bot token belongs to, without discord.py.

`doctor` uses it: `GET /users/@me` says whether the token is accepted and which bot it is,
`GET /users/@me/guilds` which guilds that bot is in. Plain aiohttp, so checking a token changes
none of discord.py's process-wide settings. The token goes only into the Authorization header.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any, Final

import aiohttp

API_VERSION: Final = 10
DISCORD_API_BASE: Final = f"https://discord.com/api/v{API_VERSION}"
# Per request; Discord answers in well under a second.
_TIMEOUT: Final = aiohttp.ClientTimeout(total=10)
# Discord's largest page of `GET /users/@me/guilds`.
_GUILD_PAGE: Final = 200


def rest_base_for(base: str | None) -> str:
    """Return the versioned REST base: Discord's for None, else `<base>/api/v10`."""
    if base is None:
        return DISCORD_API_BASE
    return f"{base.rstrip('/')}/api/v{API_VERSION}"


class DiscordCheckFailure(enum.Enum):
    """Why a token check gave no account."""

    REFUSED = "refused"  # 401: the token is wrong, reset or revoked
    UNREACHABLE = "unreachable"  # no connection, or no answer in time
    UNEXPECTED = "unexpected"  # another status, or an answer that is not what Discord sends


class DiscordCheckError(Exception):
    """A token check failed; `reason` says how, `status` is the HTTP status when there was one."""

    def __init__(
        self, message: str, *, reason: DiscordCheckFailure, status: int | None = None
    ) -> None:
        super().__init__(message)
        self.reason = reason
        self.status = status


@dataclass(frozen=True, slots=True)
class BotGuild:
    """A guild the bot is in."""

    id: int
    name: str


@dataclass(frozen=True, slots=True)
class BotAccount:
    """The user a bot token belongs to, and the guilds it is in."""

    id: int
    name: str
    guilds: tuple[BotGuild, ...]


async def fetch_bot_account(token: str, *, api_base: str | None = None) -> BotAccount:
    """Return the account of `token` on `api_base` (None: Discord); raise `DiscordCheckError`."""
    rest = rest_base_for(api_base)
    headers = {"Authorization": f"Bot {token}"}
    async with aiohttp.ClientSession() as http:
        me = await _get(http, rest, "/users/@me", headers)
        guilds = await _get(http, rest, "/users/@me/guilds", headers, limit=_GUILD_PAGE)
    try:
        return BotAccount(
            id=int(me["id"]),
            name=str(me["username"]),
            guilds=tuple(BotGuild(id=int(g["id"]), name=str(g["name"])) for g in guilds),
        )
    except (KeyError, TypeError, ValueError):
        raise DiscordCheckError(
            f"{rest} answered with something that is not a Discord user and its guilds",
            reason=DiscordCheckFailure.UNEXPECTED,
        ) from None


async def _get(
    http: aiohttp.ClientSession, rest: str, route: str, headers: dict[str, str], **query: int
) -> Any:
    try:
        async with http.get(
            rest + route, params=query, headers=headers, timeout=_TIMEOUT
        ) as answer:
            if answer.status == 401:
                raise DiscordCheckError(
                    "401 Unauthorized", reason=DiscordCheckFailure.REFUSED, status=401
                )
            if answer.status != 200:
                raise DiscordCheckError(
                    f"GET {route} answered HTTP {answer.status}",
                    reason=DiscordCheckFailure.UNEXPECTED,
                    status=answer.status,
                )
            try:
                return await answer.json(content_type=None)
            except ValueError:
                raise DiscordCheckError(
                    f"GET {route} answered with something that is not JSON",
                    reason=DiscordCheckFailure.UNEXPECTED,
                    status=answer.status,
                ) from None
    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
        detail = "no answer in time" if isinstance(exc, TimeoutError) else _short(exc)
        raise DiscordCheckError(detail, reason=DiscordCheckFailure.UNREACHABLE) from None


def _short(exc: BaseException) -> str:
    # aiohttp's connection errors repeat the host and port; the OS's reason is what is new.
    if isinstance(exc, aiohttp.ClientConnectorError):
        if isinstance(exc.os_error, ConnectionRefusedError):
            return "connection refused"
        return exc.os_error.strerror or str(exc.os_error)
    return str(exc) or exc.__class__.__name__
