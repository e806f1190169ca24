"""Units read the way an operator reads them: binary bytes, rates, uptime, CPU against a limit."""

from __future__ import annotations

import pytest

from pterodisbot.units import (
    format_bytes,
    format_cpu,
    format_percent,
    format_rate,
    format_uptime,
)

MIB = 1024 * 1024
GIB = 1024 * MIB


@pytest.mark.parametrize(
    ("size", "text"),
    [
        (0, "0 B"),
        (1023, "1023 B"),
        (1024, "1.00 KiB"),
        (10.5 * MIB, "10.5 MiB"),
        (512 * MIB, "512 MiB"),
        (1536 * MIB, "1.50 GiB"),
        (GIB - 1, "1.00 GiB"),
        (9.999 * GIB, "10.0 GiB"),
        (3 * 1024 * GIB, "3.00 TiB"),
    ],
)
def test_byte_counts_use_binary_units_with_three_digits(size: float, text: str) -> None:
    assert format_bytes(size) == text


def test_rates_never_go_negative() -> None:
    assert format_rate(300 * 1024) == "300 KiB/s"
    assert format_rate(-5) == "0 B/s"


@pytest.mark.parametrize(
    ("ms", "text"),
    [
        (0, "0s"),
        (45_999, "45s"),
        (13 * 60_000, "13m"),
        (3 * 3_600_000, "3h 0m"),
        (((2 * 24 + 4) * 60 + 13) * 60_000, "2d 4h 13m"),
    ],
)
def test_uptime_reads_as_days_hours_minutes(ms: int, text: str) -> None:
    assert format_uptime(ms) == text


def test_cpu_text_against_limit_and_unlimited() -> None:
    assert format_cpu(114.6, 200) == "115 % of 200 %"
    assert format_cpu(5.04, 100) == "5.0 % of 100 %"
    assert format_cpu(100.0, 0) == "100 % (unlimited, 1 core)"
    assert format_cpu(55.0, 0) == "55.0 % (unlimited, 0.6 cores)"
    assert format_percent(99.96) == "100 %"
