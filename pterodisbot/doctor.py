"""`python -m pterodisbot doctor`: reach the panel and Discord as the bot would and say what works.

It checks the API key (a client key, accepted), lists the servers the key sees, reads each
watched server's resources once (inside the configured request budget) and names every server
it cannot read, and why. Then, when `DISCORD_TOKEN` is set, it asks Discord (`[discord] api_base`)
whose token it is (`GET /users/@me`) and which guilds that bot is in (`GET /users/@me/guilds`),
and says so in one line; without a token that line says the token was not checked. Last, it
opens the history store (`[history] url`) as the bot would and closes it again: one line, the
store's problem and its fix when it cannot.

Exit codes: 0 when every check passed (the bot can run; without a token, the panel side is
ready), 1 when something must be fixed first (a line marked ✗ says what), and 2, from
`__main__`, when the configuration itself has problems (nothing is contacted then).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import TextIO

import aiohttp

from pterodisbot.clock import Clock
from pterodisbot.config import (
    TOKEN_BUDGET_SHARE,
    TOKEN_ENV,
    DiscordSettings,
    HistorySettings,
    Settings,
)
from pterodisbot.discord_account import (
    BotAccount,
    DiscordCheckError,
    DiscordCheckFailure,
    fetch_bot_account,
    rest_base_for,
)
from pterodisbot.log_setup import RedactingFilter
from pterodisbot.panel.client import PterodactylAPI
from pterodisbot.panel.errors import (
    AuthFailure,
    ConflictReason,
    PanelAuthError,
    PanelConflict,
    PanelError,
    PanelNotFound,
    PanelUnavailable,
)
from pterodisbot.panel.models import Account, Resources, Server
from pterodisbot.query import QueryProtocol, QuerySettings
from pterodisbot.query.detect import target_for
from pterodisbot.store import StoreError, StoreFailure, open_store, store_problem
from pterodisbot.units import format_bytes

OK = "✓"
NOTE = "!"
FAIL = "✗"

EXIT_CAN_RUN = 0
EXIT_CANNOT_RUN = 1

# Seconds doctor waits for the history store to open: a database that does not answer by then
# is reported unreachable rather than left hanging.
HISTORY_OPEN_TIMEOUT = 20.0
# Resources calls in flight at once; the rate budget paces them, this only bounds sockets.
_CONCURRENCY = 8
_NAME_WIDTH = 28
# Guilds named in the Discord line; more are counted.
_GUILDS_SHOWN = 3
# What a 409 means, in the words of a server line ("cannot be read: <words> (409: ...)").
_CONFLICT_WORDS: Mapping[ConflictReason, str] = MappingProxyType(
    {
        ConflictReason.SUSPENDED: "suspended",
        ConflictReason.INSTALLING: "installing",
        ConflictReason.RESTORING_BACKUP: "restoring a backup",
        ConflictReason.TRANSFERRING: "being transferred to another node",
        ConflictReason.NODE_MAINTENANCE: "its node is under maintenance",
    }
)
_FAILED_INSTALL_STATUSES = frozenset({"install_failed", "reinstall_failed"})


@dataclass(frozen=True, slots=True)
class ServerCheck:
    """What one watched server's resources call gave: a reading, or why there is none."""

    server: Server
    resources: Resources | None = None
    reason: str | None = None
    # True for a fault of the panel itself (5xx, timeout, bad answer), not a server's state.
    failed: bool = False


async def run_doctor(
    settings: Settings,
    *,
    out: TextIO,
    clock: Clock | None = None,
    session: aiohttp.ClientSession | None = None,
) -> int:
    """Check the panel (and the bot token, when set) and print a report; return the exit code."""
    redactor = RedactingFilter(settings.secret_values())

    def say(line: str) -> None:
        # Every line passes the same scrubber as the logs: the report must never show a secret.
        print(redactor.redact(line), file=out, flush=True)

    panel = settings.pterodactyl
    say(f"pterodisbot doctor — panel {panel.url}")
    api = PterodactylAPI.from_settings(panel, clock=clock, session=session)
    async with api:
        healthy = await _diagnose(api, settings, say)
    discord_ok = await _check_discord(settings.discord, say)
    history_ok = await _check_history(settings.history, say)
    if healthy and discord_ok and history_ok:
        if not settings.discord.token:
            say("doctor: the panel side is ready; the bot token was not checked")
        else:
            say("doctor: the bot can run with this configuration")
        return EXIT_CAN_RUN
    say(f"doctor: the bot cannot run yet — fix the lines marked {FAIL} above")
    return EXIT_CANNOT_RUN


