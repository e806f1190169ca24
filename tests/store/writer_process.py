"""A child process for the kill -9 test: writes batches and rolls them up until it is killed.

`python -m tests.store.writer_process KIND WHERE`: KIND is sqlite (WHERE a file) or postgresql
(WHERE a URL). Batch k holds ten minutes of three servers (`batch_samples(k)`); after each
commit it prints k, then runs `maintain` at that batch's end, so a kill lands in a write or in
a rollup.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from pterodisbot.config import HistoryURL, Secret
from pterodisbot.store import SampleRow, StateChange, open_store
from tests.store.reference import BASE, make_samples

SERVERS = ("alpha", "beta", "gamma")
BATCH_S = 600


def batch_samples(k: int) -> list[SampleRow]:
    """Return batch k's samples: ten minutes of every server, ten seconds apart."""
    rows: list[SampleRow] = []
    for j, server in enumerate(SERVERS):
        rows += make_samples(server, BASE + k * BATCH_S, BATCH_S // 10, seed=k * 7 + j)
    return rows


def batch_change(k: int) -> StateChange:
    """Return batch k's status change (one a batch, on alpha)."""
    return StateChange("alpha", BASE + k * BATCH_S + 1, "offline", "running")


def history_url(kind: str, where: str) -> HistoryURL:
    """Return the `[history] url` the arguments name."""
    if kind == "sqlite":
        return HistoryURL("sqlite", path=Path(where))
    return HistoryURL("postgresql", dsn=Secret(where))


async def main(kind: str, where: str) -> None:
    """Write batch after batch, printing each id once committed, rolling up after each."""
    store = open_store(history_url(kind, where))
    assert store is not None
    await store.open()
    k = 0
    while True:
        await store.write(batch_samples(k), [batch_change(k)])
        print(k, flush=True)
        await store.maintain(BASE + (k + 1) * BATCH_S + 130)
        k += 1


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
