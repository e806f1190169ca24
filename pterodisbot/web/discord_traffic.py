"""Count every answer Discord gives the bot, 429s included, with an aiohttp trace.

discord.py waits out HTTP 429s inside `HTTPClient.request` and only logs them, so they never
reach our code. Its `http_trace` option hands our `aiohttp.TraceConfig` to the session it
creates, and the trace sees every response (REST and interaction callbacks), whatever the
log levels are.
"""

from __future__ import annotations

from collections import Counter
from types import SimpleNamespace

import aiohttp


class DiscordTraffic(aiohttp.TraceConfig):
    """An aiohttp trace that counts Discord responses by method and status."""

    def __init__(self) -> None:
        super().__init__()
        self._counts: Counter[tuple[str, int]] = Counter()
        self.on_request_end.append(self._ended)

    async def _ended(
        self,
        session: aiohttp.ClientSession,
        context: SimpleNamespace,
        params: aiohttp.TraceRequestEndParams,
    ) -> None:
        self._counts[(params.method, params.response.status)] += 1

    def snapshot(self) -> dict[tuple[str, int], int]:
        """Return the response counts keyed by (method, status)."""
        return dict(self._counts)

    @property
    def rate_limited(self) -> int:
        """Return how many answers were HTTP 429."""
        return sum(n for (_, status), n in self._counts.items() if status == 429)
