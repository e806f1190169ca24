"""Clicks on status embed buttons: who may, the confirm step, the panel call, the answer, the audit.

Every click is checked from scratch (guild, server, the member's live roles): a button carries no
authority of its own. The click is acknowledged at once, before the panel is called, so Discord's
3 s window never runs out however slow the panel is; that one private message is then edited to
the outcome, so a click leaves one answer, not a trail of them.

A signal the panel accepted settles for `SETTLE_SECONDS`: the same action again (or one it already
covers) is answered, not sent. A Kill is sent only after a fresh read of the server says it is
still stopping or starting. On shutdown, actions already acknowledged finish (or are told their
outcome is unknown) and are audited before the panel session and Discord close.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import Awaitable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

import discord
from discord.ext import commands

from pterodisbot.alerts import PowerEvent, PowerSource
from pterodisbot.bot.audit import AuditEntry, Outcome
from pterodisbot.bot.embeds import format_address, truncate
from pterodisbot.bot.views import (
    HANDLER_COG,
    POWER_ACTIONS,
    ButtonAction,
    ButtonRef,
    ServerButton,
    Step,
    build_confirm_view,
)
from pterodisbot.monitor import ServerStatus
from pterodisbot.panel.client import PterodactylAPI
from pterodisbot.panel.errors import (
    AuthFailure,
    ConflictReason,
    PanelAuthError,
    PanelConflict,
    PanelError,
    PanelInvalidRequest,
    PanelNotFound,
    PanelRateLimited,
    PanelUnavailable,
    UnavailableReason,
)
from pterodisbot.panel.models import PowerSignal, PowerState
from pterodisbot.permissions import Action

if TYPE_CHECKING:
    from pterodisbot.bot.bot import PterodactylBot
    from pterodisbot.bot.services import BotServices
    from pterodisbot.panel.models import Server

log = logging.getLogger(__name__)

T = TypeVar("T")

# Actions that end players' sessions: these ask "are you sure?" when confirm_dangerous is on.
DANGEROUS: frozenset[ButtonAction] = frozenset(
    {ButtonAction.STOP, ButtonAction.RESTART, ButtonAction.KILL}
)
# Seconds a click may wait for the shared rate budget before "the panel is busy" (nothing sent).
_BUDGET_WAIT = 3.0
# Seconds the panel call may take beyond the client's own timeout before the user is told it has
# not answered (a safety net: the client's timeout normally ends it first).
_EXTRA_WAIT = 2.0
_BUSY = (
    "The panel is busy: the bot is at its panel request limit for the moment. "
    "Nothing was sent; try again in a few seconds."
)
# Seconds a "Yes, restart" stays valid: an old confirm message must not fire by surprise.
CONFIRM_TTL = 300.0
# The monitor's reason for an unknown state is a hint in a sentence, not a log.
_REASON_LIMIT = 120
# Seconds after the panel accepted a signal during which the same action on that server (or one
# it already covers, see `settled_by`) is answered instead of sent: impatient clicks while the
# embed has not caught up yet must not restart a server six times.
SETTLE_SECONDS = 30.0
# Seconds kept, out of the shutdown's time for clicks in flight, to answer and audit the ones the
# panel has not answered by then.
_ANSWER_RESERVE = 1.5

# What a signal sent moments ago already does for a new click: restart after restart, stop after
# stop or kill, start after start or restart. Anything else is a new meaning and is sent.
_COVERED_BY: dict[ButtonAction, frozenset[ButtonAction]] = {
    ButtonAction.START: frozenset({ButtonAction.START, ButtonAction.RESTART}),
    ButtonAction.STOP: frozenset({ButtonAction.STOP, ButtonAction.KILL}),
    ButtonAction.RESTART: frozenset({ButtonAction.RESTART}),
    ButtonAction.KILL: frozenset({ButtonAction.KILL}),
}
_UNDER_WAY: dict[ButtonAction, str] = {
    ButtonAction.START: "is already starting",
    ButtonAction.STOP: "is already stopping",
    ButtonAction.RESTART: "is already restarting",
    ButtonAction.KILL: "was just killed",
}

_VERBS: dict[ButtonAction, tuple[str, str]] = {
    ButtonAction.START: ("start", "Starting"),
    ButtonAction.STOP: ("stop", "Stopping"),
    ButtonAction.RESTART: ("restart", "Restarting"),
    ButtonAction.KILL: ("kill", "Killing"),
    ButtonAction.ADDRESS: ("see the address of", "Showing the address of"),
}

NOT_HERE = "Server controls work only inside the Discord servers this bot serves."
SHUTTING_DOWN = (
    "The bot is shutting down, so nothing was sent to the panel. Try again in a minute, once "
    "it is back."
)
INVALID_BUTTON = (
    "This button is not one I recognise (it may come from an older version of the bot). "
    "Nothing was sent to the panel. Post a fresh status embed with /server_status."
)


def bold(name: str) -> str:
    """Return a server name in bold, its markdown escaped."""
    return f"**{discord.utils.escape_markdown(name)}**"


def verb(action: ButtonAction) -> str:
    """Return the action as a verb ("restart")."""
    return _VERBS[action][0]


def progress_text(action: ButtonAction, server_name: str) -> str:
    """Return the first answer to a power click ("Restarting **Survival-1**…")."""
    return f"{_VERBS[action][1]} {bold(server_name)}…"


def success_text(action: ButtonAction, server_name: str) -> str:
    """Return the follow-up after the panel accepted a power signal."""
    name = bold(server_name)
    if action is ButtonAction.KILL:
        return f"Killed {name}: the panel stopped its process at once."
    if action is ButtonAction.START:
        return f"The panel accepted: {name} is starting. The status embed follows it."
    if action is ButtonAction.STOP:
        return f"The panel accepted: {name} is stopping. The status embed follows it."
    return f"The panel accepted: {name} is restarting. The status embed follows it."


def redundant_text(action: ButtonAction, status: ServerStatus, server_name: str) -> str | None:
    """Return why an action is pointless in `status` (nothing is sent), or None if it is not."""
    name = bold(server_name)
    if action is ButtonAction.START and status in (ServerStatus.RUNNING, ServerStatus.STARTING):
        return f"{name} is already {status.value}. Nothing was sent."
    if action is ButtonAction.STOP and status in (ServerStatus.OFFLINE, ServerStatus.STOPPING):
        return f"{name} is already {status.value}. Nothing was sent."
    if action is ButtonAction.RESTART and status is ServerStatus.STOPPING:
        return f"{name} is stopping right now. Start it once it is offline, or Kill it if it hangs."
    if action is ButtonAction.KILL and status is ServerStatus.OFFLINE:
        return f"{name} is already offline. Nothing was sent."
    return None


def unknown_text(action: ButtonAction, server_name: str, reason: str | None) -> str:
    """Return why nothing is sent while the server's state is unknown (a stale button's click)."""
    why = ""
    if reason:
        short = truncate(" ".join(reason.split()), _REASON_LIMIT)
        why = f" ({discord.utils.escape_markdown(short)})"
    return (
        f"The state of {bold(server_name)} is unknown right now{why}, so nothing was sent: "
        f"a {verb(action)} could not get through either. Try again once the status embed "
        "shows the server's state."
    )


def failure_text(
    error: PanelError, action: ButtonAction, server_name: str, *, timeout: float
) -> str:
    """Turn a panel error into one sentence an admin understands, saying what did happen."""
    name, what = bold(server_name), verb(action)
    if isinstance(error, PanelConflict):
        if error.reason is ConflictReason.INSTALLING:
            return f"{name} is still installing. The panel will not {what} it until that finishes."
        if error.reason is ConflictReason.SUSPENDED:
            return f"{name} is suspended on the panel; a panel admin must unsuspend it first."
        if error.reason is ConflictReason.TRANSFERRING:
            return f"{name} is being moved to another node. Try again once the transfer is done."
        if error.reason is ConflictReason.RESTORING_BACKUP:
            return f"{name} is restoring a backup. Try again once the restore is done."
        if error.reason is ConflictReason.NODE_MAINTENANCE:
            return f"The node of {name} is under maintenance. Try again when it is back."
        return f"The panel says {name} cannot {what} right now. Nothing happened."
    if isinstance(error, PanelAuthError):
        if error.reason is AuthFailure.FORBIDDEN:
            return (
                f"The panel refused: the API key lacks control permission on {name}. Give the "
                "key's user the Control permissions for this server in the panel."
            )
        return (
            "The panel refused the bot's API key (wrong, revoked or an application key). "
            "Nothing was sent; the bot's operator must fix the key."
        )
    if isinstance(error, PanelRateLimited):
        wait = max(1, math.ceil(error.retry_after))
        return f"The panel is busy; try again in {wait} s. Nothing was sent."
    if isinstance(error, PanelUnavailable):
        if error.reason is UnavailableReason.NODE_DOWN:
            return (
                f"The panel cannot reach the node that runs {name}, so nothing happened. "
                "Try again when the node is back."
            )
        if error.reason is UnavailableReason.TIMEOUT:
            return (
                f"The panel did not answer within {timeout:g} s. The {what} may still happen: "
                "watch the status embed before trying again."
            )
        if error.reason is UnavailableReason.SERVER_ERROR:
            status = f" ({error.status})" if error.status else ""
            return (
                f"The panel failed{status} and did not confirm the {what} of {name}. "
                "Watch the status embed, then try again in a minute."
            )
        if error.reason is UnavailableReason.TLS:
            return "The bot cannot connect securely to the panel. Nothing was sent."
        return (
            f"The connection to the panel failed; the {what} of {name} may not have reached it. "
            "Watch the status embed, then try again."
        )
    if isinstance(error, PanelNotFound):
        return f"The panel no longer has {name}: it was deleted, or the key lost access to it."
    if isinstance(error, PanelInvalidRequest):
        return f"The panel rejected the {what} request as invalid. Nothing happened."
    status = f" ({error.status})" if error.status else ""
    return f"The panel answered with an error{status}; the {what} of {name} may not have happened."


def settled_by(previous: ButtonAction, action: ButtonAction) -> bool:
    """Tell whether `action` is already done by `previous`, sent moments ago (pure)."""
    return previous in _COVERED_BY.get(action, frozenset())


def settling_text(previous: ButtonAction, who: str, ago: float, server_name: str) -> str:
    """Return why a click repeating a signal sent `ago` seconds earlier is not sent again."""
    seconds = max(0, math.floor(ago))
    name, by = bold(server_name), discord.utils.escape_markdown(who)
    return (
        f"{name} {_UNDER_WAY[previous]} (asked by {by} {seconds} s ago). Nothing more was sent: "
        "the status embed follows it."
    )


def kill_refusal(state: PowerState, server_name: str) -> str | None:
    """Return why a Kill is refused in the freshly read `state`, or None to send it (pure).

    A Kill is meant for a server stuck stopping (or starting); on a running server it would throw
    away what players did since the last save, so an old button must not fire.
    """
    name = bold(server_name)
    if state is PowerState.RUNNING:
        return (
            f"{name} is running again: this Kill button is from when it was stopping or stuck. "
            "Nothing was sent; the status embed now shows its current state."
        )
    if state is PowerState.OFFLINE:
        return f"{name} is already offline. Nothing was sent."
    return None


def kill_unread_text(server_name: str) -> str:
    """Return why a Kill is not sent when the panel did not say the server's state."""
    return (
        f"The panel did not say what state {bold(server_name)} is in right now, so the kill was "
        "not sent: a kill is only sent to a server that is really stopping or starting. Try "
        "again in a moment."
    )


