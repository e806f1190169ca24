"""Log a lasting condition once, remind of it now and then with a count, and log its end.

A server that is installing answers every poll with a 409, one on a node that is down with a
504: a line per poll would bury everything else an operator needs to see (with 200 servers, four
lines a second). `ConditionLog` says a condition when it starts or changes, "still ..." at most
every `repeat` seconds with the number of polls, and "readable again" once when it ends.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Final

from pterodisbot.clock import Clock
from pterodisbot.units import format_uptime

# A reminder at most this often while a condition lasts: a few per hour, never a scroll.
DEFAULT_REPEAT: Final = 300.0
# Characters a condition may take in a line: with the subject and the log's time and level, a
# line stays under about 160 characters.
CONDITION_LIMIT: Final = 48
_ELLIPSIS: Final = "…"


def shorten(text: str, limit: int) -> str:
    """Return `text` on one line, cut to `limit` characters with an ellipsis."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + _ELLIPSIS


@dataclass(slots=True)
class _Open:
    """A condition that has been said and has not ended yet."""

    condition: str
    level: int
    since: float
    said_at: float
    polls: int


class ConditionLog:
    """Log each subject's change of condition once, reminders with a count, and the end."""

    def __init__(
        self,
        logger: logging.Logger,
        *,
        clock: Clock,
        repeat: float = DEFAULT_REPEAT,
        ended: str = "readable again",
    ) -> None:
        self._log = logger
        self._clock = clock
        self.repeat = repeat
        self._ended = ended
        self._open: dict[str, _Open] = {}

    def observe(
        self,
        key: str,
        condition: str | None,
        *,
        subject: str | None = None,
        level: int = logging.WARNING,
    ) -> bool:
        """Note one poll of `key`: its condition in words, or None when it is fine.

        `subject` names it in the lines (default: the key). Return True if a line was logged.
        The condition's words are its identity: the same words for the same condition, no
        counters or times in them.
        """
        now = self._clock.monotonic()
        current = self._open.get(key)
        subject = subject if subject is not None else key
        if condition is None:
            if current is None:
                return False
            del self._open[key]
            self._log.info(
                "%s: %s after %s (%d polls: %s)",
                subject,
                self._ended,
                _duration(now - current.since),
                current.polls,
                current.condition,
            )
            return True
        condition = shorten(condition, CONDITION_LIMIT)
        if current is None or current.condition != condition:
            self._open[key] = _Open(condition, level, since=now, said_at=now, polls=1)
            self._log.log(level, "%s: %s", subject, condition)
            return True
        current.polls += 1
        if now - current.said_at < self.repeat:
            return False
        current.said_at = now
        self._log.log(
            current.level,
            "%s: still %s (%d polls in %s)",
            subject,
            condition,
            current.polls,
            _duration(now - current.since),
        )
        return True

    def forget(self, key: str) -> None:
        """Drop what is known of `key` without a line (it is no longer watched)."""
        self._open.pop(key, None)


def _duration(seconds: float) -> str:
    return format_uptime(seconds * 1000)