async def _diagnose(api: PterodactylAPI, settings: Settings, say: Callable[[str], None]) -> bool:
    account = await _check_key(api, say)
    if account is None:
        return False

    try:
        servers = await api.list_servers()
    except PanelError as error:
        say(f"  {FAIL} listing the servers failed: {error}")
        return False
    if not servers:
        say(
            f"  {FAIL} the key's user ({account.username}) sees no servers: make it the owner or "
            "a subuser of the servers the bot should show"
        )
        return False

    healthy = True
    wanted = settings.monitoring.servers
    by_id = {server.identifier: server for server in servers}
    missing = [identifier for identifier in wanted if identifier not in by_id]
    if missing:
        healthy = False
        say(
            f"  {FAIL} monitoring.servers lists {', '.join(missing)}, which the key cannot see: "
            "check the identifiers, or make the key's user owner or subuser of them"
        )
    watched = [by_id[i] for i in wanted if i in by_id] if wanted else servers
    scope = f"watching {len(watched)} of them" if wanted else "watching all of them"
    say(f"  {OK} the key sees {len(servers)} server(s), {scope}")

    budget = api.budget.capacity
    if len(watched) > budget:
        minutes = math.ceil(len(watched) / budget)
        say(f"    reading {len(watched)} servers within {budget} requests/min takes ~{minutes} min")
    checks = await _read_all(api, watched)
    for line in _server_lines(checks):
        say(line)
    if any(check.failed for check in checks):
        healthy = False
    readable = sum(1 for check in checks if check.resources is not None)
    waiting = sum(1 for check in checks if check.resources is None and not check.failed)
    summary = f"{readable} of {len(checks)} watched server(s) readable"
    if waiting:
        summary += f"; {waiting} cannot be read now (their state, not a fault: see {NOTE} above)"
    say(f"  {OK if readable else NOTE} {summary}")

    say(_budget_line(api, settings, len(watched)))
    say(_query_line(settings.query, watched))
    return healthy


async def _check_key(api: PterodactylAPI, say: Callable[[str], None]) -> Account | None:
    try:
        account = await api.check_key()
    except PanelAuthError as error:
        if error.reason is AuthFailure.APPLICATION_KEY or _says_application_key(error):
            say(
                f"  {FAIL} the API key is an application key: the client API the bot uses "
                "refuses it (403). Create a client key (ptlc_…) under Account → API Credentials "
                "and put it in PTERODACTYL_API_KEY"
            )
        else:
            say(f"  {FAIL} the panel refused the API key: {error}")
        return None
    except PanelError as error:
        say(f"  {FAIL} could not check the API key: {error}")
        return None
    kind = {"client": "a client key", "unknown": "a client key (an older one, without ptlc_)"}
    role = "a panel admin" if account.admin else "not a panel admin"
    say(
        f"  {OK} panel reachable; the API key is {kind.get(api.key_kind, api.key_kind)} of "
        f"user {account.username!r} ({role})"
    )
    return account


async def _check_discord(discord: DiscordSettings, say: Callable[[str], None]) -> bool:
    """Say in one line whose the bot token is and where that bot is; return False on a fault."""
    if not discord.token:
        say(f"  {NOTE} Discord not checked: {TOKEN_ENV} is not set (run needs it; doctor does not)")
        return True
    try:
        account = await fetch_bot_account(discord.token.reveal(), api_base=discord.api_base)
    except DiscordCheckError as error:
        say(f"  {FAIL} {_discord_failure(error, discord.api_base)}")
        return False
    line, ok = _discord_account_line(account, discord.guild_ids)
    say(line)
    return ok


