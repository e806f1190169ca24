"""The fleet board's embeds: exact counts for a known fleet, Discord's limits at 2,000 servers."""

from __future__ import annotations

import dataclasses

import pytest

from pterodisbot.bot.fleet_board import (
    Attention,
    board_key,
    build_fleet_embeds,
)
from pterodisbot.monitor import ReadFault, ServerSnapshot, ServerStatus
from pterodisbot.query import Answering, Players, QueryFailure
from pterodisbot_sandbox.discord_rules import validate_message_payload
from tests.snapshots import MIB, T0, make_players, make_server, make_snapshot

HUNG = make_players(
    4, 20, answering=Answering.NOT_ANSWERING, failure=QueryFailure.TIMEOUT, since=T0 - 600
)


def snap(
    name: str,
    status: ServerStatus = ServerStatus.RUNNING,
    *,
    identifier: str | None = None,
    node: str = "node-1",
    cpu: float = 50.0,
    memory_mib: int = 1024,
    fault: ReadFault | None = None,
    error: str | None = None,
    players: Players | None = None,
) -> ServerSnapshot:
    server = dataclasses.replace(
        make_server(name=name, identifier=identifier or name.lower()[:8].ljust(8, "0")),
        node=node,
    )
    live = status in (ServerStatus.RUNNING, ServerStatus.STARTING, ServerStatus.STOPPING)
    made = make_snapshot(
        status,
        server=server,
        cpu_percent=cpu,
        memory_bytes=memory_mib * MIB,
        with_resources=status is not ServerStatus.UNKNOWN,
        with_sample=live,
        error=error,
        players=players,
    )
    return dataclasses.replace(made, fault=fault)


def known_fleet() -> list[ServerSnapshot]:
    # make_server's limits: CPU 200 %, memory 4096 MiB; overloaded from 180 % or 3686.4 MiB.
    return [
        snap("Alpha", players=make_players(12, 40)),
        snap("Bravo", players=make_players(3, 10)),
        snap("Charlie"),
        snap("Hung", players=HUNG),
        snap("Hot", cpu=190.0),
        snap("Full", memory_mib=4000),
        snap(
            "Dawn",
            ServerStatus.STARTING,
            players=make_players(None, answering=Answering.NO_ANSWER),
        ),
        snap("Dusk", ServerStatus.STARTING),
        snap("Ending", ServerStatus.STOPPING),
        snap("Off1", ServerStatus.OFFLINE),
        snap("Off2", ServerStatus.OFFLINE),
        snap("Off3", ServerStatus.OFFLINE),
        snap("Crashed", ServerStatus.OFFLINE),
        snap(
            "Lost1",
            ServerStatus.UNKNOWN,
            node="node-2",
            fault=ReadFault.NODE_DOWN,
            error="node down: the panel cannot reach Wings",
        ),
        snap(
            "Lost2",
            ServerStatus.UNKNOWN,
            node="node-2",
            fault=ReadFault.NODE_DOWN,
            error="node down: the panel cannot reach Wings",
        ),
        snap(
            "Gone",
            ServerStatus.UNKNOWN,
            fault=ReadFault.PANEL_DOWN,
            error="panel not answering (timeout)",
        ),
        snap("Banned", ServerStatus.SUSPENDED),
        snap("Fresh", ServerStatus.INSTALLING),
    ]


def test_the_board_counts_every_state_and_lists_what_needs_attention_first() -> None:
    crashed_at = T0 - 120
    embeds = build_fleet_embeds(
        known_fleet(), T0, went_offline={"crashed0": crashed_at}, interval=30
    )
    summary = embeds[0]
    assert summary.title == "Fleet — 18 servers"
    assert [(f.name, f.value) for f in summary.fields] == [
        ("Running", "6"),
        ("Starting", "2"),
        ("Stopping", "1"),
        ("Offline", "4"),
        ("Unknown", "3"),
        ("Suspended", "1"),
        ("Installing", "1"),
        # The hung game's last count is not "online now".
        ("Players online", "15"),
    ]
    assert summary.footer.text == (
        "Updated on change, at most every 30 s; player counts every 5 min"
    )
    assert summary.description == (
        "**7 need attention:** 2 on 1 node down · 1 unreachable · 1 not answering · "
        "2 overloaded · 1 went offline while running"
    )
    assert summary.colour is not None
    assert summary.colour.value == 0xED4245
    assert [e.title for e in embeds[1:]] == [a.value for a in Attention]
    assert embeds[1].description == "**node-2** — 2 servers: Lost1, Lost2"
    assert embeds[2].description == "**Gone** `gone0000` — panel not answering (timeout)"
    assert embeds[3].description == f"**Hung** `hung0000` — last answer <t:{int(T0 - 600)}:R>"
    assert embeds[4].description == (
        "**Full** `full0000` — RAM 3.91 GiB of 4.00 GiB\n**Hot** `hot00000` — CPU 190 % of 200 %"
    )
    assert embeds[5].description == (
        f"**Crashed** `crashed0` — <t:{int(crashed_at)}:R>\n… and 3 running normally"
    )


