"""The rate budget: never more than the limit in any minute, corrected by the panel's headers."""

from __future__ import annotations

import asyncio

import pytest

from pterodisbot.clock import FakeClock
from pterodisbot.panel.budget import RateBudget


async def spend(budget: RateBudget, clock: FakeClock, count: int) -> list[float]:
    """Acquire `count` tokens one after another; return when each was granted."""
    granted = []
    for _ in range(count):
        await budget.acquire()
        granted.append(clock.monotonic())
    return granted


def most_in_any_minute(times: list[float]) -> int:
    return max(sum(1 for u in times if t <= u < t + 60.0) for t in times)


async def test_full_bucket_allows_a_burst_then_waits_for_the_minute_to_pass() -> None:
    clock = FakeClock(autojump=0.001)
    budget = RateBudget(10, clock=clock)

    granted = await spend(budget, clock, 11)

    assert granted[:10] == [0.0] * 10
    assert granted[10] >= 60.0
    assert budget.capacity == 10


async def test_never_more_than_the_limit_in_any_sixty_seconds() -> None:
    clock = FakeClock(autojump=0.001)
    budget = RateBudget(30, clock=clock)
    granted: list[float] = []

    async def caller(pause: float) -> None:
        for _ in range(25):
            await budget.acquire()
            granted.append(clock.monotonic())
            await clock.sleep(pause)

    await asyncio.gather(caller(0.5), caller(1.3), caller(2.1), caller(3.7))

    assert len(granted) == 100
    assert most_in_any_minute(granted) <= 30
    # Over the long run it still delivers close to the limit (tokens return after 61 s).
    assert granted[-1] < 4 * 61.0


async def test_remaining_counts_down_and_recovers() -> None:
    clock = FakeClock()
    budget = RateBudget(5, clock=clock)

    await spend(budget, clock, 3)
    assert budget.remaining == 2

    clock.advance(61.0)
    assert budget.remaining == 5


async def test_lower_panel_limit_shrinks_the_budget_but_a_higher_one_does_not_grow_it() -> None:
    clock = FakeClock()
    budget = RateBudget(720, clock=clock)

    budget.observe(limit=60, remaining=59)
    assert budget.capacity == 60

    budget.observe(limit=10_000, remaining=9_999)
    assert budget.capacity == 720


async def test_requests_by_another_client_on_the_same_key_are_charged() -> None:
    clock = FakeClock(autojump=0.001)
    budget = RateBudget(100, clock=clock)
    await budget.acquire()

    # The panel says only 20 are left: someone else spent 79 of this minute's 100.
    budget.observe(limit=100, remaining=20)

    assert budget.remaining == 20
    granted = await spend(budget, clock, 21)
    assert granted[:20] == [0.0] * 20
    assert granted[20] >= 60.0


async def test_charge_for_other_clients_ends_when_the_panels_window_resets() -> None:
    clock = FakeClock(autojump=0.001)
    budget = RateBudget(10, clock=clock)

    # A 429: nothing left, and the panel's window resets in 20 s.
    budget.observe(limit=10, remaining=0, retry_after=20.0)

    granted = await spend(budget, clock, 10)
    assert granted == [pytest.approx(20.0)] * 10


async def test_retry_after_blocks_every_token_until_it_has_passed() -> None:
    clock = FakeClock(autojump=0.001)
    budget = RateBudget(100, clock=clock)

    budget.observe(retry_after=30.0)

    assert budget.remaining == 0
    await budget.acquire()
    assert clock.monotonic() == pytest.approx(30.0)


async def test_waiters_are_served_in_arrival_order() -> None:
    clock = FakeClock(autojump=0.001)
    budget = RateBudget(1, clock=clock)
    order: list[int] = []

    async def waiter(n: int) -> None:
        await budget.acquire()
        order.append(n)

    tasks = []
    for n in range(4):
        tasks.append(asyncio.create_task(waiter(n)))
        await asyncio.sleep(0)
    await asyncio.gather(*tasks)

    assert order == [0, 1, 2, 3]
    assert clock.monotonic() >= 3 * 60.0


async def test_cancelled_waiter_does_not_take_a_token() -> None:
    clock = FakeClock()
    budget = RateBudget(1, clock=clock)
    await budget.acquire()

    waiter = asyncio.create_task(budget.acquire())
    await asyncio.sleep(0)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter

    clock.advance(61.0)
    assert budget.remaining == 1


def test_budget_needs_at_least_one_request_per_minute() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        RateBudget(0)
