"""`/alerts mute|unmute|list` end to end: the real bot on both sandboxes, answers, the audit trail.

The bot's own alerts service answers, except in the list's layout test: there `KeptMutes` (an
`AlertControl` holding the incidents the test sets) stands behind `BotServices.alerts`, so that
a node outage and 300 incidents can be shown without staging them on the panel.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest

from pterodisbot.alerts import (
    ALL_SERVERS,
    AlertControl,
    AlertServer,
    AlertsOff,
    AlertStats,
    Incident,
    Mute,
    PowerEvent,
    Rule,
)
from pterodisbot.bot.cogs.alerts import (
    ALERTS_OFF,
    NOT_ALLOWED,
    BadDuration,
    DurationProblem,
    mute_span,
    parse_mute_duration,
)
from pterodisbot_sandbox.discord_server import World
from tests.fixtures.discord import InteractionResult, poll_until
from tests.fixtures.panel import fleet_with_running
from tests.fixtures.product import Product

# The interaction response type of a deferred answer ("thinking…").
DEFERRED = 5
SURVIVAL = "aaaa0001"
HIDDEN = "bbbb0002"
OWNER = str(World.default().user("owner").id)


class KeptMutes:
    """An `AlertControl` whose open incidents are what the test sets (for the list's layout)."""

    def __init__(self, clock_time: Any) -> None:
        self._time = clock_time
        self._mutes: dict[str, Mute] = {}
        self.incidents: tuple[Incident, ...] = ()

    @property
    def enabled(self) -> bool:
        return True

    def open_incidents(self) -> tuple[Incident, ...]:
        return self.incidents

    def mutes(self) -> tuple[Mute, ...]:
        now = self._time()
        return tuple(
            sorted((m for m in self._mutes.values() if m.until > now), key=lambda m: m.until)
        )

    async def mute(self, mute: Mute) -> None:
        self._mutes[mute.subject] = mute

    async def unmute(self, subject: str) -> Mute | None:
        return self._mutes.pop(subject, None)

    def note_power(self, event: PowerEvent) -> None:
        pass

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    def stats(self) -> AlertStats:
        return AlertStats(firing=dict.fromkeys(Rule, 0), posted=0, edited=0, suppressed={})


async def start(product: Product, *, alerts: bool = True) -> AlertControl:
    """Start the bot with #audit as the audit channel and, if `alerts`, #alerts for alerts."""
    guild = product_world_guild()
    settings: dict[str, dict[str, str]] = {
        "discord": {"audit_channel_id": str(guild["audit"])},
        f"permissions.{HIDDEN}": {"status": "Operator"},
    }
    if alerts:
        settings["alerts"] = {"channel_id": str(guild["alerts"])}
    await product.start(panel={"fleet": fleet_with_running(SURVIVAL, HIDDEN)}, settings=settings)
    assert product.services.alerts.enabled is alerts
    return product.services.alerts


def product_world_guild() -> dict[str, int]:
    """Return the default sandbox guild's channel ids by name (the ids are deterministic)."""
    guild = World.default().guilds[0]
    return {c.name: c.id for c in guild.channels}


def answer(result: InteractionResult) -> str:
    """Return the text of the bot's private answer (the follow-up after a "thinking…")."""
    assert result.ephemeral, result.raw
    if result.followups:
        return str(result.followups[-1]["message"]["content"])
    return result.content


async def alerts(
    product: Product, sub: str, options: dict[str, str] | None = None, *, user: str = "owner"
) -> InteractionResult:
    result = await product.control.command(
        f"alerts {sub}", options or {}, user=user, channel="status"
    )
    if result.response_type != DEFERRED:
        return result

    # "Thinking…" first: the answer is the follow-up. (A `wait=` would also sit out its whole
    # length after an answer that has no follow-up.)
    async def followed() -> InteractionResult | None:
        now = await product.control.interaction(result.id)
        return now if now.followups else None

    return await poll_until(followed, within=5, what=f"the answer to /alerts {sub}")


def audit_entries(product: Product) -> list[dict[str, Any]]:
    path = product.locations_file.parent / "audit.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


async def audit_file(product: Product, count: int) -> list[dict[str, Any]]:
    """Return the audit file's entries once it has `count` (it is written in a worker thread)."""

    async def written() -> list[dict[str, Any]] | None:
        entries = audit_entries(product)
        return entries if len(entries) >= count else None

    return list(await poll_until(written, within=5, what=f"{count} audit file entries"))


async def audit_posts(product: Product, count: int) -> list[dict[str, Any]]:
    async def posted() -> list[dict[str, Any]] | None:
        messages = await product.control.messages("audit")
        return messages if len(messages) >= count else None

    return list(await poll_until(posted, within=5, what=f"{count} audit channel posts"))


# ----- pure: durations -----


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("15m", 900),
        ("90m", 5400),
        ("2h", 7200),
        ("1h30m", 5400),
        ("1 h 30 min", 5400),
        ("7d", 604_800),
        ("1w", 604_800),
        ("1.5h", 5400),
    ],
)
def test_a_mute_duration_reads_as_people_type_it(text: str, seconds: float) -> None:
    assert parse_mute_duration(text) == seconds


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("soon", DurationProblem.UNREADABLE),
        ("90", DurationProblem.UNREADABLE),
        ("", DurationProblem.UNREADABLE),
        ("2h soon", DurationProblem.UNREADABLE),
        ("30s", DurationProblem.UNREADABLE),
        ("0m", DurationProblem.TOO_SHORT),
        ("31d", DurationProblem.TOO_LONG),
    ],
)
def test_a_mute_duration_that_cannot_be_used_says_why(text: str, reason: DurationProblem) -> None:
    with pytest.raises(BadDuration) as caught:
        parse_mute_duration(text)
    assert caught.value.reason is reason


