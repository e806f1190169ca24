"""The compact forms of `pterodisbot.units` that graph labels use (one copy of each format)."""

from __future__ import annotations

import pytest

from pterodisbot.units import GIB, KIB, MIB, format_bytes_compact, format_span


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (4 * GIB, "4 GiB"),
        (1.5 * GIB, "1.5 GiB"),
        (10 * GIB, "10 GiB"),
        (3000 * MIB, "2.93 GiB"),
        (512 * MIB, "512 MiB"),
        (2 * KIB, "2 KiB"),
        (100, "100 B"),
        # A panel limit of 1000 MiB: the graph used to print "1e+03 MiB".
        (1000 * MIB, "1000 MiB"),
        (float("nan"), "?"),
    ],
)
def test_compact_bytes_drop_trailing_zeros_only(value: float, text: str) -> None:
    assert format_bytes_compact(value) == text


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (30, "30 s"),
        (120, "2 min"),
        (900, "15 min"),
        (5400, "90 min"),
        (3600, "1 h"),
        (86_400, "24 h"),
    ],
)
def test_spans_use_whole_hours_else_minutes_else_seconds(seconds: float, text: str) -> None:
    assert format_span(seconds) == text
