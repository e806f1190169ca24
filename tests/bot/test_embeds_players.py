"""Players online on the status embed and in `/server_list`: counts, silence, names, limits."""

from __future__ import annotations

import discord
import pytest

from pterodisbot.app import build_services
from pterodisbot.bot.embeds import build_server_list_embed, build_status_embed
from pterodisbot.bot.policy import LastRender, Thresholds, UpdateReason, should_update
from pterodisbot.clock import FakeClock
from pterodisbot.config import settings_from_sections
from pterodisbot.monitor import ServerStatus
from pterodisbot.query import Answering, QueryFailure
from pterodisbot_sandbox.discord_rules import validate_message_payload
from tests.snapshots import T0, make_players, make_server, make_snapshot


def fields_of(embed: discord.Embed) -> dict[str, str]:
    return {str(field.name): str(field.value) for field in embed.fields}


def test_a_game_that_answers_shows_its_count_version_and_map() -> None:
    players = make_players(12, 40, version="1.21.4", map_name="de_dust2")
    embed = build_status_embed(make_snapshot(players=players), graph_filename=None, now=T0 + 5)
    fields = fields_of(embed)
    assert fields["Players"] == "12 / 40\nmap de\\_dust2 · version 1.21.4"
    # Between the uptime and the address, inline like them.
    names = [field.name for field in embed.fields]
    assert names.index("Players") == names.index("Uptime") + 1
    assert "Online now" not in fields


def test_no_players_field_when_the_game_is_not_asked() -> None:
    embed = build_status_embed(make_snapshot(), graph_filename=None, now=T0)
    assert "Players" not in fields_of(embed)


def test_an_offline_server_shows_no_players_even_with_an_old_answer() -> None:
    snap = make_snapshot(ServerStatus.OFFLINE, players=make_players(3, 10))
    assert "Players" not in fields_of(build_status_embed(snap, graph_filename=None, now=T0))


@pytest.mark.parametrize(
    ("failure", "text"),
    [
        (QueryFailure.TIMEOUT, "no answer (no answer in time)"),
        (QueryFailure.REFUSED, "no answer (connection refused)"),
        (QueryFailure.GARBAGE, "no answer (an answer that is not a game's)"),
        (None, "no answer yet"),
    ],
)
def test_no_answer_says_why(failure: QueryFailure | None, text: str) -> None:
    players = make_players(None, answering=Answering.NO_ANSWER, failure=failure, since=T0 - 20)
    snap = make_snapshot(players=players)
    assert fields_of(build_status_embed(snap, graph_filename=None, now=T0))["Players"] == text


def test_a_silent_game_says_for_how_long_and_its_last_count() -> None:
    players = make_players(
        7,
        20,
        answering=Answering.NOT_ANSWERING,
        failure=QueryFailure.TIMEOUT,
        since=T0 - 250,
        t=T0 - 250,
    )
    embed = build_status_embed(make_snapshot(players=players), graph_filename=None, now=T0)
    assert fields_of(embed)["Players"] == (
        f"not answering for 4 min\nlast seen 7 / 20 <t:{int(T0 - 250)}:R>"
    )


def test_names_are_listed_only_when_asked_escaped_and_counted_beyond_ten() -> None:
    names = (*(f"p_{i}" for i in range(12)), "")
    players = make_players(15, 40, names=names)
    snap = make_snapshot(players=players)
    hidden = build_status_embed(snap, graph_filename=None, now=T0)
    assert "Online now" not in fields_of(hidden)
    shown = build_status_embed(snap, graph_filename=None, now=T0, show_names=True)
    listed = ", ".join(f"p\\_{i}" for i in range(10))
    # 15 online, 10 named: five more (two named, three the game did not name).
    assert fields_of(shown)["Online now"] == f"{listed} +5 more"


def test_long_and_hostile_names_fit_discord() -> None:
    hostile = ("**@everyone**\n" + "W" * 200, "`code`", "🎮" * 40)
    players = make_players(3, 3, names=hostile, version="v" * 500, map_name="m" * 500)
    snap = make_snapshot(players=players, server=make_server(description="D" * 5000))
    embed = build_status_embed(snap, graph_filename=None, now=T0, show_names=True)
    online = fields_of(embed)["Online now"]
    first = online.split(", ")[0]
    assert first == "\\*\\*@everyone\\*\\* " + "W" * 17 + "…"
    assert "\n" not in online
    assert "\\`code\\`" in online
    payload = {"embeds": [embed.to_dict()]}
    assert validate_message_payload(payload, attachment_filenames=[]) is None


def test_server_list_shows_players_per_running_server_and_the_total() -> None:
    full = make_snapshot(
        players=make_players(12, 40), server=make_server(name="Alpha", identifier="aaaa0001")
    )
    hung = make_snapshot(
        players=make_players(
            5, 40, answering=Answering.NOT_ANSWERING, failure=QueryFailure.TIMEOUT, since=T0 - 600
        ),
        server=make_server(name="Beta", identifier="bbbb0002"),
    )
    silent = make_snapshot(
        players=make_players(None, answering=Answering.NO_ANSWER, failure=QueryFailure.REFUSED),
        server=make_server(name="Gamma", identifier="cccc0003"),
    )
    other = make_snapshot(
        players=make_players(3, 0), server=make_server(name="Delta", identifier="dddd0004")
    )
    [embed] = build_server_list_embed([full, hung, silent, other], now=T0)
    lines = (embed.description or "").splitlines()
    assert lines[0] == "4 running · 15 players online"
    assert lines[2].endswith("· 12/40 players")
    assert lines[3].endswith("· not answering")
    assert lines[4].endswith("· 3 players")
    assert lines[5].endswith("· no answer")


@pytest.mark.parametrize("show_names", [True, False])
async def test_the_status_board_lists_names_as_query_show_names_says(show_names: bool) -> None:
    settings = settings_from_sections(
        {
            "pterodactyl": {"url": "http://127.0.0.1:9"},
            "history": {"url": "none"},
            "query": {"show_names": str(show_names).lower()},
        },
        env={"PTERODACTYL_API_KEY": "ptlc_" + "k" * 43},
        require_token=False,
    )
    services = build_services(settings, discord.Client(intents=discord.Intents.none()), FakeClock())
    try:
        snap = make_snapshot(players=make_players(2, 10, names=("Steve", "Alex")))
        rendered = await services.board.render(snap)
    finally:
        await services.api.close()
    shown = fields_of(rendered.embed).get("Online now")
    assert shown == ("Steve, Alex" if show_names else None)


def test_the_embed_is_edited_when_the_game_stops_answering_not_when_a_count_moves() -> None:
    thresholds = Thresholds(cpu_points=10, memory_percent=10, forced_refresh=600, graph_max_age=0)
    last = LastRender.of(make_snapshot(players=make_players(12, 40)), rendered_at=T0, graph_at=None)
    moved = make_snapshot(players=make_players(30, 40), t=T0 + 30)
    silent = make_snapshot(
        players=make_players(12, 40, answering=Answering.NOT_ANSWERING, since=T0 - 200),
        t=T0 + 30,
    )
    asked = make_snapshot(t=T0 + 30)
    assert should_update(last, moved, now=T0 + 30, thresholds=thresholds) is None
    assert should_update(last, silent, now=T0 + 30, thresholds=thresholds) is UpdateReason.PLAYERS
    # The field goes away (queries turned off by a reload): the embed follows.
    assert should_update(last, asked, now=T0 + 30, thresholds=thresholds) is UpdateReason.PLAYERS
