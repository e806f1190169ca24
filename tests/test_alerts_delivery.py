"""The alerts' delivery through the Discord sandbox: grouping, the message budget, edits, replies.

The subject is `AlertService`'s delivery, so the incidents it delivers come from a scripted
stand-in for the rules engine (the updates a test hands it, in order); the bot is a real
discord.py client on the sandbox, the clock a `FakeClock` the test moves.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable
from typing import Any

import pytest

from pterodisbot.alerts import (
    AlertServer,
    AlertSettings,
    AlertState,
    Change,
    Incident,
    IncidentUpdate,
    MentionRoles,
    MessageRef,
    Mute,
    PowerEvent,
    Rule,
    ServerAlertSettings,
)
from pterodisbot.bot.alerting import AlertService
from pterodisbot.bot.bot import CommandBot
from pterodisbot.bot.edit_pump import EditPump
from pterodisbot.clock import FakeClock
from pterodisbot_sandbox.discord_server import DiscordSandbox
from tests.fixtures.discord import BotRunner, SandboxClient

T0 = 1_700_000_000.0


class ScriptedEngine:
    """The engine's interface, answering with the updates a test queued (and remembering)."""

    def __init__(self) -> None:
        self.queued: list[IncidentUpdate] = []
        self.messages: dict[str, MessageRef] = {}
        self.muted: dict[str, Mute] = {}
        self.dirty = False

    def queue(self, change: Change, *incidents: Incident) -> None:
        self.queued += [IncidentUpdate(change, i) for i in incidents]

    def evaluate(self, now: float) -> list[IncidentUpdate]:
        updates, self.queued = self.queued, []
        return updates

    def activity_wanted(self) -> tuple[()]:
        return ()

    def set_message(self, incident_id: str, ref: MessageRef) -> None:
        self.messages[incident_id] = ref
        self.dirty = True

    def message_of(self, incident_id: str) -> MessageRef | None:
        return self.messages.get(incident_id)

    def state(self) -> AlertState:
        self.dirty = False
        return AlertState(messages=dict(self.messages))

    def firing(self) -> dict[Rule, int]:
        return dict.fromkeys(Rule, 0)

    def open_incidents(self) -> tuple[Incident, ...]:
        return ()

    def mutes(self) -> tuple[Mute, ...]:
        return tuple(self.muted.values())

    def mute(self, mute: Mute) -> None:
        self.muted[mute.subject] = mute
        self.dirty = True

    def unmute(self, subject: str) -> Mute | None:
        self.dirty = True
        return self.muted.pop(subject, None)

    def note_power(self, event: PowerEvent) -> None:
        pass

    def restore(self, state: AlertState) -> None:
        self.messages.update(state.messages)


class MemoryStorage:
    """Keeps what the service saves; `fail` makes saves raise as a broken disk would."""

    def __init__(self) -> None:
        self.saved: list[AlertState] = []
        self.fail = False

    async def load(self) -> AlertState | None:
        return None

    async def save(self, state: AlertState) -> None:
        if self.fail:
            raise OSError(28, "No space left on device")
        self.saved.append(state)

    def describe(self) -> str:
        return "memory"


def crash(i: int, **changes: Any) -> Incident:
    incident = Incident(
        id=f"crash:srv{i:05d}:{int(T0 * 1000)}",
        rule=Rule.CRASH,
        subject=f"srv{i:05d}",
        servers=(AlertServer(identifier=f"srv{i:05d}", name=f"Server-{i}", node="de-fra-1"),),
        started_at=T0,
        fired_at=T0,
        updated_at=T0,
    )
    return dataclasses.replace(incident, **changes)


class Harness:
    """An `AlertService` on a real bot, its channel #alerts, and the test's clock."""

    def __init__(
        self, bot: CommandBot, sandbox: DiscordSandbox, control: SandboxClient, **settings: Any
    ) -> None:
        self.clock = FakeClock(T0)
        self.engine = ScriptedEngine()
        self.storage = MemoryStorage()
        self.control = control
        self.channel_id = sandbox.world.channel("alerts").id
        self.settings = AlertSettings(channel_id=self.channel_id, **settings)
        self.pump = EditPump(interval=0, clock=self.clock)
        self.service = AlertService(
            engine=self.engine,  # type: ignore[arg-type]
            storage=self.storage,
            client=bot,
            api=None,  # type: ignore[arg-type]  # no activity asked: the engine is scripted
            pump=self.pump,
            settings=lambda: self.settings,
            channel_id=self.channel_id,
            clock=self.clock,
            activity_timeout=5,
        )

    async def run(self, seconds: float, *, step: float = 2.0) -> None:
        """Tick the service every `step` seconds of the fake clock for `seconds`."""
        end = self.clock.time() + seconds
        while self.clock.time() < end:
            await self.service.tick()
            self.clock.advance(step)
        await self.pump.drain()

    async def messages(self) -> list[dict[str, Any]]:
        return await self.control.messages("alerts")