def test_a_healthy_fleet_is_one_green_embed_with_the_tail() -> None:
    fleet = [snap(f"S{i}", identifier=f"{i:08x}") for i in range(40)]
    fleet += [snap(f"O{i}", ServerStatus.OFFLINE, identifier=f"{100 + i:08x}") for i in range(7)]
    embeds = build_fleet_embeds(fleet, T0)
    assert len(embeds) == 1
    assert embeds[0].colour is not None
    assert embeds[0].colour.value == 0x57F287
    assert embeds[0].description == (
        "Every server is running normally or stopped on purpose.\n… and 40 running normally"
    )
    assert embeds[0].fields[0].value == "40"
    assert embeds[0].fields[3].value == "7"


def test_cpu_moving_inside_its_band_changes_nothing_the_board_shows() -> None:
    calm = board_key(snap("A", cpu=50.0), went_offline=False)
    assert board_key(snap("A", cpu=120.0), went_offline=False) == calm
    hot = board_key(snap("A", cpu=185.0), went_offline=False)
    assert hot != calm
    assert hot.attention is Attention.OVERLOADED
    crashed = board_key(snap("A", ServerStatus.OFFLINE), went_offline=True)
    assert crashed.attention is Attention.WENT_OFFLINE


# --- Discord's limits at scale -------------------------------------------------------------------


def _utf16(text: str | None) -> int:
    return len((text or "").encode("utf-16-le")) // 2


def _discord_total(payload: dict[str, object]) -> int:
    """Count the 6,000-character total the way Discord's documentation lists it, in UTF-16."""
    total = 0
    for embed in payload["embeds"]:  # type: ignore[attr-defined]
        total += _utf16(embed.get("title")) + _utf16(embed.get("description"))
        total += sum(_utf16(f["name"]) + _utf16(f["value"]) for f in embed.get("fields", []))
        total += _utf16(embed.get("footer", {}).get("text"))
        total += _utf16(embed.get("author", {}).get("name"))
    return total


def _big_fleet(kind: str) -> tuple[list[ServerSnapshot], dict[str, float]]:
    fleet: list[ServerSnapshot] = []
    went: dict[str, float] = {}
    long_name = "🎮 Very long *community* server name with _markdown_ and emoji 🌲🌲🌲 " * 3
    for i in range(2000):
        identifier = f"{i:08x}"
        name = f"{long_name}{i}" if kind == "worst" else f"Server {i}"
        part = i % 5 if kind == "worst" else 5
        if part == 0:
            fleet.append(
                snap(
                    name,
                    ServerStatus.UNKNOWN,
                    identifier=identifier,
                    node=f"{long_name}node-{i % 60}",
                    fault=ReadFault.NODE_DOWN,
                    error="node down: the panel cannot reach Wings",
                )
            )
        elif part == 1:
            fleet.append(
                snap(
                    name,
                    ServerStatus.UNKNOWN,
                    identifier=identifier,
                    fault=ReadFault.PANEL_DOWN,
                    error="x" * 3000,
                )
            )
        elif part == 2:
            fleet.append(snap(name, identifier=identifier, cpu=199.0, memory_mib=4090))
        elif part == 3:
            fleet.append(snap(name, ServerStatus.OFFLINE, identifier=identifier))
            went[identifier] = T0 - i
        elif part == 4:
            fleet.append(snap(name, identifier=identifier, cpu=199.0, players=HUNG))
        else:
            fleet.append(snap(name, identifier=identifier, players=make_players(10_000, 10_000)))
    return fleet, went


@pytest.mark.parametrize("kind", ["worst", "healthy"])
def test_a_2000_server_board_is_within_discords_limits(kind: str) -> None:
    fleet, went = _big_fleet(kind)
    embeds = build_fleet_embeds(fleet, T0, went_offline=went)
    payload = {"embeds": [e.to_dict() for e in embeds]}
    assert validate_message_payload(payload, attachment_filenames=[]) is None
    assert len(embeds) <= 10
    assert _discord_total(payload) <= 6000
    assert all(_utf16(e.description) <= 4096 for e in embeds)
    assert all(len(e.fields) <= 25 for e in embeds)
    text = "\n".join(e.description or "" for e in embeds)
    if kind == "worst":
        # Every section shows its first lines and counts the rest.
        assert [e.title for e in embeds[1:]] == [a.value for a in Attention]
        assert all("… and " in (e.description or "") for e in embeds[1:])
        assert embeds[0].description is not None
        assert embeds[0].description.startswith("**2,000 need attention:** 400 on 12 nodes down")
        # Every running server is overloaded or not answering: no tail.
        assert "running normally" not in text
    else:
        assert text.endswith("… and 2,000 running normally")
        assert (embeds[0].fields[-1].name, embeds[0].fields[-1].value) == (
            "Players online",
            "20,000,000",
        )


def test_a_count_moving_changes_no_key_a_game_falling_silent_does() -> None:
    few = board_key(snap("A", players=make_players(3, 40)), went_offline=False)
    assert board_key(snap("A", players=make_players(30, 40)), went_offline=False) == few
    hung = board_key(snap("A", cpu=190.0, players=HUNG), went_offline=False)
    assert hung.attention is Attention.NOT_ANSWERING
    assert hung.detail == f"{T0 - 600:.0f}"
    # A starting server's game is not expected to answer yet.
    starting = snap("A", ServerStatus.STARTING, players=HUNG)
    assert board_key(starting, went_offline=False).attention is None