def test_a_mute_span_is_said_as_people_say_it() -> None:
    assert [mute_span(s) for s in (900, 5400, 7200, 86_400, 604_800, 90_000)] == [
        "15 min",
        "1 h 30 min",
        "2 h",
        "1 day",
        "7 days",
        "25 h",
    ]


# ----- through both sandboxes -----


async def test_a_member_without_the_alerts_role_is_refused_and_it_is_audited(
    product: Product,
) -> None:
    kept = await start(product)

    mute = await alerts(product, "mute", {"server": SURVIVAL, "duration": "1h"}, user="operator")
    listed = await alerts(product, "list", user="member")

    assert answer(mute) == NOT_ALLOWED
    assert answer(listed) == NOT_ALLOWED
    assert kept.mutes() == ()
    [entry] = await audit_file(product, 1)
    assert (entry["action"], entry["allowed"], entry["outcome"]) == (
        "alerts mute",
        False,
        "refused",
    )
    [post] = await audit_posts(product, 1)
    operator = str(World.default().user("operator").id)
    assert post["embeds"][0]["description"].startswith(f"Alerts mute refused for <@{operator}> · ")


async def test_alerts_off_answers_how_to_turn_them_on(product: Product) -> None:
    await start(product, alerts=False)

    listed = await alerts(product, "list")
    mute = await alerts(product, "mute", {"server": SURVIVAL, "duration": "1h"})
    unmute = await alerts(product, "unmute", {"server": SURVIVAL})

    assert [answer(listed), answer(mute), answer(unmute)] == [ALERTS_OFF] * 3
    assert audit_entries(product) == []
    assert product.services.alerts.mutes() == ()
    with pytest.raises(AlertsOff):
        await product.services.alerts.mute(Mute(SURVIVAL, since=0, until=60, reason="", by="owner"))


async def test_a_mute_is_listed_and_audited_and_an_unmute_removes_it(product: Product) -> None:
    kept = await start(product)
    name = product.panel.server(SURVIVAL).name

    muted = await alerts(
        product,
        "mute",
        {"server": SURVIVAL, "duration": "2h", "reason": "map wipe"},
    )

    [mute] = kept.mutes()
    assert (mute.subject, mute.until - mute.since, mute.reason) == (SURVIVAL, 7200, "map wipe")
    assert mute.by_id == int(OWNER)
    assert answer(muted) == (
        f"Muted alerts for **{name}** for 2 h, until <t:{int(mute.until)}:f>. Incidents are "
        "still recorded; /alerts unmute ends it early."
    )
    listed = await alerts(product, "list")
    incidents_embed, mutes_embed = listed.embeds
    assert incidents_embed["description"] == "Nothing is alerting."
    assert mutes_embed["title"] == "Mutes (1)"
    assert mutes_embed["description"] == (
        f"**{name}** until <t:{int(mute.until)}:f> (<t:{int(mute.until)}:R>) · by <@{OWNER}> · "
        "map wipe"
    )
    [entry] = await audit_file(product, 1)
    assert entry["action"] == "alerts mute"
    assert entry["server_id"] == SURVIVAL
    assert entry["headline"] == f"Muted alerts for {name} for 2 h"
    assert entry["detail"].startswith("map wipe · until ")
    [post] = await audit_posts(product, 1)
    assert post["embeds"][0]["description"].startswith(
        f"Muted alerts for {name} for 2 h by <@{OWNER}>\nmap wipe · until "
    )

    unmuted = await alerts(product, "unmute", {"server": name})

    assert answer(unmuted) == f"Unmuted alerts for **{name}**: its alerts are posted again."
    assert kept.mutes() == ()
    listed = await alerts(product, "list")
    assert listed.embeds[1]["description"] == "Nothing is muted."
    entries = await audit_file(product, 2)
    assert [e["action"] for e in entries] == ["alerts mute", "alerts unmute"]
    assert entries[1]["headline"] == f"Unmuted alerts for {name}"
    posts = await audit_posts(product, 2)
    assert posts[1]["embeds"][0]["description"].startswith(
        f"Unmuted alerts for {name} by <@{OWNER}>\nmuted by "
    )


