"""Count requests the way Discord's global limit does: any window of one second."""

from __future__ import annotations


def most_in_one_second(times: list[float]) -> int:
    """Return the most of `times` inside any window [t, t + 1 s)."""
    ordered = sorted(times)
    most = 0
    start = 0
    for end, t in enumerate(ordered):
        while ordered[start] <= t - 1.0 + 1e-9:
            start += 1
        most = max(most, end - start + 1)
    return most
