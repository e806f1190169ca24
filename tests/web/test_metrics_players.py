"""`/metrics` with players: per-server gauges as prometheus_client writes them, query counters."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import Metric
from prometheus_client.registry import Collector

from pterodisbot.app import build_bot
from pterodisbot.config import settings_from_sections
from pterodisbot.monitor import ServerSnapshot
from pterodisbot.query import Answering, Players, QueryFailure, QueryStats
from pterodisbot.web.gateway import GatewayWatch
from pterodisbot.web.metrics import BotCollector, server_families, server_text
from tests.fixtures.product import BOT_TOKEN
from tests.snapshots import T0, make_players, make_server, make_snapshot


class Families(Collector):
    """Families already built, for prometheus_client's encoder."""

    def __init__(self, families: Iterable[Metric]) -> None:
        self.families = list(families)

    def collect(self) -> Iterable[Metric]:
        return self.families


def fleet() -> list[ServerSnapshot]:
    silent = make_players(
        4, 20, answering=Answering.NOT_ANSWERING, failure=QueryFailure.TIMEOUT, since=T0 - 600
    )
    never = make_players(None, answering=Answering.NO_ANSWER, failure=QueryFailure.REFUSED)
    return [
        make_snapshot(server=make_server(identifier="aaaa0001"), players=make_players(12, 40)),
        make_snapshot(server=make_server(identifier="bbbb0002"), players=silent),
        make_snapshot(server=make_server(identifier="cccc0003"), players=never),
        make_snapshot(server=make_server(identifier="dddd0004")),
        make_snapshot(
            server=make_server(identifier="eeee0005"),
            players=make_players(70_000, 100_000),
            with_resources=False,
        ),
    ]


def test_player_series_are_what_prometheus_client_writes() -> None:
    snaps = fleet()
    text = server_text(snaps, len(snaps))
    assert text.encode() == generate_latest(Families(server_families(snaps, len(snaps))))
    lines = [line for line in text.splitlines() if "players" in line or "answering" in line]
    labels = {
        s.server.identifier: f'server_id="{s.server.identifier}",server_name="Survival SMP"'
        for s in snaps
    }
    a, b, c, e = labels["aaaa0001"], labels["bbbb0002"], labels["cccc0003"], labels["eeee0005"]
    assert [line for line in lines if not line.startswith("#")] == [
        # Only games that answered have a count; a silent one keeps its maximum.
        f"pterodisbot_server_players{{{a}}} 12.0",
        f"pterodisbot_server_players{{{e}}} 70000.0",
        f"pterodisbot_server_players_max{{{a}}} 40.0",
        f"pterodisbot_server_players_max{{{b}}} 20.0",
        f"pterodisbot_server_players_max{{{e}}} 100000.0",
        f"pterodisbot_server_game_answering{{{a}}} 1.0",
        f"pterodisbot_server_game_answering{{{b}}} 0.0",
        f"pterodisbot_server_game_answering{{{c}}} 0.0",
        f"pterodisbot_server_game_answering{{{e}}} 1.0",
    ]


class CountedQueries:
    """A query service that has asked before (the counters `/metrics` reads)."""

    enabled = True

    def players(self, server: str) -> Players | None:
        return None

    def stats(self) -> QueryStats:
        return QueryStats(
            queries={
                ("minecraft", "ok"): 40,
                ("source", "timeout"): 3,
                ("minecraft", "refused"): 1,
            },
            targets=5,
            in_flight=2,
        )

    def start(self) -> None:
        return None

    async def close(self) -> None:
        return None


async def _scrape(tmp_path: Path, *, enabled: bool) -> list[str]:
    sections = {
        "pterodactyl": {"url": "http://127.0.0.1:9"},
        "discord": {"locations_file": str(tmp_path / "locations.json")},
        "history": {"url": "none"},
        "query": {"enabled": "true" if enabled else "false"},
    }
    env = {"DISCORD_TOKEN": BOT_TOKEN, "PTERODACTYL_API_KEY": "ptlc_" + "k" * 43}
    bot = build_bot(settings_from_sections(sections, env=env, base_dir=tmp_path), extensions=())
    if enabled:
        bot.services.players = CountedQueries()
    try:
        collector = BotCollector(bot.services, GatewayWatch(bot), None, CollectorRegistry())
        return collector.read().render().decode().splitlines()
    finally:
        await bot.services.api.close()
        await bot.close()


async def test_query_counters_by_protocol_and_outcome(tmp_path: Path) -> None:
    lines = await _scrape(tmp_path, enabled=True)
    assert [line for line in lines if line.startswith("pterodisbot_game_")] == [
        'pterodisbot_game_queries_total{outcome="ok",protocol="minecraft"} 40.0',
        'pterodisbot_game_queries_total{outcome="refused",protocol="minecraft"} 1.0',
        'pterodisbot_game_queries_total{outcome="timeout",protocol="source"} 3.0',
        "pterodisbot_game_query_targets 5.0",
        "pterodisbot_game_queries_in_flight 2.0",
    ]


async def test_no_query_series_while_queries_are_off(tmp_path: Path) -> None:
    assert [line for line in await _scrape(tmp_path, enabled=False) if "game_quer" in line] == []