def stopped_text(action: ButtonAction, server_name: str) -> str:
    """Return what a user learns when the bot stopped before the panel answered their click."""
    return (
        f"The bot was stopped before the panel answered, so whether the {verb(action)} of "
        f"{bold(server_name)} happened is unknown. Check the server on the panel (or its status "
        "embed once the bot is back) before trying again."
    )


def address_text(server: Server) -> str:
    """Return the server's addresses, primary first, each in a copyable code span."""
    if not server.allocations:
        return f"{bold(server.name)} has no address the bot can see."
    lines = [f"Connect to {bold(server.name)} with:"]
    for index, allocation in enumerate(server.allocations):
        note = " (primary)" if index == 0 else ""
        if allocation.notes:
            note += f" — {discord.utils.escape_markdown(allocation.notes[:80])}"
        lines.append(f"`{format_address(allocation)}`{note}")
    return "\n".join(lines)


@dataclass(frozen=True, slots=True)
class Pending:
    """A power action waiting for the panel's answer."""

    action: ButtonAction
    user_id: int
    user_name: str


@dataclass(frozen=True, slots=True)
class Sent:
    """A power signal the panel accepted: which, who asked, when (the clock's monotonic time)."""

    action: ButtonAction
    user_name: str
    at: float


class Power(commands.Cog, name=HANDLER_COG):
    """Answer status embed buttons: start, stop, restart, kill, show address."""

    def __init__(self, bot: PterodactylBot, services: BotServices, power_api: PterodactylAPI):
        self.bot = bot
        self.services = services
        self.power_api = power_api
        self._pending: dict[str, Pending] = {}
        # The last signal the panel accepted, per server (see SETTLE_SECONDS).
        self._sent: dict[str, Sent] = {}
        # Clicks acknowledged and not yet answered and audited; shutdown waits for them.
        self._in_flight = 0
        self._idle = asyncio.Event()
        self._idle.set()
        # Set by `finish_in_flight()`: new power clicks are refused...
        self.closing = False
        # ...and, once its time is up, the ones still waiting on the panel give up.
        self._give_up = asyncio.Event()

    async def cog_unload(self) -> None:
        """Close the power client's HTTP session."""
        await self.power_api.close()

    async def finish_in_flight(self, within: float) -> None:
        """Refuse new power clicks; give those acknowledged `within` seconds to end and answer.

        Called by the bot's `close()` while the panel session, the audit trail and Discord are
        still open. Clicks whose panel call has not ended in time are cancelled and answered that
        their outcome is unknown (audited so), in the last `_ANSWER_RESERVE` seconds.
        """
        self.closing = True
        if self._idle.is_set():
            return
        log.info("shutdown: waiting for %d power action(s) still in progress", self._in_flight)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(max(0.0, within - _ANSWER_RESERVE)):
                await self._idle.wait()
            return
        log.warning(
            "shutdown: %d power action(s) still waiting for the panel; answering that their "
            "outcome is unknown",
            self._in_flight,
        )
        self._give_up.set()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(_ANSWER_RESERVE):
                await self._idle.wait()

    @contextlib.contextmanager
    def _tracked(self) -> Iterator[None]:
        """Count one click as in flight until it is answered and audited."""
        self._in_flight += 1
        self._idle.clear()
        try:
            yield
        finally:
            self._in_flight -= 1
            if self._in_flight == 0:
                self._idle.set()

    async def _unless_given_up(self, call: Awaitable[T]) -> tuple[bool, T | None]:
        """Await `call`; (False, None) if the shutdown gave up on it first (it is cancelled)."""
        task = asyncio.ensure_future(call)
        give_up = asyncio.ensure_future(self._give_up.wait())
        try:
            await asyncio.wait({task, give_up}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            give_up.cancel()
            if not task.done():
                task.cancel()
                # Let it unwind (its HTTP request is abandoned) before answering.
                await asyncio.wait({task})
        if task.cancelled():
            return False, None
        return True, task.result()

    # -- one click ------------------------------------------------------------------------------

    async def handle_button(
        self, interaction: discord.Interaction, ref: ButtonRef | None, problem: str | None
    ) -> None:
        """Answer one click on a status embed or confirm message button."""
        click = _Click(self, interaction, ref)
        if ref is None:
            log.warning("refused a click with an invalid custom_id: %s", problem)
            await click.refuse(INVALID_BUTTON, f"invalid button ({problem})")
            return
        if not self.services.serves_guild(interaction.guild_id):
            await click.refuse(NOT_HERE, "outside the bot's guilds")
            return
        member = interaction.user
        if not isinstance(member, discord.Member):
            await click.refuse(NOT_HERE, "not a guild member")
            return
        monitor = self.services.monitor
        server = monitor.servers.get(ref.server_id)
        if server is None and not monitor.servers and monitor.last_cycle_completed is None:
            await click.refuse(
                "I'm still reading the server list from the panel. Try again in a few seconds.",
                "server list not read yet",
            )
            return
        if server is None:
            await click.refuse(
                "I don't control that server (any more). Nothing was sent to the panel.",
                "server not exposed by the configuration",
            )
            return
        click.server = server
        message = interaction.message
        if (
            ref.step is Step.CONFIRM
            and message is not None
            and self.services.clock.time() - message.created_at.timestamp() > CONFIRM_TTL
        ):
            await click.refuse(
                "This confirmation has expired. Use the button on the status embed again.",
                "confirmation expired",
            )
            return
        if ref.step is Step.CANCEL:
            await interaction.response.edit_message(
                content=f"Cancelled: nothing was sent for {bold(server.name)}.", view=None
            )
            await click.audit(True, "cancelled", "cancelled at the confirm step")
            return
        if not self.services.member_allows(member, Action(ref.action.value), server.identifier):
            await click.refuse(
                f"You don't have a role that may {verb(ref.action)} {bold(server.name)}. "
                "Ask the server's admins if you think you should.",
                "no allowed role",
            )
            return
        if ref.action is ButtonAction.ADDRESS:
            await interaction.response.send_message(address_text(server), ephemeral=True)
            await click.audit(True, "shown", "address shown")
            return
        await self._power(click, ref, server)

    async def _power(self, click: _Click, ref: ButtonRef, server: Server) -> None:
        interaction, action = click.interaction, ref.action
        if self.closing:
            await click.refuse(SHUTTING_DOWN, "the bot is shutting down", allowed=True)
            return
        snap = self.services.monitor.snapshots.get(server.identifier)
        if snap is not None and (text := redundant_text(action, snap.status, server.name)):
            await click.refuse(text, f"server already {snap.status.value}", allowed=True)
            return
        if snap is not None and snap.status is ServerStatus.UNKNOWN:
            # The embed's buttons are disabled while the state is unknown; this is an older
            # embed's button, or a click from before the last poll. Whatever kept the panel
            # from answering the poll would keep the signal from the server too.
            await click.refuse(
                unknown_text(action, server.name, snap.error),
                f"server state unknown ({snap.error or 'no answer'})",
                allowed=True,
            )
            return
        busy = self._pending.get(server.identifier)
        if busy is not None:
            who = discord.utils.escape_markdown(busy.user_name)
            await click.refuse(
                f"A {verb(busy.action)} of {bold(server.name)} requested by {who} is still "
                "waiting for the panel. Wait for it to finish.",
                f"{verb(busy.action)} already pending",
                allowed=True,
            )
            return
        sent = self._sent.get(server.identifier)
        ago = self.services.clock.monotonic() - sent.at if sent is not None else 0.0
        if sent is not None and ago < SETTLE_SECONDS and settled_by(sent.action, action):
            await click.refuse(
                settling_text(sent.action, sent.user_name, ago, server.name),
                f"{verb(sent.action)} sent {ago:.0f} s ago by {sent.user_name}",
                allowed=True,
            )
            return
        if (
            ref.step is Step.PRESS
            and action in DANGEROUS
            and self.services.settings.permissions.confirm_dangerous
        ):
            await interaction.response.send_message(
                f"{verb(action).capitalize()} {bold(server.name)}? Players on it will be "
                "disconnected.",
                view=build_confirm_view(action, server.identifier),
                ephemeral=True,
            )
            await click.audit(True, "confirm", "asked to confirm")
            return
        # Claimed before the first await: a second click can only see it taken.
        claim = Pending(action, click.user.id, click.user.name)
        self._pending[server.identifier] = claim
        try:
            with self._tracked():
                await self._act(click, ref, server, claim)
        finally:
            self._release(server.identifier, claim)
        if not self.closing:
            # Redraw at once whatever the answer: the embed shows what the panel now says.
            await self._refresh(server.identifier)

    def _release(self, identifier: str, claim: Pending) -> None:
        """End `claim` on the server, unless a later click holds it already."""
        if self._pending.get(identifier) is claim:
            del self._pending[identifier]

    async def _act(self, click: _Click, ref: ButtonRef, server: Server, claim: Pending) -> None:
        """Acknowledge, check, send, answer and audit one power click (it is in flight)."""
        interaction, action = click.interaction, ref.action
        text = progress_text(action, server.name)
        if ref.step is Step.CONFIRM:
            await interaction.response.edit_message(content=text, view=None)
        else:
            await interaction.response.send_message(text, ephemeral=True)
        if not await self._take_budget():
            await self._conclude(interaction, _BUSY)
            await click.audit(True, "failed", _BUSY)
            return
        if action is ButtonAction.KILL:
            answered, refusal = await self._unless_given_up(self._kill_refusal(server))
            if not answered:
                refusal = SHUTTING_DOWN
            if refusal is not None:
                await self._conclude(interaction, refusal)
                await click.audit(True, "refused", refusal)
                return
            if not await self._take_budget():
                await self._conclude(interaction, _BUSY)
                await click.audit(True, "failed", _BUSY)
                return
        if self._give_up.is_set():
            # The shutdown's time ran out while this click waited for the budget: not sent.
            await self._conclude(interaction, SHUTTING_DOWN)
            await click.audit(True, "refused", "the bot is shutting down")
            return
        # The attempt is on record before the panel can act on it, whatever happens next.
        await click.audit(True, "sending", f"{verb(action)} being sent to the panel")
        # Before the panel can act on it: the offline state that follows is a stop, not a crash.
        self.services.alerts.note_power(
            PowerEvent(
                server=server.identifier,
                signal=PowerSignal(action.value),
                t=self.services.clock.time(),
                actor=click.user.display_name,
                source=PowerSource.BOT,
            )
        )
        started = self.services.clock.monotonic()
        answered, result = await self._unless_given_up(self._send(server, action))
        if answered and result is not None:
            outcome, detail, latency = result
        else:
            outcome, detail = "unknown", stopped_text(action, server.name)
            latency = (self.services.clock.monotonic() - started) * 1000
            log.warning(
                "server %s (%s): %s abandoned by the shutdown before the panel answered",
                server.identifier,
                server.name,
                action.value,
            )
        if outcome == "ok":
            self._sent[server.identifier] = Sent(
                action, click.user.name, self.services.clock.monotonic()
            )
        # The panel has answered: from now on a click is judged by what was sent (settling),
        # not refused as waiting, while the answer and the audit are written.
        self._release(server.identifier, claim)
        await self._conclude(interaction, detail)
        await click.audit(True, outcome, detail, latency_ms=latency)

    async def _kill_refusal(self, server: Server) -> str | None:
        """Read the server's state now; return why a Kill must not be sent, or None."""
        timeout = self.services.settings.pterodactyl.timeout
        try:
            async with asyncio.timeout(timeout + _EXTRA_WAIT):
                resources = await self.power_api.get_resources(server.identifier)
        except (PanelError, TimeoutError) as exc:
            log.info(
                "server %s (%s): kill not sent, its state could not be read (%s)",
                server.identifier,
                server.name,
                exc,
            )
            return kill_unread_text(server.name)
        return kill_refusal(resources.state, server.name)

    async def _take_budget(self) -> bool:
        """Spend a token of the bot's shared panel budget; False if none comes soon enough."""
        try:
            async with asyncio.timeout(_BUDGET_WAIT):
                await self.services.api.budget.acquire()
        except TimeoutError:
            return False
        return True

    async def _send(self, server: Server, action: ButtonAction) -> tuple[Outcome, str, float]:
        """Send the signal; return the outcome, the sentence for the user, and the latency."""
        clock = self.services.clock
        timeout = self.services.settings.pterodactyl.timeout
        started = clock.monotonic()
        try:
            async with asyncio.timeout(timeout + _EXTRA_WAIT):
                await self.power_api.send_power(server.identifier, PowerSignal(action.value))
        except PanelError as exc:
            if isinstance(exc, PanelRateLimited):
                # Polls must back off too: the panel counts every request of this key.
                self.services.api.budget.observe(retry_after=exc.retry_after)
            text = failure_text(exc, action, server.name, timeout=timeout)
            return "failed", text, (clock.monotonic() - started) * 1000
        except TimeoutError:
            text = (
                f"The panel has not answered within {timeout + _EXTRA_WAIT:g} s. The "
                f"{verb(action)} may still happen: watch the status embed before trying again."
            )
            return "failed", text, (clock.monotonic() - started) * 1000
        log.info("server %s (%s): %s sent", server.identifier, server.name, action.value)
        return "ok", success_text(action, server.name), (clock.monotonic() - started) * 1000

    async def _conclude(self, interaction: discord.Interaction, text: str) -> None:
        """Edit the click's one private answer (progress or confirm prompt) to the outcome."""
        try:
            await interaction.edit_original_response(content=text, view=None)
        except discord.HTTPException as exc:
            # The token lasts 15 minutes; past that the audit entry still tells the story.
            log.warning("could not edit the answer of interaction %s: %s", interaction.id, exc)

    async def _refresh(self, identifier: str) -> None:
        try:
            await self.services.board.refresh_server(identifier)
        except Exception:
            # The next regular poll redraws the embed anyway.
            log.exception("server %s: refresh after a power action failed", identifier)


class _Click:
    """One click being answered: who, where, which server, and its audit entry."""

    def __init__(
        self,
        cog: Power,
        interaction: discord.Interaction,
        ref: ButtonRef | None,
    ) -> None:
        self.cog = cog
        self.interaction = interaction
        self.ref = ref
        self.user = interaction.user
        self.server: Server | None = None

    async def refuse(self, text: str, why: str, *, allowed: bool = False) -> None:
        """Answer privately that nothing was done, then audit it."""
        response = self.interaction.response
        message = self.interaction.message
        if response.is_done():
            await self.interaction.followup.send(text, ephemeral=True)
        elif (
            self.ref is not None
            and self.ref.step is Step.CONFIRM
            and message is not None
            and message.flags.ephemeral
        ):
            # "Yes" on the clicker's own confirm prompt: the refusal replaces the prompt (and
            # its buttons) instead of leaving it behind a second private message.
            await response.edit_message(content=text, view=None)
        else:
            await response.send_message(text, ephemeral=True)
        await self.audit(allowed, "refused", why)

    async def audit(
        self, allowed: bool, outcome: Outcome, detail: str, *, latency_ms: float | None = None
    ) -> None:
        """Record this click in the audit trail."""
        audit = self.cog.services.audit
        if audit is None:
            return
        ref = self.ref
        action = ref.action.value if ref is not None else "unknown"
        if ref is not None and ref.step is not Step.PRESS:
            action = f"{action}:{ref.step.value}"
        await audit.record(
            AuditEntry(
                t=self.cog.services.clock.time(),
                guild_id=self.interaction.guild_id,
                user_id=self.user.id,
                user_name=str(self.user),
                server_id=ref.server_id if ref is not None else None,
                server_name=self.server.name if self.server is not None else None,
                action=action,
                allowed=allowed,
                outcome=outcome,
                detail=detail,
                latency_ms=latency_ms,
            )
        )


async def setup(bot: PterodactylBot) -> None:
    """Register the persistent buttons and load the Power cog."""
    services = bot.services
    # Its own client, without retries: a power signal answered 429 or 5xx is reported to the
    # person who clicked instead of being silently retried later. Each signal first takes a
    # token from the shared budget (see Power._take_budget), so polls and clicks share the
    # panel's limit; the client's own budget only mirrors that.
    power_api = PterodactylAPI.from_settings(
        services.settings.pterodactyl, max_retries=0, clock=services.clock
    )
    power_api.stats = services.api.stats
    bot.add_dynamic_items(ServerButton)
    await bot.add_cog(Power(bot, services, power_api))
    log.info("power buttons ready (%s)", ", ".join(sorted(a.value for a in POWER_ACTIONS)))
