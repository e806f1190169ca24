"""The Wings client's pure parts: frames, stats, token expiry, backoff and the token pacer."""

from __future__ import annotations

import asyncio
import base64
import json
import random

import pytest

from pterodisbot.clock import FakeClock
from pterodisbot.panel.models import PowerState, Resources
from pterodisbot.panel.wings import (
    BACKOFF_CAP,
    TokenPacer,
    WingsFrameError,
    backoff_delay,
    frame_event,
    parse_frame,
    parse_stats,
    refresh_delay,
    stats_state,
    token_expiry,
)

STATS = {
    "memory_bytes": 536870912,
    "memory_limit_bytes": 1073741824,
    "cpu_absolute": 37.5,
    "network": {"rx_bytes": 1000, "tx_bytes": 2000},
    "uptime": 61000,
    "state": "running",
    "disk_bytes": 3000,
}


def stats_frame(stats: dict[str, object], *, compact: bool = True) -> str:
    """Return a stats frame as Wings (Go, compact) or a Python server (spaced) writes it."""
    separators = (",", ":") if compact else (", ", ": ")
    inner = json.dumps(stats, separators=separators)
    return json.dumps({"event": "stats", "args": [inner]}, separators=separators)


def jwt(claims: dict[str, object]) -> str:
    """Return an unsigned-looking JWT carrying `claims`."""

    def part(data: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    return f"{part({'alg': 'HS256', 'typ': 'JWT'})}.{part(claims)}.c2lnbmF0dXJl"


@pytest.mark.parametrize("compact", [True, False])
def test_a_stats_frame_becomes_resources(compact: bool) -> None:
    assert parse_stats(stats_frame(STATS, compact=compact)) == Resources(
        state=PowerState.RUNNING,
        is_suspended=False,
        memory_bytes=536870912,
        cpu_absolute=37.5,
        disk_bytes=3000,
        network_rx_bytes=1000,
        network_tx_bytes=2000,
        uptime_ms=61000,
    )


@pytest.mark.parametrize("compact", [True, False])
def test_the_state_of_a_stats_frame_is_read_without_decoding_it(compact: bool) -> None:
    frame = stats_frame({**STATS, "state": "stopping"}, compact=compact)
    assert stats_state(frame) is PowerState.STOPPING


def test_the_event_name_is_read_from_the_first_bytes() -> None:
    console = json.dumps({"event": "console output", "args": ['{"state":"running"} not json']})
    assert frame_event(console) == "console output"
    assert frame_event(stats_frame(STATS)) == "stats"
    # Another field order needs a full decode: the cheap read says so rather than guess.
    assert frame_event('{"args": [], "event": "stats"}') is None
    assert parse_frame('{"args": ["x"], "event": "status"}').args == ("x",)


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        '{"event": 3}',
        '{"event": "stats", "args": "x"}',
        json.dumps({"event": "stats", "args": ["{not json"]}),
        stats_frame({**STATS, "state": "exploding"}),
        stats_frame({**STATS, "memory_bytes": "many"}),
    ],
)
def test_an_unreadable_stats_frame_is_an_error(text: str) -> None:
    with pytest.raises(WingsFrameError):
        parse_stats(text)


def test_a_tokens_expiry_is_read_from_its_payload() -> None:
    assert token_expiry(jwt({"exp": 1_700_000_600, "iat": 1_700_000_000})) == 1_700_000_600.0
    assert token_expiry(jwt({"iat": 1})) is None
    assert token_expiry("opaque-token") is None
    assert token_expiry("a.%%%.c") is None


def test_a_token_is_renewed_at_80_to_90_percent_of_its_life() -> None:
    rng = random.Random(7)
    delays = [refresh_delay(1000.0, 1600.0, rng) for _ in range(500)]
    assert all(d is not None and 480.0 <= d <= 540.0 for d in delays)
    assert refresh_delay(1000.0, None, rng) is None
    assert refresh_delay(1000.0, 900.0, rng) == 0.0


def test_backoff_doubles_is_jittered_and_capped() -> None:
    rng = random.Random(3)
    first = [backoff_delay(0, rng) for _ in range(200)]
    third = [backoff_delay(2, rng) for _ in range(200)]
    late = [backoff_delay(30, rng) for _ in range(200)]
    assert min(first) >= 0.5
    assert max(first) <= 1.0
    assert min(third) >= 2.0
    assert max(third) <= 4.0
    assert min(late) >= BACKOFF_CAP / 2
    assert max(late) <= BACKOFF_CAP
    assert len(set(third)) == 200  # jittered: no two reconnects of a fleet at once


async def test_the_pacer_spaces_token_requests_at_half_the_budget() -> None:
    clock = FakeClock()
    pacer = TokenPacer(lambda: 120, share=0.5, clock=clock)
    times: list[float] = []

    async def one() -> None:
        await pacer.acquire()
        times.append(clock.monotonic())

    tasks = [asyncio.create_task(one()) for _ in range(10)]
    while not all(task.done() for task in tasks):
        for _ in range(5):
            await asyncio.sleep(0)
        deadline = clock.next_deadline()
        if deadline is not None:
            clock.advance_to(deadline)
    await asyncio.gather(*tasks)
    # 60 a minute: one a second, the first at once.
    assert sorted(round(t, 2) for t in times) == [float(i) for i in range(10)]
