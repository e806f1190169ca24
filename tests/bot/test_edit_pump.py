"""The edit pump paces edits per channel and sends only the newest edit of a message."""

from __future__ import annotations

import itertools

import pytest

from pterodisbot.bot.edit_pump import EditPump, GlobalPacer
from pterodisbot.clock import FakeClock
from tests.bot.rates import most_in_one_second
from tests.fixtures.discord import poll_until


async def test_edits_in_one_channel_are_spaced_by_the_interval() -> None:
    clock = FakeClock(autojump=0.001)
    pump = EditPump(interval=1.0, clock=clock)
    sent_at: list[tuple[int, float]] = []

    def job(message_id: int):
        async def run() -> None:
            sent_at.append((message_id, clock.monotonic()))

        return run

    for message_id in range(5):
        pump.submit(42, message_id, job(message_id))
    await pump.drain()
    assert [m for m, _ in sent_at] == [0, 1, 2, 3, 4]
    gaps = [b - a for (_, a), (_, b) in itertools.pairwise(sent_at)]
    assert all(gap >= 1.0 for gap in gaps)
    await pump.close()


async def test_repeated_edits_of_one_message_coalesce_and_the_newest_wins() -> None:
    clock = FakeClock(autojump=0.001)
    pump = EditPump(interval=1.0, clock=clock)
    sent: list[str] = []

    def job(label: str):
        async def run() -> None:
            sent.append(label)

        return run

    pump.submit(1, 100, job("first message"))  # goes out at once
    pump.submit(1, 200, job("old"))
    pump.submit(1, 200, job("newer"))
    pump.submit(1, 200, job("newest"))
    await pump.drain()
    assert sent == ["first message", "newest"]
    assert pump.stats.coalesced == 2
    assert pump.stats.sent == 2
    await pump.close()


class SleepWatchingClock(FakeClock):
    """A FakeClock that records every wait asked of it, so a test sees who is waiting."""

    def __init__(self) -> None:
        super().__init__()
        self.waits: list[float] = []

    async def sleep(self, seconds: float) -> None:
        """Record the wait, then sleep on the fake clock."""
        self.waits.append(seconds)
        await super().sleep(seconds)


async def test_channels_do_not_wait_for_each_other() -> None:
    clock = SleepWatchingClock()
    pump = EditPump(interval=5.0, clock=clock)
    sent: list[int] = []

    def job(channel: int):
        async def run() -> None:
            sent.append(channel)

        return run

    pump.submit(1, 10, job(1))
    pump.submit(1, 11, job(1))
    pump.submit(2, 20, job(2))

    async def both_sent_and_one_waits() -> bool:
        return sorted(sent) == [1, 2] and bool(clock.waits)

    await poll_until(
        both_sent_and_one_waits, within=2, what="each channel's first edit, then a paced wait"
    )
    # Without advancing the clock, each channel sent its first edit; channel 1's second waits
    # out the interval (the only sleeper: channel 2 has nothing left to send).
    assert clock.waits == [5.0]
    assert sorted(sent) == [1, 2]
    assert pump.pending(1) == 1
    clock.advance(5.0)
    await pump.drain()
    assert sent.count(1) == 2
    await pump.close()


async def test_a_failing_edit_does_not_stop_the_channel() -> None:
    clock = FakeClock(autojump=0.001)
    pump = EditPump(interval=0.5, clock=clock)
    sent: list[int] = []

    async def broken() -> None:
        raise RuntimeError("message deleted")

    async def fine() -> None:
        sent.append(2)

    pump.submit(7, 1, broken)
    pump.submit(7, 2, fine)
    await pump.drain()
    assert sent == [2]
    assert pump.stats.failed == 1
    await pump.close()


async def test_edits_due_at_once_in_many_channels_keep_under_the_global_rate() -> None:
    # 300 embeds in 100 channels, all due now: per channel only 3 (well inside its bucket), in
    # all 100 at the first instant without a global pace — twice Discord's 50 per second.
    clock = FakeClock(autojump=0.001)
    pump = EditPump(interval=1.1, clock=clock)
    sent_at: list[float] = []

    async def edit() -> None:
        sent_at.append(clock.monotonic())

    for channel in range(100):
        for message in range(3):
            pump.submit(channel, channel * 10 + message, edit)
    await pump.drain()

    assert len(sent_at) == 300
    # 5 at once, then one every 1/40 s: 44 in [0 s, 1 s), never more in any later second.
    assert most_in_one_second(sent_at) == 44
    assert max(sent_at) == pytest.approx((300 - 5) / 40)
    await pump.close()


async def test_a_lone_channel_is_not_slowed_by_the_global_pace() -> None:
    clock = SleepWatchingClock()
    pump = EditPump(interval=1.0, clock=clock)
    sent: list[int] = []

    async def edit() -> None:
        sent.append(1)

    pump.submit(1, 10, edit)
    await poll_until(lambda: _sent(sent, 1), within=2, what="the edit of an idle pump")
    # Sent without any wait on the fake clock: the global bucket starts full.
    assert clock.waits == []
    assert pump.pacer.waited == 0
    await pump.close()


async def _sent(sent: list[int], count: int) -> bool:
    return len(sent) == count


def test_the_global_pacer_reserves_slots_in_arrival_order() -> None:
    clock = FakeClock()
    pacer = GlobalPacer(rate=10.0, burst=2, clock=clock)
    waits = [pacer.reserve() for _ in range(5)]
    assert waits == pytest.approx([0.0, 0.0, 0.1, 0.2, 0.3])
    clock.advance(1.0)
    # A second later the debt (3 slots) is paid and 7 tokens came back, but at most 2 are kept.
    assert [pacer.reserve() for _ in range(3)] == pytest.approx([0.0, 0.0, 0.1])
