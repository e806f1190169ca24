"""Status embed buttons: persistent `DynamicItem`s whose custom_id names the server and action.

Custom id format (documented in docs/architecture.md), always under Discord's 100 characters:

    pdb:<action>:<server>            a button on a status embed
    pdb:<action>:<server>:yes        "Yes, restart" on the confirm message
    pdb:<action>:<server>:no         "Cancel" on the confirm message

`<action>` is start, stop, restart, kill, address or history (issue 13: the History button, which
the History cog answers; only power actions have a confirm step); `<server>` the panel's
identifier. Nothing
else is encoded: who may click is decided on every click from the member's live roles, so a
button posted months ago obeys today's configuration. One `DynamicItem` class matches every
`pdb:` id, well-formed or not, so that a forged or outdated id still gets a polite refusal
instead of Discord's "This interaction failed".
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol, runtime_checkable

import discord
from discord.ext import commands

from pterodisbot.monitor import ServerSnapshot, ServerStatus

log = logging.getLogger(__name__)

PREFIX = "pdb"
# Discord's limit on a component's custom_id.
CUSTOM_ID_LIMIT = 100
# The cog that answers clicks (see `pterodisbot.bot.cogs.power`).
HANDLER_COG = "Power"
# The cog that answers the History button (see `pterodisbot.bot.cogs.history`).
HISTORY_COG = "History"

_SERVER_ID = re.compile(r"[A-Za-z0-9-]{1,64}")


class ButtonAction(StrEnum):
    """What a status embed button does."""

    START = "start"
    STOP = "stop"
    RESTART = "restart"
    KILL = "kill"
    ADDRESS = "address"
    HISTORY = "history"


POWER_ACTIONS: frozenset[ButtonAction] = frozenset(
    {ButtonAction.START, ButtonAction.STOP, ButtonAction.RESTART, ButtonAction.KILL}
)


class Step(StrEnum):
    """Which click of an action this is: the embed button, or the confirm message's answers."""

    PRESS = ""
    CONFIRM = "yes"
    CANCEL = "no"


class InvalidCustomId(ValueError):
    """Raise when a `pdb:` custom_id is malformed or names an unknown action."""


@dataclass(frozen=True, slots=True)
class ButtonRef:
    """What one button means: an action on a server, at a step."""

    action: ButtonAction
    server_id: str
    step: Step = Step.PRESS

    @property
    def custom_id(self) -> str:
        """Return the custom_id that encodes this button."""
        parts = [PREFIX, self.action.value, self.server_id]
        if self.step is not Step.PRESS:
            parts.append(self.step.value)
        return ":".join(parts)


def parse_custom_id(custom_id: str) -> ButtonRef:
    """Parse a `pdb:` custom_id; raise `InvalidCustomId` saying what is wrong with it."""
    if len(custom_id) > CUSTOM_ID_LIMIT:
        raise InvalidCustomId("longer than Discord allows")
    parts = custom_id.split(":")
    if parts[0] != PREFIX or len(parts) not in (3, 4):
        raise InvalidCustomId("not pdb:<action>:<server>[:<step>]")
    try:
        action = ButtonAction(parts[1])
    except ValueError:
        raise InvalidCustomId(f"unknown action {parts[1][:20]!r}") from None
    if not _SERVER_ID.fullmatch(parts[2]):
        raise InvalidCustomId("malformed server identifier")
    step = Step.PRESS
    if len(parts) == 4:
        if parts[3] not in (Step.CONFIRM.value, Step.CANCEL.value):
            raise InvalidCustomId(f"unknown step {parts[3][:20]!r}")
        step = Step(parts[3])
        if action not in POWER_ACTIONS:
            raise InvalidCustomId("only power actions have a confirm step")
    return ButtonRef(action, parts[2], step)


def enabled_actions(status: ServerStatus) -> frozenset[ButtonAction]:
    """Return the actions that make sense in `status` (Kill whenever the panel can act)."""
    always = {ButtonAction.ADDRESS, ButtonAction.KILL}
    if status is ServerStatus.OFFLINE:
        return frozenset({*always, ButtonAction.START, ButtonAction.RESTART})
    if status in (ServerStatus.RUNNING, ServerStatus.STARTING):
        return frozenset({*always, ButtonAction.STOP, ButtonAction.RESTART})
    if status is ServerStatus.STOPPING:
        return frozenset(always)
    # Installing or suspended: the panel refuses every power signal (409). Unknown: whatever
    # kept the state from us (the panel, its key, the node) stands between a signal and the
    # server too, so a click could only fail; Show Address needs nothing from the panel.
    return frozenset({ButtonAction.ADDRESS})


def shows_kill(status: ServerStatus, *, hung: bool = False) -> bool:
    """Return whether the Kill button is shown: while stopping, or when a transition hangs."""
    return status is ServerStatus.STOPPING or (
        hung and status in (ServerStatus.STARTING, ServerStatus.STOPPING)
    )


@runtime_checkable
class ButtonHandler(Protocol):
    """Whoever answers clicks on status embed buttons (the power cog)."""

    async def handle_button(
        self, interaction: discord.Interaction, ref: ButtonRef | None, problem: str | None
    ) -> None:
        """Answer one click; `ref` is None (and `problem` says why) for an invalid custom_id."""


