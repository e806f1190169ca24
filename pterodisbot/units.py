"""Format sizes, rates, durations and CPU figures the way the embeds show them."""

from __future__ import annotations

import math
from typing import Final

KIB: Final = 1024
MIB: Final = 1024**2
GIB: Final = 1024**3

_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")


def format_bytes(n: float) -> str:
    """Format a byte count in binary units with three significant digits ("1.50 GiB")."""
    if not math.isfinite(n):
        return "?"
    if n < 0:
        return "-" + format_bytes(-n)
    if n < 1024:
        return f"{round(n)} B"
    value = float(n)
    unit = 0
    while value >= 1024 and unit < len(_UNITS) - 1:
        value /= 1024
        unit += 1
    text = _three_digits(value)
    # 1023.7 MiB would print as "1024 MiB": say "1.00 GiB" instead.
    if text == "1024" and unit < len(_UNITS) - 1:
        return f"1.00 {_UNITS[unit + 1]}"
    return f"{text} {_UNITS[unit]}"


def format_bytes_compact(n: float) -> str:
    """Format a byte count as `format_bytes` does, without trailing zeros ("4 GiB", "1.5 GiB")."""
    text = format_bytes(n)
    number, space, unit = text.partition(" ")
    if not space or "." not in number:
        return text
    return f"{number.rstrip('0').rstrip('.')} {unit}"


def format_rate(bytes_per_second: float) -> str:
    """Format a transfer rate in binary units per second ("300 KiB/s")."""
    return format_bytes(max(0.0, bytes_per_second)) + "/s"


def format_uptime(ms: float) -> str:
    """Format an uptime in milliseconds as days, hours and minutes ("2d 4h 13m", "45s")."""
    seconds = max(0, int(ms // 1000)) if math.isfinite(ms) else 0
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h {minutes}m"
    if hours:
        return f"{hours}h {minutes}m"
    if minutes:
        return f"{minutes}m"
    return f"{secs}s"


def format_span(seconds: float) -> str:
    """Format a time span for a label: whole hours in h, else minutes, else seconds ("6 h")."""
    if seconds >= 3600 and seconds % 3600 == 0:
        return f"{seconds / 3600:g} h"
    if seconds >= 60:
        return f"{seconds / 60:g} min"
    return f"{seconds:g} s"


def format_percent(value: float) -> str:
    """Format a percentage without noise: one decimal below 100, whole numbers above ("57.3 %")."""
    if not math.isfinite(value):
        return "? %"
    if abs(round(value, 1)) >= 100:
        return f"{round(value)} %"
    return f"{value:.1f} %"


def format_cores(cpu_percent: float) -> str:
    """Format a CPU percentage of one core as a number of cores ("2 cores", "0.5 cores")."""
    cores = cpu_percent / 100
    text = f"{cores:.1f}".removesuffix(".0")
    return f"{text} core" if text == "1" else f"{text} cores"


def format_cpu(cpu_percent: float, limit_percent: float) -> str:
    """Format CPU use (% of one core) against the server's limit ("114 % of 200 %").

    The panel counts CPU in percent of one core, so a limit of 200 % means two cores. A limit
    of 0 means unlimited; then the figure is also given in cores, which is what people compare
    to their machine ("250 % (unlimited, 2.5 cores)").
    """
    if limit_percent > 0:
        return f"{format_percent(cpu_percent)} of {format_percent(limit_percent)}"
    return f"{format_percent(cpu_percent)} (unlimited, {format_cores(cpu_percent)})"


def _three_digits(value: float) -> str:
    # Compare the rounded value so 9.999 becomes "10.0", not "10.00".
    if round(value, 2) < 10:
        return f"{value:.2f}"
    if round(value, 1) < 100:
        return f"{value:.1f}"
    return f"{value:.0f}"