async def _check_history(history: HistorySettings, say: Callable[[str], None]) -> bool:
    """Open the history store as the bot would, and close it; return False when it cannot."""
    store = open_store(history.url)
    if store is None:
        say(
            f"  {NOTE} history off ([history] url = none): no /server_history, and the live "
            "graphs start empty after a restart"
        )
        return True
    try:
        try:
            await asyncio.wait_for(store.open(), HISTORY_OPEN_TIMEOUT)
            size = await store.size_bytes()
        except TimeoutError:
            raise StoreError(
                StoreFailure.UNREACHABLE, f"no answer within {HISTORY_OPEN_TIMEOUT:g} s"
            ) from None
    except StoreError as error:
        say(f"  {FAIL} {store_problem(store.shown, error)}")
        return False
    finally:
        with contextlib.suppress(StoreError):
            await store.close()
    say(f"  {OK} history store {store.shown} opens ({format_bytes(size)} on disk)")
    return True


def _discord_failure(error: DiscordCheckError, api_base: str | None) -> str:
    if error.reason is DiscordCheckFailure.REFUSED:
        return (
            "Discord refused the bot token (401 Unauthorized): set DISCORD_TOKEN to the token "
            "from the Developer Portal (Bot → Reset Token), without 'Bot '"
        )
    where = rest_base_for(api_base)
    if error.reason is DiscordCheckFailure.UNREACHABLE:
        fix = "check [discord] api_base" if api_base is not None else "check the network"
        return f"Discord not reachable at {where} ({error}): {fix}"
    return f"Discord at {where} gave an unexpected answer: {error}"


def _discord_account_line(account: BotAccount, guild_ids: Sequence[int]) -> tuple[str, bool]:
    """Return the Discord line for an accepted token, and whether it needs no fix."""
    head = (
        f"Discord accepted the bot token: bot {account.name!r} (id {account.id}); "
        "it needs no privileged intent"
    )
    names = {guild.id: guild.name for guild in account.guilds}
    if guild_ids:
        missing = [guild_id for guild_id in guild_ids if guild_id not in names]
        if missing:
            listed = ", ".join(map(str, missing))
            return (
                f"  {FAIL} {head}, but it is not in guild(s) {listed} of discord.guild_ids: "
                "invite it there (scopes bot and applications.commands), or remove the id(s)",
                False,
            )
        return f"  {OK} {head}; in every configured guild: {_guild_list(names, guild_ids)}", True
    if not account.guilds:
        return (
            f"  {NOTE} {head}; it is in no guild yet: invite it (scopes bot and "
            "applications.commands), its commands appear in each guild it joins",
            True,
        )
    return f"  {OK} {head}; serves every guild it is in: {_guild_list(names, list(names))}", True


def _guild_list(names: Mapping[int, str], guild_ids: Sequence[int]) -> str:
    shown = [f"{names[guild_id]} ({guild_id})" for guild_id in guild_ids[:_GUILDS_SHOWN]]
    more = len(guild_ids) - len(shown)
    return ", ".join(shown) + (f" and {more} more" if more else "")


def _says_application_key(error: PanelAuthError) -> bool:
    # A key without a prefix can still be an application key: the panel's 403 says so.
    return error.status == 403 and "application api key" in (error.detail or "").lower()


async def _read_all(api: PterodactylAPI, servers: Sequence[Server]) -> list[ServerCheck]:
    """Read every server's resources once; the client's budget keeps the pace."""
    gate = asyncio.Semaphore(_CONCURRENCY)

    async def read(server: Server) -> ServerCheck:
        async with gate:
            try:
                return ServerCheck(server, resources=await api.get_resources(server.identifier))
            except PanelConflict as error:
                return ServerCheck(
                    server, reason=f"{_conflict_words(error, server)} (409{_said(error)})"
                )
            except PanelUnavailable as error:
                if error.node_down:
                    return ServerCheck(
                        server,
                        reason=f"its node {server.node!r} is down or unreachable from the panel "
                        "(504)",
                    )
                return ServerCheck(server, reason=str(error), failed=True)
            except PanelAuthError as error:
                return ServerCheck(
                    server,
                    reason="the key's user may not read it (403): give the subuser access to "
                    f"it, or drop it from monitoring.servers{_said(error, ' — ')}",
                )
            except PanelNotFound:
                return ServerCheck(server, reason="gone since the listing (404)")
            except PanelError as error:
                return ServerCheck(server, reason=str(error), failed=True)

    return list(await asyncio.gather(*(read(server) for server in servers)))


