"""Status and server-list embeds read well at 2 a.m. and always fit Discord's limits."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import discord
import pytest

from pterodisbot.bot.embeds import (
    DESCRIPTION_LIMIT,
    EMBED_TOTAL_LIMIT,
    EMBEDS_PER_MESSAGE,
    FIELD_VALUE_LIMIT,
    FIELDS_PER_EMBED,
    TITLE_LIMIT,
    build_server_list_embed,
    build_status_embed,
    discord_len,
    format_address,
    group_for_messages,
    truncate,
)
from pterodisbot.monitor import ServerSnapshot, ServerStatus
from pterodisbot.panel.models import Allocation
from pterodisbot_sandbox.discord_rules import validate_message_payload
from tests.snapshots import MIB, T0, make_server, make_snapshot

GIB = 1024 * MIB


def fields_of(embed: discord.Embed) -> dict[str, str]:
    return {str(field.name): str(field.value) for field in embed.fields}


def assert_within_discord_limits(embed: discord.Embed) -> None:
    """Check every per-embed limit, counting UTF-16 units as the strictest reading."""
    assert discord_len(embed.title or "") <= TITLE_LIMIT
    assert discord_len(embed.description or "") <= DESCRIPTION_LIMIT
    assert len(embed.fields) <= FIELDS_PER_EMBED
    total = discord_len(embed.title or "") + discord_len(embed.description or "")
    for field in embed.fields:
        assert field.name
        assert field.value
        assert discord_len(field.value) <= FIELD_VALUE_LIMIT
        total += discord_len(field.name) + discord_len(field.value)
    total += discord_len(embed.footer.text or "")
    assert total <= EMBED_TOTAL_LIMIT


def status_embed(snap: ServerSnapshot, graph: str | None = "graph.png") -> discord.Embed:
    return build_status_embed(snap, graph_filename=graph, now=T0 + 5)


# --- colours and status -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "colour"),
    [
        (ServerStatus.RUNNING, 0x57F287),
        (ServerStatus.STARTING, 0xFEE75C),
        (ServerStatus.STOPPING, 0xFEE75C),
        (ServerStatus.OFFLINE, 0xED4245),
        (ServerStatus.INSTALLING, 0x95A5A6),
        (ServerStatus.SUSPENDED, 0x95A5A6),
        (ServerStatus.UNKNOWN, 0x4F545C),
    ],
)
def test_embed_colour_follows_the_server_state(status: ServerStatus, colour: int) -> None:
    embed = status_embed(make_snapshot(status))
    assert embed.colour == discord.Colour(colour)
    assert fields_of(embed)["Status"] == status.value.capitalize()


def test_embed_turns_red_when_server_crashes() -> None:
    running = status_embed(make_snapshot(ServerStatus.RUNNING))
    crashed = status_embed(make_snapshot(ServerStatus.OFFLINE, t=T0 + 10))
    assert running.colour == discord.Colour(0x57F287)
    assert crashed.colour == discord.Colour(0xED4245)


def test_unknown_state_says_why() -> None:
    snap = make_snapshot(
        ServerStatus.UNKNOWN,
        with_resources=False,
        with_sample=False,
        error="node  node-2 is\nunreachable (504)",
    )
    embed = status_embed(snap)
    assert fields_of(embed)["Status"] == "Unknown — node node-2 is unreachable (504)"
    assert embed.image.url is None


@pytest.mark.parametrize(
    ("last_known", "status_text"),
    [
        (ServerStatus.INSTALLING, "Unknown — panel unreachable · last seen Installing"),
        (ServerStatus.SUSPENDED, "Unknown — panel unreachable · last seen Suspended"),
        (None, "Unknown — panel unreachable"),
    ],
)
def test_unknown_state_mentions_the_last_known_one_as_the_past(
    last_known: ServerStatus | None, status_text: str
) -> None:
    snap = dataclasses.replace(
        make_snapshot(
            ServerStatus.UNKNOWN,
            with_resources=False,
            with_sample=False,
            error="panel unreachable",
        ),
        last_known=last_known,
    )
    embed = status_embed(snap)
    assert fields_of(embed)["Status"] == status_text
    assert embed.colour == discord.Colour(0x4F545C)  # the unknown grey, not installing's


# --- figures ------------------------------------------------------------------------------------


def test_cpu_is_shown_against_the_servers_limit() -> None:
    embed = status_embed(make_snapshot(cpu_percent=57.25, server=make_server(cpu=200)))
    assert fields_of(embed)["CPU"] == "57.2 % of 200 %"


def test_cpu_of_unlimited_server_is_shown_in_cores() -> None:
    embed = status_embed(make_snapshot(cpu_percent=250.0, server=make_server(cpu=0)))
    assert fields_of(embed)["CPU"] == "250 % (unlimited, 2.5 cores)"


def test_memory_disk_network_and_uptime_of_a_running_server() -> None:
    snap = make_snapshot(
        memory_bytes=1536 * MIB,
        disk_bytes=12 * GIB,
        rx_rate=1 * MIB,
        tx_rate=300 * 1024,
        uptime_ms=((2 * 24 + 4) * 60 + 13) * 60_000 + 59_000,
        server=make_server(memory=4096, disk=0),
    )
    fields = fields_of(status_embed(snap))
    assert fields["Memory"] == "1.50 GiB / 4.00 GiB"
    assert fields["Disk"] == "12.0 GiB / unlimited"
    assert fields["Network"] == "↓ 1.00 MiB/s · ↑ 300 KiB/s"
    assert fields["Uptime"] == "2d 4h 13m"


def test_running_embed_shows_the_graph_and_a_live_timestamp() -> None:
    snap = make_snapshot(t=T0 + 3.7)
    embed = build_status_embed(snap, graph_filename="1a2b3c4d.png", now=T0 + 5)
    assert embed.image.url == "attachment://1a2b3c4d.png"
    assert fields_of(embed)["Updated"] == f"<t:{int(T0 + 3.7)}:R>"
    assert embed.timestamp == datetime.fromtimestamp(T0 + 5, tz=UTC)
    assert embed.title == "Survival SMP"
    assert embed.description == "Vanilla 1.21, whitelist on"
    assert embed.footer.text == "Server 1a2b3c4d"


def test_offline_server_shows_its_limits_and_no_graph_or_cpu_noise() -> None:
    snap = make_snapshot(
        ServerStatus.OFFLINE,
        cpu_percent=0.4,  # a stopped container's leftover reading
        memory_bytes=3 * MIB,
        disk_bytes=2 * GIB,
        server=make_server(cpu=300, memory=2048, disk=0),
    )
    embed = status_embed(snap, graph="graph.png")
    fields = fields_of(embed)
    assert embed.image.url is None
    assert fields["CPU"] == "limit 300 % (3 cores)"
    assert fields["Memory"] == "limit 2.00 GiB"
    assert fields["Disk"] == "2.00 GiB / unlimited"
    assert "Network" not in fields
    assert "Uptime" not in fields


def test_uptime_is_shown_only_while_running() -> None:
    assert "Uptime" in fields_of(status_embed(make_snapshot(ServerStatus.RUNNING)))
    assert "Uptime" not in fields_of(status_embed(make_snapshot(ServerStatus.STARTING)))
    assert "Network" in fields_of(status_embed(make_snapshot(ServerStatus.STARTING)))


def test_suspended_server_without_resources_shows_limits() -> None:
    snap = make_snapshot(
        ServerStatus.SUSPENDED,
        with_resources=False,
        with_sample=False,
        server=make_server(cpu=0, memory=0, disk=5120),
    )
    fields = fields_of(status_embed(snap))
    assert (fields["CPU"], fields["Memory"], fields["Disk"]) == (
        "unlimited",
        "unlimited",
        "limit 5.00 GiB",
    )


# --- address ------------------------------------------------------------------------------------


def _alloc(
    ip: str, port: int = 27015, alias: str | None = None, default: bool = True
) -> Allocation:
    return Allocation(id=port, ip=ip, ip_alias=alias, port=port, notes=None, is_default=default)


@pytest.mark.parametrize(
    ("allocation", "shown"),
    [
        (_alloc("203.0.113.7", alias="play.example.org"), "play.example.org:27015"),
        (_alloc("203.0.113.7"), "203.0.113.7:27015"),
        (_alloc("2001:db8::7"), "[2001:db8::7]:27015"),
        (_alloc("0.0.0.0"), "port 27015 (no public address set in the panel)"),
    ],
)
def test_address_is_what_players_type(allocation: Allocation, shown: str) -> None:
    assert format_address(allocation) == shown
    server = make_server(allocations=(allocation,))
    assert fields_of(status_embed(make_snapshot(server=server)))["Address"] == shown


def test_address_can_be_left_out_and_is_absent_without_allocations() -> None:
    snap = make_snapshot()
    hidden = build_status_embed(snap, graph_filename=None, now=T0, show_address=False)
    assert "Address" not in fields_of(hidden)
    bare = make_snapshot(server=make_server(allocations=()))
    assert "Address" not in fields_of(status_embed(bare))


# --- limits -------------------------------------------------------------------------------------


def test_long_name_and_description_are_cut_to_fit_discord() -> None:
    server = make_server(name="N" * 300, description="D" * 5000)
    snap = make_snapshot(
        ServerStatus.UNKNOWN, server=server, error="E" * 5000, with_resources=False
    )
    embed = status_embed(snap)
    assert_within_discord_limits(embed)
    assert embed.title is not None
    assert len(embed.title) == TITLE_LIMIT
    assert embed.title.endswith("…")
    assert embed.description is not None
    assert embed.description.endswith("…")
    assert embed.description.startswith("D" * 1000)


def test_emoji_are_counted_as_discord_may_count_them() -> None:
    # Outside the BMP an emoji is two UTF-16 units; the cut never splits or overshoots.
    server = make_server(name="🎮" * 300, description="🌲" * 5000)
    embed = status_embed(make_snapshot(server=server))
    assert_within_discord_limits(embed)
    assert discord_len(embed.title or "") <= TITLE_LIMIT
    assert set((embed.title or "").removesuffix("…")) == {"🎮"}


def test_truncate_keeps_short_text_and_marks_cut_text() -> None:
    assert truncate("short", 10) == "short"
    assert truncate("abcdefghijk", 5) == "abcd…"
    assert discord_len(truncate("x" * 2000, FIELD_VALUE_LIMIT)) == FIELD_VALUE_LIMIT


@pytest.mark.parametrize("status", list(ServerStatus))
def test_status_embed_is_accepted_by_the_sandbox_rules(status: ServerStatus) -> None:
    server = make_server(name="🎮" * 300, description="D" * 5000)
    snap = make_snapshot(status, server=server, error="x" * 2000)
    embed = build_status_embed(snap, graph_filename="g.png", now=T0)
    files = ["g.png"] if embed.image.url else []
    payload = {"embeds": [embed.to_dict()]}
    assert validate_message_payload(payload, attachment_filenames=files) is None


# --- server list --------------------------------------------------------------------------------


def _fleet(count: int) -> list[ServerSnapshot]:
    statuses = list(ServerStatus)
    snaps = []
    for i in range(count):
        status = statuses[i % len(statuses)]
        server = make_server(
            name=f"Very long community server name number {i:03d} *with* _markdown_ " * 3,
            identifier=f"{i:08x}",
        )
        snaps.append(
            make_snapshot(
                status,
                server=server,
                cpu_percent=123.4,
                error="panel answered 504 DaemonConnectionException for this server" * 3,
            )
        )
    return snaps


def test_500_server_list_stays_under_discord_limits() -> None:
    snaps = _fleet(500)
    embeds = build_server_list_embed(snaps, now=T0)
    assert len(embeds) > 1
    for embed in embeds:
        assert_within_discord_limits(embed)
    text = "\n".join(embed.description or "" for embed in embeds)
    for snap in snaps:
        assert text.count(f"`{snap.server.identifier}`") == 1
    messages = group_for_messages(embeds)
    assert [e for group in messages for e in group] == embeds
    assert len(messages) < len(embeds)  # pages are sized to share messages
    for group in messages:
        assert len(group) <= EMBEDS_PER_MESSAGE
        assert sum(len(e) for e in group) <= EMBED_TOTAL_LIMIT
        payload = {"embeds": [e.to_dict() for e in group]}
        assert validate_message_payload(payload, attachment_filenames=[]) is None
    assert embeds[0].title == f"Servers (1/{len(embeds)})"


def test_server_list_lines_are_compact_and_escaped() -> None:
    running = make_snapshot(
        cpu_percent=57.25,
        memory_bytes=1536 * MIB,
        server=make_server(name="a_b*c", identifier="aaaa0001"),
    )
    down = make_snapshot(
        ServerStatus.UNKNOWN,
        with_resources=False,
        with_sample=False,
        server=make_server(name="Zeta", identifier="zzzz0002"),
        error="node down",
    )
    [embed] = build_server_list_embed([down, running], now=T0)
    assert embed.description == (
        "1 running · 1 unknown\n\n"
        "**a\\_b\\*c** `aaaa0001` — Running · CPU 57.2 % of 200 % · RAM 1.50 GiB\n"
        "**Zeta** `zzzz0002` — Unknown (node down)"
    )
    assert embed.title == "Servers"
    assert embed.footer.text == "2 servers"


def test_server_list_shows_cpu_against_the_limit_as_the_status_embed_does() -> None:
    limited = make_snapshot(
        cpu_percent=57.25, server=make_server(name="Limited", identifier="aaaa0001", cpu=200)
    )
    unlimited = make_snapshot(
        cpu_percent=250.0, server=make_server(name="Unlimited", identifier="bbbb0002", cpu=0)
    )
    [embed] = build_server_list_embed([limited, unlimited], now=T0)
    lines = (embed.description or "").splitlines()
    assert "CPU 57.2 % of 200 % ·" in lines[2]
    assert "CPU 250 % (unlimited, 2.5 cores) ·" in lines[3]
    assert fields_of(status_embed(limited))["CPU"] == "57.2 % of 200 %"
    assert fields_of(status_embed(unlimited))["CPU"] == "250 % (unlimited, 2.5 cores)"


def test_empty_server_list_says_so() -> None:
    [embed] = build_server_list_embed([], now=T0)
    assert embed.description == "No servers are visible to the bot's panel API key."
