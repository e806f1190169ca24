"""The fake clock wakes sleepers in order and only when time passes."""

from __future__ import annotations

import asyncio

from pterodisbot.clock import FakeClock


async def test_fake_clock_wakes_sleepers_only_when_advanced_past_their_deadline() -> None:
    clock = FakeClock()
    woke: list[str] = []

    async def sleeper(name: str, seconds: float) -> None:
        await clock.sleep(seconds)
        woke.append(name)

    tasks = [asyncio.create_task(sleeper("late", 5)), asyncio.create_task(sleeper("early", 1))]
    await asyncio.sleep(0)
    clock.advance(0.5)
    await asyncio.sleep(0)
    assert woke == []
    clock.advance(1)
    await asyncio.sleep(0)
    assert woke == ["early"]
    clock.advance(10)
    await asyncio.gather(*tasks)
    assert woke == ["early", "late"]
    assert clock.monotonic() == 11.5


async def test_autojump_runs_a_minute_of_simulated_time_without_waiting_a_minute() -> None:
    clock = FakeClock(autojump=0.001)
    ticks = 0
    for _ in range(60):
        await clock.sleep(1)
        ticks += 1
    assert ticks == 60
    assert clock.monotonic() == 60