_STYLES: dict[ButtonAction, discord.ButtonStyle] = {
    ButtonAction.START: discord.ButtonStyle.success,
    ButtonAction.STOP: discord.ButtonStyle.danger,
    ButtonAction.RESTART: discord.ButtonStyle.primary,
    ButtonAction.KILL: discord.ButtonStyle.danger,
    ButtonAction.ADDRESS: discord.ButtonStyle.secondary,
    ButtonAction.HISTORY: discord.ButtonStyle.secondary,
}
_LABELS: dict[ButtonAction, str] = {
    ButtonAction.START: "Start",
    ButtonAction.STOP: "Stop",
    ButtonAction.RESTART: "Restart",
    ButtonAction.KILL: "Kill",
    ButtonAction.ADDRESS: "Show Address",
    ButtonAction.HISTORY: "History",
}


class ServerButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=r"pdb:(?P<rest>.*)"):
    """A button whose custom_id carries the server and action; it works across bot restarts."""

    def __init__(
        self,
        custom_id: str,
        *,
        label: str = "?",
        style: discord.ButtonStyle = discord.ButtonStyle.secondary,
        disabled: bool = False,
    ) -> None:
        super().__init__(
            discord.ui.Button(label=label, style=style, custom_id=custom_id, disabled=disabled)
        )
        self.raw_custom_id = custom_id

    @classmethod
    def for_ref(
        cls, ref: ButtonRef, *, label: str | None = None, disabled: bool = False
    ) -> ServerButton:
        """Return the button for `ref` with its usual label and colour."""
        style = _STYLES[ref.action]
        if ref.step is Step.CANCEL:
            style = discord.ButtonStyle.secondary
        return cls(
            ref.custom_id,
            label=label or _LABELS[ref.action],
            style=style,
            disabled=disabled,
        )

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction,
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> ServerButton:
        """Rebuild the button from a click (any `pdb:` id, even one the bot never made)."""
        return cls(match.group(0))

    async def callback(self, interaction: discord.Interaction) -> None:
        """Hand the click to the power cog, History to the history cog (refuse if not loaded)."""
        try:
            ref: ButtonRef | None = parse_custom_id(self.raw_custom_id)
            problem: str | None = None
        except InvalidCustomId as exc:
            ref, problem = None, str(exc)
        client = interaction.client
        handler = (
            HISTORY_COG if ref is not None and ref.action is ButtonAction.HISTORY else HANDLER_COG
        )
        cog: object = client.get_cog(handler) if isinstance(client, commands.Bot) else None
        if not isinstance(cog, ButtonHandler):
            await interaction.response.send_message(
                "Server controls are not available right now. Try again in a minute.",
                ephemeral=True,
            )
            return
        await cog.handle_button(interaction, ref, problem)


def build_status_view(
    snap: ServerSnapshot, *, hung: bool = False, history: bool = True
) -> discord.ui.View:
    """Return the buttons of a status embed, each enabled only when it makes sense.

    History (when the bot keeps history) is always enabled: the past is there whatever the
    state. With Kill and Show Address that makes six, and Discord puts at most five in a row,
    so History then starts a second row (the view fills rows in order).
    """
    view = discord.ui.View(timeout=None)
    identifier = snap.server.identifier
    usable = enabled_actions(snap.status)
    actions = [ButtonAction.START, ButtonAction.STOP, ButtonAction.RESTART]
    if shows_kill(snap.status, hung=hung):
        actions.append(ButtonAction.KILL)
    if snap.server.allocations:
        actions.append(ButtonAction.ADDRESS)
    if history:
        actions.append(ButtonAction.HISTORY)
        usable |= {ButtonAction.HISTORY}
    for action in actions:
        ref = ButtonRef(action, identifier)
        view.add_item(ServerButton.for_ref(ref, disabled=action not in usable))
    return view


def build_confirm_view(action: ButtonAction, server_id: str) -> discord.ui.View:
    """Return the "Yes, <action>" / "Cancel" row of a confirm message."""
    view = discord.ui.View(timeout=None)
    yes = ButtonRef(action, server_id, Step.CONFIRM)
    no = ButtonRef(action, server_id, Step.CANCEL)
    view.add_item(ServerButton.for_ref(yes, label=f"Yes, {action.value}"))
    view.add_item(ServerButton.for_ref(no, label="Cancel"))
    return view


class StatusViews:
    """The status board's view factory: it also notices starts and stops that hang.

    A server seen starting or stopping for longer than `hung_after` seconds gets a Kill button.
    `history=False` (`[history] url = none`) leaves the History button out, as before history.
    """

    def __init__(self, *, hung_after: float = 120.0, history: bool = True) -> None:
        self.hung_after = hung_after
        self.history = history
        self._since: dict[str, tuple[ServerStatus, float]] = {}

    def observe(self, snap: ServerSnapshot, previous: ServerSnapshot | None) -> None:
        """Remember when each server entered its current status (a monitor listener)."""
        seen = self._since.get(snap.server.identifier)
        if seen is None or seen[0] is not snap.status:
            self._since[snap.server.identifier] = (snap.status, snap.t)

    def forget(self, identifier: str) -> None:
        """Drop what is known of a server that left the panel."""
        self._since.pop(identifier, None)

    def is_hung(self, snap: ServerSnapshot) -> bool:
        """Return whether the server has been starting or stopping for too long."""
        seen = self._since.get(snap.server.identifier)
        return (
            seen is not None
            and seen[0] is snap.status
            and snap.status in (ServerStatus.STARTING, ServerStatus.STOPPING)
            and snap.t - seen[1] >= self.hung_after
        )

    def __call__(self, snap: ServerSnapshot) -> discord.ui.View:
        """Return the buttons for `snap` (the `StatusBoard`'s `view_factory`)."""
        return build_status_view(snap, hung=self.is_hung(snap), history=self.history)
