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


async def test_next_deadline_is_the_earliest_sleeper_still_waiting() -> None:
    clock = FakeClock()
    assert clock.next_deadline() is None
    late = asyncio.create_task(clock.sleep(5))
    early = asyncio.create_task(clock.sleep(2))
    await asyncio.sleep(0)
    assert clock.next_deadline() == 2
    early.cancel()
    await asyncio.gather(early, return_exceptions=True)
    # A cancelled sleep no longer counts: the bench steps straight to the next real deadline.
    assert clock.next_deadline() == 5
    clock.advance_to(5)
    await late
    assert clock.next_deadline() is None