def _said(error: PanelError, sep: str = ": ") -> str:
    return f"{sep}{error.detail}" if error.detail else ""


def _conflict_words(error: PanelConflict, server: Server) -> str:
    """Name the state behind a 409: the panel's reason, told apart by the listing's status."""
    # The panel says "not yet installed" both while installing and after a failed install;
    # only the server's status (from the listing) tells the two apart.
    if error.reason is ConflictReason.INSTALLING and server.status in _FAILED_INSTALL_STATUSES:
        return "its installation failed"
    return _CONFLICT_WORDS.get(error.reason, "busy")


def _server_lines(checks: Sequence[ServerCheck]) -> list[str]:
    lines = ["  servers:"]
    for check in checks:
        server = check.server
        name = server.name if len(server.name) <= _NAME_WIDTH else server.name[:27] + "…"
        head = f"{server.identifier:<8}  {name:<{_NAME_WIDTH}}"
        if check.resources is not None:
            res = check.resources
            state = res.state.value
            lines.append(
                f"    {OK} {head}  {state:<8}  CPU {res.cpu_absolute:.0f}%  "
                f"memory {format_bytes(res.memory_bytes)}"
            )
        else:
            mark = FAIL if check.failed else NOTE
            lines.append(f"    {mark} {head}  cannot be read: {check.reason}")
    return lines


def _query_line(settings: QuerySettings, servers: Sequence[Server]) -> str:
    """Say which servers' games are asked for their players, by protocol, and which are not."""
    if not settings.enabled:
        return f"  {NOTE} players online off ([query] enabled = false): no game is asked"
    targets = [target_for(s, settings.servers.get(s.identifier)) for s in servers]
    counts = {
        protocol: sum(1 for t in targets if t is not None and t.protocol is protocol)
        for protocol in QueryProtocol
    }
    asked = sum(counts.values())
    by_protocol = ", ".join(f"{n} {p.value}" for p, n in counts.items() if n)
    line = f"  {OK if asked else NOTE} players online: {asked} of {len(servers)} server(s) asked"
    line += f" while running ({by_protocol})" if asked else ""
    if asked < len(servers):
        line += (
            f"; {len(servers) - asked} not asked (no known game query: set [query.<server>] "
            "protocol, host and port for those that answer one)"
        )
    return line


def _budget_line(api: PterodactylAPI, settings: Settings, watched: int) -> str:
    monitoring = settings.monitoring
    configured = settings.pterodactyl.requests_per_minute
    budget = api.budget.capacity
    needed = monitoring.requests_per_minute(watched)
    limit_note = (
        f" (the panel allows only {budget}/min: lower requests_per_minute to match)"
        if budget < configured
        else ""
    )
    stream_line = ""
    if monitoring.streams:
        # Streaming costs token requests, paced within half the budget; polling is the fallback.
        tokens = monitoring.token_requests_per_minute(watched)
        share = budget * TOKEN_BUDGET_SHARE
        mark = OK if tokens <= share else NOTE
        stream_line = (
            f"  {mark} streaming {watched} server(s) over Wings needs about {tokens:.0f} token "
            f"requests/min, {'within' if tokens <= share else 'above'} the {share:.0f}/min "
            "(half the budget) kept for them; a server that cannot stream is polled:\n"
        )
    if needed <= budget:
        return stream_line + (
            f"  {OK} polling {watched} server(s) every {monitoring.poll_interval:g} s needs about "
            f"{needed:.0f} requests/min, within the budget of {budget}/min{limit_note}"
        )
    slowest = math.ceil(watched * 60 / max(1.0, budget - 60 / monitoring.server_list_refresh))
    return stream_line + (
        f"  {NOTE} polling {watched} server(s) every {monitoring.poll_interval:g} s needs about "
        f"{needed:.0f} requests/min, more than the budget of {budget}/min{limit_note}: "
        f"polls will fall behind; set [monitoring] poll_interval to {slowest} s or more"
    )
