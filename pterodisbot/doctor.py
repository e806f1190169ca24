"""`python -m pterodisbot doctor`: reach the panel as the bot would and say what works.

It checks the API key (a client key, accepted), lists the servers the key sees, reads each
watched server's resources once (inside the configured request budget) and names every server
it cannot read, and why. Exit 0 when the bot could run, 1 when something must be fixed first.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TextIO

import aiohttp

from pterodisbot.clock import Clock
from pterodisbot.config import Settings
from pterodisbot.log_setup import RedactingFilter
from pterodisbot.panel.client import PterodactylAPI
from pterodisbot.panel.errors import (
    AuthFailure,
    PanelAuthError,
    PanelConflict,
    PanelError,
    PanelNotFound,
    PanelUnavailable,
)
from pterodisbot.panel.models import Account, Resources, Server
from pterodisbot.units import format_bytes

OK = "✓"
NOTE = "!"
FAIL = "✗"

EXIT_CAN_RUN = 0
EXIT_CANNOT_RUN = 1

# Resources calls in flight at once; the rate budget paces them, this only bounds sockets.
_CONCURRENCY = 8
_NAME_WIDTH = 28


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
    """Check the panel with the configured key and print a report; return the exit code."""
    redactor = RedactingFilter(settings.secret_values())

    def say(line: str) -> None:
        # Every line passes the same scrubber as the logs: the report must never show a secret.
        print(redactor.redact(line), file=out, flush=True)

    panel = settings.pterodactyl
    say(f"pterodisbot doctor — panel {panel.url}")
    api = PterodactylAPI.from_settings(panel, clock=clock, session=session)
    async with api:
        healthy = await _diagnose(api, settings, say)
    if healthy:
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
                return ServerCheck(server, reason=f"{_conflict_reason(server)} (409{_said(error)})")
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


def _conflict_reason(server: Server) -> str:
    """Name the state behind a 409 from what the server listing said."""
    if server.is_suspended or server.status == "suspended":
        return "suspended"
    if server.status in {"install_failed", "reinstall_failed"}:
        return "its installation failed"
    if server.is_installing or server.status == "installing":
        return "installing"
    if server.status == "restoring_backup":
        return "restoring a backup"
    if server.is_transferring:
        return "being transferred to another node"
    if server.is_node_under_maintenance:
        return "its node is under maintenance"
    return "busy"


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
    if needed <= budget:
        return (
            f"  {OK} polling {watched} server(s) every {monitoring.poll_interval:g} s needs about "
            f"{needed:.0f} requests/min, within the budget of {budget}/min{limit_note}"
        )
    slowest = math.ceil(watched * 60 / max(1.0, budget - 60 / monitoring.server_list_refresh))
    return (
        f"  {NOTE} polling {watched} server(s) every {monitoring.poll_interval:g} s needs about "
        f"{needed:.0f} requests/min, more than the budget of {budget}/min{limit_note}: "
        f"polls will fall behind; set [monitoring] poll_interval to {slowest} s or more"
    )