@pytest.fixture
async def harness(
    bot_runner: BotRunner, discord_sandbox: DiscordSandbox, discord_control: SandboxClient
) -> Harness:
    bot = await bot_runner.start()
    return Harness(bot, discord_sandbox, discord_control)


def lines(message: dict[str, Any]) -> list[str]:
    return [line for e in message["embeds"] for line in (e.get("description") or "").splitlines()]


def names(messages: Iterable[dict[str, Any]]) -> set[str]:
    found: set[str] = set()
    for message in messages:
        for embed in message["embeds"]:
            text = f"{embed.get('title', '')}\n{embed.get('description', '')}"
            found |= {w.rstrip(":") for w in text.split() if w.startswith("Server-")}
    return found


async def test_fifty_incidents_at_once_are_one_message_naming_all_fifty(harness: Harness):
    harness.engine.queue(Change.OPENED, *(crash(i) for i in range(50)))

    await harness.run(12)

    messages = await harness.messages()
    assert len(messages) == 1
    assert names(messages) == {f"Server-{i}" for i in range(50)}
    assert len(lines(messages[0])) == 50
    stats = harness.service.stats()
    assert stats.posted == 1
    assert stats.suppressed["grouped"] == 49
    assert {harness.engine.message_of(crash(i).id) for i in range(50)} == {
        MessageRef(harness.channel_id, int(messages[0]["id"]))
    }


async def test_nothing_is_posted_before_the_group_window_and_two_go_out_on_their_own(
    harness: Harness,
):
    harness.engine.queue(Change.OPENED, crash(1), crash(2))
    window = harness.settings.group_window

    await harness.run(window - 2)
    assert await harness.messages() == []
    await harness.run(4)

    messages = await harness.messages()
    assert [m["embeds"][0]["title"] for m in messages] == ["Server-1 crashed", "Server-2 crashed"]


async def test_the_budget_holds_a_minute_to_three_messages_and_the_rest_waits_then_joins(
    harness: Harness,
):
    # One incident every 12 s: each would be its own message, but only three fit in a minute.
    for i in range(5):
        harness.engine.queue(Change.OPENED, crash(i))
        await harness.run(12)
    assert len(await harness.messages()) == 3
    harness.engine.queue(Change.OPENED, crash(5))
    await harness.run(12)

    messages = await harness.messages()
    assert len(messages) == 4
    assert names(messages) == {f"Server-{i}" for i in range(6)}
    assert messages[3]["embeds"][0]["title"] == "3 alerts at once"


async def test_an_update_edits_the_message_a_grouped_one_keeps_every_line(harness: Harness):
    incidents = [crash(i) for i in range(3)]
    harness.engine.queue(Change.OPENED, *incidents)
    await harness.run(12)
    harness.engine.queue(
        Change.RESOLVED,
        dataclasses.replace(incidents[1], resolved_at=T0 + 720, updated_at=T0 + 720),
    )
    await harness.run(2)

    messages = await harness.messages()
    assert len(messages) == 1
    assert lines(messages[0]) == [
        f"🔴 Server-0 crashed · <t:{int(T0)}:R>",
        "🟢 Server-1 is running again after 12 min down",
        f"🔴 Server-2 crashed · <t:{int(T0)}:R>",
    ]
    assert harness.service.stats().edited == 1


async def test_muted_incidents_are_never_posted(harness: Harness):
    harness.engine.queue(Change.OPENED, crash(1, muted=True))

    await harness.run(30)

    assert await harness.messages() == []
    assert harness.service.stats().suppressed["muted"] == 1