async def test_a_bad_duration_or_server_is_refused_in_words(product: Product) -> None:
    kept = await start(product)

    soon = await alerts(product, "mute", {"server": SURVIVAL, "duration": "soon"})
    long = await alerts(product, "mute", {"server": SURVIVAL, "duration": "60d"})
    hidden = await alerts(product, "mute", {"server": HIDDEN, "duration": "1h"}, user="owner")
    unknown = await alerts(product, "mute", {"server": "nope", "duration": "1h"})

    assert answer(soon) == (
        "I can't read “soon” as a duration. Pick one from the list or type one like "
        "90m, 2h, 1h30m or 3d."
    )
    assert answer(long) == "“60d” is too long: a mute lasts at most 30 days (mute again later)."
    # The owner is an Admin: may see the Operators-only server too.
    assert answer(hidden).startswith("Muted alerts for ")
    assert answer(unknown) == (
        "No server called “nope” is visible to the bot. Pick one from the list as you type "
        "(or All servers)."
    )
    assert [m.subject for m in kept.mutes()] == [HIDDEN]
    assert [e["action"] for e in await audit_file(product, 1)] == ["alerts mute"]


async def test_autocomplete_offers_all_servers_presets_and_the_mutes(product: Product) -> None:
    await start(product)

    servers = await product.control.autocomplete(
        "alerts mute", {"server": ""}, focused="server", user="owner"
    )
    typed = await product.control.autocomplete(
        "alerts mute", {"server": SURVIVAL, "duration": "90m"}, focused="duration"
    )
    await alerts(product, "mute", {"server": "all", "duration": "30m"})
    muted = await product.control.autocomplete("alerts unmute", {"server": ""}, focused="server")

    values = [c["value"] for c in servers.choices]
    assert values[0] == ALL_SERVERS
    assert servers.choices[0]["name"] == "All servers"
    assert {SURVIVAL, HIDDEN} <= set(values[1:])
    assert [(c["name"], c["value"]) for c in typed.choices] == [("1 h 30 min", "90m")]
    assert [c["value"] for c in muted.choices] == [ALL_SERVERS]
    assert muted.choices[0]["name"].startswith("All servers · until ")


async def test_the_list_shows_open_incidents_with_their_age_within_embed_limits(
    product: Product,
) -> None:
    await start(product)
    kept = KeptMutes(product.services.clock.time)
    product.services.alerts = kept
    server = product.panel.server(SURVIVAL)
    now = product.services.clock.time()
    crash = Incident(
        id="crash:1",
        rule=Rule.CRASH_LOOP,
        subject=SURVIVAL,
        servers=(AlertServer(SURVIVAL, server.name, "node-1"),),
        started_at=now - 720,
        fired_at=now - 700,
        updated_at=now - 60,
        count=4,
        muted=True,
    )
    node = Incident(
        id="node:1",
        rule=Rule.NODE_DOWN,
        subject="de-fra-2",
        servers=tuple(AlertServer(f"n{i:07d}", f"Node server {i}", "de-fra-2") for i in range(7)),
        started_at=now - 7200,
        fired_at=now - 7100,
        updated_at=now - 7100,
        count=7,
    )
    kept.incidents = (crash, node)

    listed = await alerts(product, "list")

    assert listed.embeds[0]["title"] == "Open alerts (2)"
    assert listed.embeds[0]["description"].split("\n") == [
        f"**{server.name}** — Crash loop ×4 · open 12 min (since <t:{int(now - 720)}:R>) · muted",
        f"**node de-fra-2 (7 servers)** — Node down · open 2 h (since <t:{int(now - 7200)}:R>)",
    ]

    kept.incidents = tuple(
        replace(crash, id=f"crash:{i}", subject=f"s{i:07d}", servers=()) for i in range(300)
    )
    listed = await alerts(product, "list")

    lines = listed.embeds[0]["description"].split("\n")
    assert listed.embeds[0]["title"] == "Open alerts (300)"
    shown = len(lines) - 1
    assert lines[-1] == f"… and {300 - shown} more"
    assert sum(len(e["description"]) + len(e["title"]) for e in listed.embeds) <= 6000
