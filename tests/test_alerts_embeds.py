"""Alert messages: colours, one sentence per rule, recovery with the duration, Discord's limits.

The limits are checked by the sandbox's independent rules (`discord_rules.check_message`), not
by the module's own constants.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import discord
import pytest

from pterodisbot.alerts import AlertServer, Incident, Rule
from pterodisbot.bot.alert_embeds import (
    GROUP_LIMIT,
    duration_text,
    group_embeds,
    incident_embed,
    message_embeds,
    repeat_text,
)
from pterodisbot_sandbox.discord_rules import check_message

T0 = 1_700_000_000.0
RED, AMBER, GREY, GREEN = 0xED4245, 0xF0B232, 0x80848E, 0x57F287


def server(name: str = "Survival-1", identifier: str = "1a2b3c4d", node: str = "de-fra-1"):
    return AlertServer(identifier=identifier, name=name, node=node)


def incident(rule: Rule = Rule.CRASH, **changes: Any) -> Incident:
    base = Incident(
        id=f"{rule}:1a2b3c4d:{int(T0 * 1000)}",
        rule=rule,
        subject="1a2b3c4d",
        servers=(server(),),
        started_at=T0,
        fired_at=T0,
        updated_at=T0,
    )
    return dataclasses.replace(base, **changes)


def payload(embeds: list[discord.Embed], content: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"embeds": [e.to_dict() for e in embeds]}
    if content is not None:
        body["content"] = content
    return body


def accepted(embeds: list[discord.Embed]) -> bool:
    return check_message(payload(embeds), attachment_filenames=()) is None


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(45, "45 s"), (720, "12 min"), (14_400, "4 h"), (7_500, "2 h 5 min"), (266_400, "3 d 2 h")],
)
def test_durations_read_as_people_say_them(seconds: float, text: str) -> None:
    assert duration_text(seconds) == text


def test_a_crash_is_red_and_names_the_server_then_green_with_how_long_it_was_down() -> None:
    firing = incident_embed(incident())
    recovered = incident_embed(incident(resolved_at=T0 + 720, updated_at=T0 + 720))

    assert firing.title == "Survival-1 crashed"
    assert firing.colour == discord.Colour(RED)
    assert f"<t:{int(T0)}:R>" in (firing.description or "")
    assert recovered.title == "Survival-1 is running again after 12 min down"
    assert recovered.colour == discord.Colour(GREEN)
    assert accepted([firing])
    assert accepted([recovered])


def test_a_crash_loop_counts_its_crashes_over_its_span() -> None:
    embed = incident_embed(incident(Rule.CRASH_LOOP, count=5, updated_at=T0 + 420))

    assert embed.title == "Survival-1 is crash-looping: crashed 5 times in 7 min"


def test_a_node_down_names_the_node_and_how_many_servers_a_panel_down_the_count() -> None:
    servers = tuple(server(f"S{i}", f"id{i:06d}", "de-fra-2") for i in range(7))
    node = incident(Rule.NODE_DOWN, subject="de-fra-2", servers=servers, count=7)
    panel = incident(Rule.PANEL_DOWN, subject="panel", servers=servers, count=20)

    assert incident_embed(node).title == "Node de-fra-2 down — 7 servers unreadable"
    assert incident_embed(node).colour == discord.Colour(RED)
    assert "S0, S1, S2, S3, S4, S5, S6" in (incident_embed(node).description or "")
    assert incident_embed(panel).title == "Panel unreachable — 20 servers"
    back = incident_embed(dataclasses.replace(panel, resolved_at=T0 + 120))
    assert back.title == "Panel reachable again after 2 min (20 servers)"


def test_an_overload_is_amber_with_its_span_and_peak() -> None:
    embed = incident_embed(
        incident(Rule.CPU, detail="95 % of its limit", peak=120.0, updated_at=T0 + 300)
    )

    assert embed.title == "Survival-1: CPU over 95 % of its limit for 5 min (peak 120 %)"
    assert embed.colour == discord.Colour(AMBER)


def test_a_stop_line_is_grey_and_says_who() -> None:
    embed = incident_embed(incident(Rule.STOPPED, detail="stopped by alice"))

    assert embed.title == "Survival-1 stopped by alice"
    assert embed.colour == discord.Colour(GREY)


def test_a_grouped_message_names_every_server_each_in_its_own_state_within_discords_limits():
    # Long names with characters outside the BMP: two UTF-16 units each in Discord's count.
    incidents = [
        incident(
            id=f"crash:{i}",
            subject=f"id{i:06d}",
            servers=(server(f"𝕾𝖚𝖗𝖛𝖎𝖛𝖆𝖑 world number {i:02d} " + "x" * 150, f"id{i:06d}"),),
            resolved_at=T0 + 60 if i % 2 else None,
        )
        for i in range(GROUP_LIMIT)
    ]

    embeds = group_embeds(incidents)

    text = "\n".join(e.description or "" for e in embeds)
    assert accepted(embeds)
    assert len(text.splitlines()) == GROUP_LIMIT
    for i, line in enumerate(text.splitlines()):
        assert f"world number {i:02d}" in line
        assert line.startswith("🟢" if i % 2 else "🔴"), line
    assert embeds[0].title == "50 alerts at once — 25 still firing"
    assert embeds[0].colour == discord.Colour(RED)


def test_one_incident_is_its_own_embed_several_the_grouped_form() -> None:
    one = message_embeds([incident()])
    two = message_embeds([incident(), incident(id="crash:2", servers=(server("Lobby"),))])

    assert [e.title for e in one] == ["Survival-1 crashed"]
    assert two[0].title == "2 alerts at once"
    assert "Lobby crashed" in (two[0].description or "")


def test_a_repeat_says_how_long_it_has_lasted() -> None:
    assert repeat_text([incident()], T0 + 14_400) == "Survival-1 is still down after 4 h."
    two = [incident(), incident(id="crash:2", servers=(server("Lobby"),))]
    assert repeat_text(two, T0 + 14_400) == "2 alerts still firing after 4 h: Survival-1, Lobby."


def test_a_game_not_answering_is_amber_then_green_answering_again_or_no_longer_running() -> None:
    hung = incident(Rule.NOT_ANSWERING, updated_at=T0 + 240)
    said = incident(Rule.NOT_ANSWERING, detail="refused", updated_at=T0 + 240)
    answering = incident(Rule.NOT_ANSWERING, resolved_at=T0 + 360, detail="timeout")
    stopped = incident(Rule.NOT_ANSWERING, resolved_at=T0 + 360, detail="offline")

    firing = incident_embed(hung)
    assert firing.title == "Survival-1 is running but its game has not answered for 4 min"
    assert firing.colour == discord.Colour(AMBER)
    assert incident_embed(said).title == (
        "Survival-1 is running but its game has not answered for 4 min (connection refused)"
    )
    back = incident_embed(answering)
    assert back.title == "Survival-1 is answering again after 6 min"
    assert back.colour == discord.Colour(GREEN)
    assert incident_embed(stopped).title == "Survival-1 is offline now, after 6 min not answering"
    assert all(accepted([incident_embed(i)]) for i in (hung, said, answering, stopped))


def test_a_game_not_answering_has_its_line_in_a_grouped_message() -> None:
    long_name = server("𝕾𝖚𝖗𝖛𝖎𝖛𝖆𝖑 " + "x" * 200, "id000002")
    hung = incident(Rule.NOT_ANSWERING, id="not_answering:2", updated_at=T0 + 240)
    embeds = group_embeds(
        [incident(), hung, dataclasses.replace(hung, id="not_answering:3", servers=(long_name,))]
    )

    lines = (embeds[0].description or "").splitlines()
    assert lines[1] == (
        f"🟠 Survival-1 is running but its game has not answered for 4 min · <t:{int(T0)}:R>"
    )
    assert lines[2].startswith("🟠 𝕾𝖚𝖗𝖛𝖎𝖛𝖆𝖑 xxx")
    assert accepted(embeds)