async def test_a_deleted_alert_message_is_forgotten_not_edited_forever(
    harness: Harness, caplog: pytest.LogCaptureFixture
):
    harness.engine.queue(Change.OPENED, crash(1))
    await harness.run(12)
    (message,) = await harness.messages()
    await harness.control.delete_message("alerts", message["id"])
    harness.engine.queue(Change.UPDATED, crash(1, count=2))
    await harness.run(2)
    submitted = harness.pump.stats.submitted

    harness.engine.queue(Change.UPDATED, crash(1, count=3))
    await harness.run(2)

    assert harness.pump.stats.submitted == submitted
    gone = [r for r in caplog.records if "is gone" in r.getMessage()]
    assert len(gone) == 1


async def test_a_channel_the_bot_cannot_post_in_keeps_the_incident_and_says_so_once(
    harness: Harness, caplog: pytest.LogCaptureFixture
):
    await harness.control.set_permissions("alerts", send=False)
    harness.engine.queue(Change.OPENED, crash(1))
    await harness.run(130)
    refused = [r for r in caplog.records if "cannot post in channel" in r.getMessage()]
    assert len(refused) == 1
    assert await harness.messages() == []

    await harness.control.set_permissions("alerts", send=True)
    await harness.run(62)

    messages = await harness.messages()
    assert [m["embeds"][0]["title"] for m in messages] == ["Server-1 crashed"]


async def test_only_the_configured_roles_are_mentioned_never_everyone(
    harness: Harness, discord_sandbox: DiscordSandbox, caplog: pytest.LogCaptureFixture
):
    guild = discord_sandbox.world.guilds[0]
    admin = next(r.id for r in guild.roles if r.name == "Admin")
    operator = next(r.id for r in guild.roles if r.name == "Operator")
    harness.settings = dataclasses.replace(
        harness.settings,
        mention_critical=MentionRoles(names=frozenset({"operator", "on call"})),
        mention_warning=MentionRoles(ids=frozenset({admin})),
        servers={"srv00002": ServerAlertSettings(mention=MentionRoles(ids=frozenset({admin})))},
    )
    harness.engine.queue(Change.OPENED, crash(1))
    await harness.run(12)
    harness.engine.queue(Change.OPENED, crash(2))
    await harness.run(12)

    first, second = await harness.messages()
    assert first["content"] == f"<@&{operator}>"
    assert first["mention_roles"] == [str(operator)]
    assert first["mention_everyone"] is False
    assert second["content"] == f"<@&{admin}>"
    assert second["mention_roles"] == [str(admin)]
    unknown = [r for r in caplog.records if "no role named 'on call'" in r.getMessage()]
    assert len(unknown) == 1


async def test_a_long_incident_is_re_announced_as_a_reply_to_its_message(harness: Harness):
    harness.engine.queue(Change.OPENED, crash(1))
    await harness.run(12)
    harness.engine.queue(Change.REPEATED, crash(1))

    await harness.run(2)

    original, reply = await harness.messages()
    assert reply["message_reference"]["message_id"] == original["id"]
    assert reply["content"].startswith("Server-1 is still down after ")
    assert harness.service.stats().posted == 2


async def test_a_failing_save_keeps_the_state_and_is_retried(
    harness: Harness, caplog: pytest.LogCaptureFixture
):
    harness.storage.fail = True
    await harness.service.mute(Mute("srv00001", T0, T0 + 3600, "upgrade", "owner"))
    await harness.run(10)
    failed = [r for r in caplog.records if "could not be saved" in r.getMessage()]
    assert len(failed) == 1

    harness.storage.fail = False
    await harness.run(2)

    assert [s.messages for s in harness.storage.saved] == [{}]
    assert any("saved again" in r.getMessage() for r in caplog.records)


@pytest.fixture(autouse=True)
def _logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="pterodisbot.bot.alerting")


async def test_a_grouped_messages_incidents_are_re_announced_in_one_reply(harness: Harness):
    harness.engine.queue(Change.OPENED, *(crash(i) for i in range(5)))
    await harness.run(12)
    harness.engine.queue(Change.REPEATED, *(crash(i) for i in range(5)))

    await harness.run(2)

    original, reply = await harness.messages()
    assert reply["message_reference"]["message_id"] == original["id"]
    assert reply["content"].startswith("5 alerts still firing after ")
    assert reply["content"].endswith(": Server-0, Server-1, Server-2, Server-3, Server-4.")
