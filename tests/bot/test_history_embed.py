"""The `/server_history` embed: uptime with unknown time, averages and peaks, outages, limits."""

from __future__ import annotations

import dataclasses

import discord
import pytest

from pterodisbot.bot.history_embed import build_history_embed
from pterodisbot.store import (
    WINDOWS,
    HistoryPoint,
    HistorySeries,
    StateChange,
    StateSeconds,
    Uptime,
)
from pterodisbot_sandbox.discord_rules import validate_message_payload
from tests.snapshots import MIB, T0, make_server

GIB = 1024 * MIB
DAY = 86_400


def bucket(
    t: float, *, cpu: tuple[float, float], memory: tuple[int, int], live: int = 6
) -> HistoryPoint:
    """A running minute bucket with (avg, max) CPU and memory."""
    return HistoryPoint(
        t=t,
        live_samples=live,
        cpu_avg=cpu[0],
        cpu_min=cpu[0] / 2,
        cpu_max=cpu[1],
        memory_avg=float(memory[0]),
        memory_min=memory[0] // 2,
        memory_max=memory[1],
        disk_bytes=GIB,
        rx_rate=0.0,
        tx_rate=0.0,
        seconds=StateSeconds(running_s=60),
    )


def offline_bucket(t: float) -> HistoryPoint:
    return HistoryPoint(
        t, 0, None, None, None, None, None, None, GIB, None, None, StateSeconds(offline_s=60)
    )


SERIES = HistorySeries(
    "1a2b3c4d",
    T0 - DAY,
    T0,
    60,
    (
        bucket(T0 - 600, cpu=(40.0, 90.0), memory=(1 * GIB, 2 * GIB), live=6),
        offline_bucket(T0 - 540),
        # Twice the samples: weighs twice in the averages.
        bucket(T0 - 480, cpu=(100.0, 150.0), memory=(2 * GIB, 3 * GIB), live=12),
    ),
)
CHANGES = (
    StateChange("1a2b3c4d", T0 - 3000, None, "running"),
    StateChange("1a2b3c4d", T0 - 2000, "running", "offline"),  # a crash
    StateChange("1a2b3c4d", T0 - 1900, "offline", "starting"),
    StateChange("1a2b3c4d", T0 - 1800, "starting", "running"),
    StateChange("1a2b3c4d", T0 - 1500, "running", "unknown"),  # the panel went away: not a down
    StateChange("1a2b3c4d", T0 - 1400, "unknown", "offline"),  # not seen going down: not counted
    StateChange("1a2b3c4d", T0 - 1300, "offline", "starting"),
    StateChange("1a2b3c4d", T0 - 1200, "starting", "offline"),  # failed to start
    StateChange("1a2b3c4d", T0 - 1100, "offline", "stopping"),
    StateChange("1a2b3c4d", T0 - 1000, "stopping", "offline"),  # a stop
)


def fields_of(embed: discord.Embed) -> dict[str, str]:
    return {str(field.name): str(field.value) for field in embed.fields}


def history_embed(
    uptime: Uptime,
    *,
    series: HistorySeries = SERIES,
    name: str = "Survival SMP",
    cpu_limit: int = 200,
    memory_limit: int = 4096,
) -> discord.Embed:
    server = make_server(name=name, cpu=cpu_limit, memory=memory_limit)
    return build_history_embed(
        server,
        WINDOWS["24h"],
        series,
        uptime,
        CHANGES,
        graph_filename="history.png",
        now=T0,
    )


def uptime(running: float, offline: float = 0.0, unknown: float = 0.0) -> Uptime:
    return Uptime(running, 0.0, 0.0, offline, unknown)


def test_title_fields_and_graph_of_a_day() -> None:
    embed = history_embed(uptime(DAY - 3 * 3600 - 700, offline=700, unknown=3 * 3600))
    assert embed.title == "Survival SMP — last 24 h"
    assert fields_of(embed) == {
        "Uptime": "99.0 % · 3 h unknown",
        "Went down": "3 times",
        "CPU": "avg 80.0 % of 200 %\npeak 150 % of 200 %",
        "Memory": "avg 1.67 GiB / 4.00 GiB\npeak 3.00 GiB / 4.00 GiB",
    }
    assert embed.image.url == "attachment://history.png"


def with_players(point: HistoryPoint, average: float, peak: int, answered: int) -> HistoryPoint:
    return dataclasses.replace(
        point, players_avg=average, players_max=peak, players_samples=answered
    )


def test_players_are_averaged_over_the_answered_samples_with_their_peak() -> None:
    first, offline, last = SERIES.points
    # 2 answers averaging 5 and 6 averaging 9.5: (10 + 57) / 8 = 8.4, not (5 + 9.5) / 2.
    series = dataclasses.replace(
        SERIES, points=(with_players(first, 5.0, 9, 2), offline, with_players(last, 9.5, 23, 6))
    )

    fields = fields_of(history_embed(uptime(DAY), series=series))

    assert fields["Players"] == "average 8, peak 23"
    assert list(fields)[-1] == "Players"


def test_a_quiet_server_averages_under_one_player() -> None:
    first, offline, last = SERIES.points
    series = dataclasses.replace(SERIES, points=(with_players(first, 0.3, 1, 10), offline, last))

    assert fields_of(history_embed(uptime(DAY), series=series))["Players"] == "average 0.3, peak 1"


def test_uptime_without_any_known_time_says_no_data() -> None:
    empty = HistorySeries("1a2b3c4d", T0 - DAY, T0, 60, ())
    embed = history_embed(uptime(0.0, unknown=DAY), series=empty)
    fields = fields_of(embed)
    assert fields["Uptime"] == "no data"
    assert fields["CPU"] == fields["Memory"] == "no data"


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (uptime(DAY), "100 %"),
        (uptime(DAY - 1, offline=1), "99.9 %"),  # never rounded up to 100 %
        (uptime(DAY - 30, unknown=30), "100 %"),  # the bucket being filled is not worth a word
        (uptime(DAY / 2, offline=DAY / 2), "50.0 %"),
        (uptime(3600, unknown=DAY - 3600), "100 % · 23 h unknown"),
        (uptime(0, offline=3600, unknown=DAY + 4 * 3600), "0.0 % · 1 d 4 h unknown"),
    ],
)
def test_uptime_counts_unknown_time_as_neither_up_nor_down(value: Uptime, text: str) -> None:
    assert fields_of(history_embed(value))["Uptime"] == text


def test_unlimited_server_shows_cores_and_no_memory_limit() -> None:
    fields = fields_of(history_embed(uptime(DAY), cpu_limit=0, memory_limit=0))
    assert fields["CPU"] == ("avg 80.0 % (unlimited, 0.8 cores)\npeak 150 % (unlimited, 1.5 cores)")
    assert fields["Memory"] == "avg 1.67 GiB\npeak 3.00 GiB"


@pytest.mark.parametrize("name", ["x" * 300, "🐉" * 200, "Costs $5 *and* _more_"])
def test_any_name_fits_discords_limits(name: str) -> None:
    embed = history_embed(uptime(DAY - 60, offline=60), name=name)
    assert embed.title is not None
    assert embed.title.endswith(" — last 24 h")
    payload = {"embeds": [embed.to_dict()]}
    assert validate_message_payload(payload, attachment_filenames=["history.png"]) is None
